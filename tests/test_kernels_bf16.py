"""bfloat16 in the kernels: the bit conversions against PyTorch's, and bfloat16 layers on the kernels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import dsconv.nn as dnn
from dsconv.kernels import _bf16
from dsconv.nn.backend import depthwise_dispatch_reason, use_backend


def _torch_bits(a: np.ndarray) -> np.ndarray:
    return torch.from_numpy(a).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)


SPECIAL = np.array([0.0, -0.0, 1.0, 1.00390625, 1.01171875, -1.00390625, 3.3895314e38, 3.4e38, np.inf, -np.inf,
                    1e-40, -1e-45, 1.1754942e-38, 6.0], np.float32)  # ties both ways, overflow to inf, subnormals


@settings(max_examples=60, deadline=None)
@given(arrays(np.float32, st.integers(0, 300), elements=st.floats(width=32, allow_nan=False)))
def test_rounding_to_bfloat16_matches_pytorch_bit_for_bit(a):
    for values in (a, SPECIAL):
        bits = _bf16.to_bits(values)
        assert bits.dtype == np.uint16 and bits.shape == values.shape
        np.testing.assert_array_equal(bits, _torch_bits(values))
        expected = torch.from_numpy(bits.view(np.int16)).view(torch.bfloat16).float().numpy()
        np.testing.assert_array_equal(_bf16.from_bits(bits), expected)


def test_load_reads_floats_and_bfloat16_bits_alike_in_python_and_numba():
    import numba

    values = np.array([1.5, -2.25, 3.0e38, 0.0], np.float32)
    bits = _bf16.to_bits(values)
    jitted = numba.njit(lambda a, i: _bf16.load(a, i))
    for i, v in enumerate(values):
        assert _bf16.load(values, i) == v and _bf16.load(bits, i) == _bf16.from_bits(bits)[i]
        assert jitted(values, i) == v and jitted(bits, i) == _bf16.load(bits, i)


def test_nan_stays_nan_and_bad_input_is_rejected():
    bits = _bf16.to_bits(np.array([np.nan, -np.nan], np.float32))
    assert np.isnan(_bf16.from_bits(bits)).all()
    with pytest.raises(TypeError, match=r"`a` must hold bfloat16 bit patterns as uint16. Received dtype=float32"):
        _bf16.from_bits(np.zeros(2, np.float32))


@pytest.mark.parametrize("channels_last", [False, True])
def test_bfloat16_depthwise_layer_runs_on_the_kernels_and_matches_torch(channels_last):
    torch.manual_seed(0)
    layer = dnn.DepthwiseConv2d(8, 3, stride=1, padding=1).to(torch.bfloat16)
    x = torch.randn(2, 8, 10, 9, dtype=torch.bfloat16)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    assert depthwise_dispatch_reason(x, layer.weight, (1, 1), ((1, 1), (1, 1)), (1, 1), "dsconv") == ("dsconv", "")
    with use_backend("dsconv"):
        y = layer(x)
    with use_backend("torch"):
        y_torch = layer(x)
    assert y.dtype == torch.bfloat16
    # PyTorch's bfloat16 convolution also accumulates in float32 and rounds once
    assert (y != y_torch).float().mean() < 0.01
    torch.testing.assert_close(y.float(), y_torch.float(), rtol=2**-7, atol=1e-2)
