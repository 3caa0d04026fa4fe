"""Depthwise reference ops against PyTorch over grids of kernel x stride x padding x dilation x multiplier.

Forward is compared with ``torch.nn.functional.conv{1,2,3}d(groups=C)`` after an explicit ``F.pad`` (so
asymmetric "same" and per-side pairs are tested), backward with torch autograd, in float64 with a tight
tolerance. Both data formats are checked inside every case. The padding torch receives is computed
here from TensorFlow's documented rule, independently of ``dsconv.functional.shapes``.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dsconv import functional as D

RTOL, ATOL = 1e-10, 1e-12  # float64 against float64: only summation order differs

FORWARD = {1: D.depthwise_conv1d, 2: D.depthwise_conv2d, 3: D.depthwise_conv3d}
BACKWARD = {1: D.depthwise_conv1d_backward, 2: D.depthwise_conv2d_backward, 3: D.depthwise_conv3d_backward}
TORCH_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def expected_pads(padding, size, kernel, stride, dilation):
    """Per-dimension (before, after), re-derived from the TensorFlow / PyTorch / Keras definitions."""
    n = len(size)
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    if padding == "valid":
        return [(0, 0)] * n
    if padding == "causal":
        return [(spans[0] - 1, 0)]
    if padding == "same":  # tf.nn.convolution docs: out = ceil(n / s), the odd pixel goes after
        pads = []
        for n_i, span, s in zip(size, spans, stride):
            total = max((math.ceil(n_i / s) - 1) * s + span - n_i, 0)
            pads.append((total // 2, total - total // 2))
        return pads
    if isinstance(padding, int):
        return [(padding, padding)] * n
    if isinstance(padding[0], tuple):
        return list(padding)
    return [(p, p) for p in padding]


def as_tuple(value, n):
    return (value,) * n if isinstance(value, int) else tuple(value)


def torch_reference(x, weight, bias, stride, pads, dilation, groups, grad_out):
    """Forward and autograd gradients of torch's grouped conv, channels-first float64."""
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, weight, bias))
    flat_pads = [p for pair in reversed(pads) for p in pair]  # F.pad wants the last dimension first
    out = TORCH_CONV[x.ndim - 2](F.pad(tx, flat_pads), tw, tb, stride=stride, dilation=dilation, groups=groups)
    out.backward(torch.tensor(grad_out))
    return out.detach().numpy(), tx.grad.numpy(), tw.grad.numpy(), tb.grad.numpy()


def to_last(a):
    return np.ascontiguousarray(np.moveaxis(a, 1, -1))


def check_case(n, kernel, stride, padding, dilation, multiplier, size, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    kernel, stride, dilation = as_tuple(kernel, n), as_tuple(stride, n), as_tuple(dilation, n)
    x = rng.standard_normal((2, channels, *size))
    weight = rng.standard_normal((channels * multiplier, 1, *kernel))
    bias = rng.standard_normal(channels * multiplier)
    pads = expected_pads(padding, size, kernel, stride, dilation)
    out_shape = [
        (s + b + a - d * (k - 1) - 1) // st + 1 for s, (b, a), k, d, st in zip(size, pads, kernel, dilation, stride)
    ]
    grad_out = rng.standard_normal((2, channels * multiplier, *out_shape))
    ref = torch_reference(x, weight, bias, stride, pads, dilation, channels, grad_out)

    out = FORWARD[n](x, weight, bias, stride, padding, dilation)
    np.testing.assert_allclose(out, ref[0], rtol=RTOL, atol=ATOL)
    grads = BACKWARD[n](grad_out, x, weight, stride, padding, dilation)
    for got, want in zip(grads, ref[1:]):
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)

    out_last = FORWARD[n](to_last(x), weight, bias, stride, padding, dilation, data_format="channels_last")
    np.testing.assert_allclose(out_last, to_last(ref[0]), rtol=RTOL, atol=ATOL)
    gx, gw, gb = BACKWARD[n](to_last(grad_out), to_last(x), weight, stride, padding, dilation, data_format="channels_last")
    np.testing.assert_allclose(gx, to_last(ref[1]), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(gw, ref[2], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(gb, ref[3], rtol=RTOL, atol=ATOL)


def span(kernel, dilation):
    return dilation * (kernel - 1) + 1


# 2D: the full grid. Kernels (k, 8 - k) cover every size 1..7 in both dimensions, odd and even, square at 4.
PADDINGS_2D = [0, 2, (1, 0), ((0, 1), (2, 1)), "valid", "same"]


@pytest.mark.parametrize("multiplier", [1, 2])
@pytest.mark.parametrize("dilation", [1, 2, (1, 2)])
@pytest.mark.parametrize("padding", PADDINGS_2D, ids=str)
@pytest.mark.parametrize("stride", [1, 2, (2, 1)], ids=str)
@pytest.mark.parametrize("k", range(1, 8))
def test_depthwise_2d_grid(k, stride, padding, dilation, multiplier):
    kernel = (k, 8 - k)
    d = as_tuple(dilation, 2)
    # Sizes a little above the dilated span: odd and even sizes both occur across the grid.
    size = (span(kernel[0], d[0]) + 2, span(kernel[1], d[1]) + 1 + k % 2)
    check_case(2, kernel, stride, padding, dilation, multiplier, size)


@pytest.mark.parametrize("multiplier", [1, 3])
@pytest.mark.parametrize("dilation", [1, 2])
@pytest.mark.parametrize("padding", [0, 2, ((1, 3),), "valid", "same", "causal"], ids=str)
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 7])
def test_depthwise_1d_grid(k, stride, padding, dilation, multiplier):
    check_case(1, k, stride, padding, dilation, multiplier, (span(k, dilation) + 2 + k % 2,))


PADDINGS_3D = [0, (1, 0, 2), ((0, 1), (1, 0), (2, 1)), "valid", "same"]


@pytest.mark.parametrize("multiplier", [1, 2])
@pytest.mark.parametrize("dilation", [1, (1, 2, 1)], ids=str)
@pytest.mark.parametrize("padding", PADDINGS_3D, ids=str)
@pytest.mark.parametrize("stride", [1, 2, (1, 2, 3)], ids=str)
@pytest.mark.parametrize("kernel", [(1, 1, 1), (3, 2, 1), (2, 3, 3)], ids=str)
def test_depthwise_3d_grid(kernel, stride, padding, dilation, multiplier):
    d = as_tuple(dilation, 3)
    size = tuple(span(k, di) + 1 + i % 2 for i, (k, di) in enumerate(zip(kernel, d)))
    check_case(3, kernel, stride, padding, dilation, multiplier, size, channels=2)


@pytest.mark.parametrize(("size", "kernel", "stride"), list(itertools.product([7, 8], [2, 3, 4], [2, 3])))
def test_same_padding_is_tensorflow_asymmetric_split(size, kernel, stride):
    """With stride 2 on odd and even sizes the total padding can be odd: the extra pixel goes after."""
    pads = D.resolve_padding("same", (size,), (kernel,), (stride,), (1,))
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    assert pads == ((total // 2, total - total // 2),)
    check_case(1, kernel, stride, "same", 1, 1, (size,))
    check_case(2, (kernel, kernel), stride, "same", 1, 2, (size, size + 1))


def test_tensorflow_documented_example():
    """The worked example of tf.nn.depthwise_conv2d (NHWC input, (kh, kw, C, M) filter, VALID)."""
    x = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=np.float32).reshape((1, 3, 2, 1))
    kernel = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32).reshape((2, 1, 1, 2))
    out = D.depthwise_conv2d(x, D.keras_to_torch_depthwise(kernel), padding="valid", data_format="channels_last")
    expected = np.array([[[[10.0, 14.0], [14.0, 20.0]], [[18.0, 26.0], [22.0, 32.0]]]], dtype=np.float32)
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == np.float32
