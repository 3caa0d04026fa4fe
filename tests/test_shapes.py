"""``dsconv.functional.shapes``: output sizes and padding, checked against the framework definitions."""

from __future__ import annotations

import itertools
import math
import re

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from dsconv.functional import shapes


def raises(error, *parts):
    return pytest.raises(error, match=".*".join(re.escape(p) for p in parts))


def test_effective_kernel_size():
    assert [shapes.effective_kernel_size(k, d) for k, d in [(1, 1), (3, 1), (3, 2), (4, 3), (1, 5)]] == [1, 3, 5, 10, 1]


@pytest.mark.parametrize(("size", "kernel", "stride", "dilation"),
                         list(itertools.product([1, 5, 6, 7, 8], [1, 2, 3, 4, 5], [1, 2, 3], [1, 2])))
def test_same_padding_follows_tensorflow(size, kernel, stride, dilation):
    """TensorFlow: out = ceil(n / s); total = max((out - 1) * s + k_eff - n, 0); the odd pixel goes after."""
    before, after = shapes.same_padding(size, kernel, stride, dilation)
    k_eff = dilation * (kernel - 1) + 1
    total = max((math.ceil(size / stride) - 1) * stride + k_eff - size, 0)
    assert (before, after) == (total // 2, total - total // 2)
    out = shapes.conv_output_size((size,), (kernel,), (stride,), (dilation,), ((before, after),))
    assert out == (math.ceil(size / stride),)


def test_same_padding_asymmetric_examples():
    assert shapes.same_padding(8, 3, 2, 1) == (0, 1)  # stride 2, even size: the extra pixel after
    assert shapes.same_padding(7, 3, 2, 1) == (1, 1)
    assert shapes.same_padding(5, 4, 1, 1) == (1, 2)  # even kernel, stride 1
    assert shapes.same_padding(4, 1, 3, 1) == (0, 0)


# torch warns that it copies the input for an even kernel: a performance note, irrelevant here.
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
@pytest.mark.parametrize(("kernel", "dilation"), [(2, 1), (3, 1), (4, 2), (4, 1), (5, 1)])
def test_same_padding_stride_1_matches_torch_padding_same(kernel, dilation):
    x = torch.arange(9.0).reshape(1, 1, 9)
    w = torch.randn(1, 1, kernel)
    pads = shapes.same_padding(9, kernel, 1, dilation)
    expected = F.conv1d(x, w, padding="same", dilation=dilation)
    torch.testing.assert_close(F.conv1d(F.pad(x, pads), w, dilation=dilation), expected)


@pytest.mark.parametrize(("padding", "n", "expected"), [
    (0, 2, ((0, 0), (0, 0))),
    (2, 3, ((2, 2),) * 3),
    ((1, 2), 2, ((1, 1), (2, 2))),
    (((0, 1), (2, 3)), 2, ((0, 1), (2, 3))),
    (((1, 0),), 1, ((1, 0),)),
    ([[1, 2]], 1, ((1, 2),)),
    ("valid", 2, "valid"),
    ("same", 3, "same"),
    ("causal", 1, "causal"),
])
def test_normalize_padding_forms(padding, n, expected):
    assert shapes.normalize_padding(padding, n) == expected


@pytest.mark.parametrize(("padding", "n", "error", "parts"), [
    ("full", 2, ValueError, ("`padding` must be an int, a tuple, or one of", "Received padding='full'")),
    ("causal", 2, ValueError, ("`padding`='causal' is only defined for 1D convolutions", "for 2D")),
    (-1, 2, ValueError, ("`padding` entries must be non-negative (>= 0). Received padding=-1",)),
    ((1, 2, 3), 2, ValueError, ("`padding` must be an int or a tuple of 2 ints. Received padding=(1, 2, 3)",)),
    (((1, 2, 3), (0, 0)), 2, ValueError, ("`padding` pairs must be (before, after)",)),
    (((1, -2), (0, 0)), 2, ValueError, ("`padding` entries must be non-negative (>= 0)",)),
    (((1, 2.5), (0, 0)), 2, TypeError, ("`padding` pairs must contain only ints", "Received padding=((1, 2.5), (0, 0))")),
    (None, 1, TypeError, ("'valid', 'same', 'causal'. Received padding=None",)),
    (1.5, 2, TypeError, ("`padding` must be an int, a tuple of 2 ints, a tuple of 2 (before, after) pairs",)),
    (True, 1, TypeError, ("`padding` must be an int", "Received padding=True")),
    (None, 1, TypeError, ("Received padding=None",)),
])
def test_normalize_padding_errors(padding, n, error, parts):
    with raises(error, *parts):
        shapes.normalize_padding(padding, n)


def test_normalize_padding_uses_the_given_name():
    with raises(ValueError, "`pad` entries must be non-negative (>= 0). Received pad=-3"):
        shapes.normalize_padding(-3, 1, name="pad")


def test_resolve_padding():
    assert shapes.resolve_padding("valid", (5, 5), (3, 3), (1, 1), (1, 1)) == ((0, 0), (0, 0))
    assert shapes.resolve_padding("same", (8, 7), (3, 3), (2, 2), (1, 1)) == ((0, 1), (1, 1))
    assert shapes.resolve_padding("causal", (10,), (3,), (2,), (2,)) == ((4, 0),)
    assert shapes.resolve_padding((1, 2), (5, 5), (3, 3), (1, 1), (1, 1)) == ((1, 1), (2, 2))


def test_conv_output_size_and_error():
    assert shapes.conv_output_size((7, 8), (3, 2), (2, 3), (1, 2), ((1, 1), (0, 2))) == (4, 3)
    with raises(ValueError, "`kernel_size` (dilated span 5 = dilation 2 x (kernel 3 - 1) + 1) must not exceed",
                "padded input size 4 (input 4 + padding 0+0) in spatial dimension 0"):
        shapes.conv_output_size((4,), (3,), (1,), (2,), ((0, 0),))


def test_conv_geometry():
    assert shapes.conv_geometry((7, 7), 3, stride=2, padding="same") == (((1, 1), (1, 1)), (4, 4))
    assert shapes.conv_geometry((10,), 3, padding="causal", dilation=2) == (((4, 0),), (10,))
    with raises(ValueError, "`input_size` entries must be positive (>= 1). Received input_size=(0, 3)"):
        shapes.conv_geometry((0, 3), 3)
    with raises(TypeError, "`input_size` must be an integer. Received input_size=2.0"):
        shapes.conv_geometry((2.0, 3), 3)
    with raises(ValueError, "`kernel_size` entries must be positive (>= 1). Received kernel_size=0"):
        shapes.conv_geometry((5, 5), 0)
    with raises(ValueError, "`stride` must be an int or a tuple of 2 ints. Received stride=(1, 1, 1)"):
        shapes.conv_geometry((5, 5), 3, stride=(1, 1, 1))


@settings(max_examples=40, deadline=None)
@given(size=st.integers(1, 30), kernel=st.integers(1, 6), stride=st.integers(1, 4), dilation=st.integers(1, 3),
       before=st.integers(0, 3), after=st.integers(0, 3))
def test_conv_output_size_matches_torch(size, kernel, stride, dilation, before, after):
    span = dilation * (kernel - 1) + 1
    if span > size + before + after:
        with raises(ValueError, "must not exceed the padded input size"):
            shapes.conv_geometry((size,), kernel, stride, ((before, after),), dilation)
        return
    x = torch.zeros(1, 1, size + before + after)
    expected = F.conv1d(x, torch.zeros(1, 1, kernel), stride=stride, dilation=dilation).shape[-1]
    assert shapes.conv_geometry((size,), kernel, stride, ((before, after),), dilation)[1] == (expected,)
