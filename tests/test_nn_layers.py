"""Depthwise and pointwise layers against nn.Conv*d(groups=...) and the NumPy reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import dsconv.functional as ref
from dsconv import nn as dnn

SPATIAL = {1: (10,), 2: (7, 9), 3: (5, 6, 7)}
DEPTHWISE = {1: dnn.DepthwiseConv1d, 2: dnn.DepthwiseConv2d, 3: dnn.DepthwiseConv3d}
POINTWISE = {1: dnn.PointwiseConv1d, 2: dnn.PointwiseConv2d, 3: dnn.PointwiseConv3d}
TORCH_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
# (stride, padding, dilation, depth_multiplier, padding_mode): symmetric int padding, which nn.Conv*d expresses.
GRID = [
    (1, 0, 1, 1, "zeros"),
    (2, 1, 1, 2, "zeros"),
    (1, 2, 2, 1, "reflect"),
    (2, 1, 1, 3, "replicate"),
    (1, 1, 2, 2, "circular"),
    (2, 2, 1, 1, "reflect"),
]


def _pair(n, channels, stride, padding, dilation, m, mode, bias=True):
    """A dsconv depthwise layer and an nn.Conv*d(groups=C) with the same parameters."""
    layer = DEPTHWISE[n](channels, 3, stride, padding, dilation, m, bias, mode)
    conv = TORCH_CONV[n](channels, channels * m, 3, stride, padding, dilation, groups=channels, bias=bias, padding_mode=mode)
    with torch.no_grad():
        conv.weight.copy_(layer.weight)
        if bias:
            conv.bias.copy_(layer.bias)
    return layer, conv


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("stride, padding, dilation, m, mode", GRID)
def test_depthwise_layer_matches_grouped_conv(n, stride, padding, dilation, m, mode):
    torch.manual_seed(0)
    layer, conv = _pair(n, 3, stride, padding, dilation, m, mode)
    x = torch.randn(2, 3, *SPATIAL[n], requires_grad=True)
    x_conv = x.detach().clone().requires_grad_(True)
    out, expected = layer(x), conv(x_conv)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    grad = torch.randn_like(out)
    out.backward(grad)
    expected.backward(grad)
    torch.testing.assert_close(x.grad, x_conv.grad, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(layer.weight.grad, conv.weight.grad, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(layer.bias.grad, conv.bias.grad, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_depthwise_layer_same_stride_matches_reference(n):
    torch.manual_seed(0)
    layer = DEPTHWISE[n](2, 4 if n < 3 else 2, stride=2, padding="same", depth_multiplier=2).double()
    x = torch.randn(1, 2, *SPATIAL[n], dtype=torch.float64)
    expected = getattr(ref, f"depthwise_conv{n}d")(x.numpy(), layer.weight.detach().numpy(),
                                                    layer.bias.detach().numpy(), 2, "same", 1)
    np.testing.assert_allclose(layer(x).detach().numpy(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "n, kwargs",
    [
        (1, {"kernel_size": 4, "stride": 2, "padding": "same", "padding_mode": "reflect"}),
        (1, {"kernel_size": 3, "padding": "causal", "dilation": 2, "depth_multiplier": 2}),
        (2, {"kernel_size": (2, 3), "stride": (2, 1), "padding": ((1, 0), (0, 2)), "padding_mode": "circular"}),
        (3, {"kernel_size": 2, "stride": 2, "padding": "same", "depth_multiplier": 2}),
    ],
)
def test_depthwise_layer_gradcheck(n, kwargs):
    torch.manual_seed(0)
    layer = DEPTHWISE[n](2, dtype=torch.float64, **kwargs)
    x = torch.randn(1, 2, *(s - 1 for s in SPATIAL[n]), dtype=torch.float64, requires_grad=True)

    def run(x_, weight, bias):
        return torch.func.functional_call(layer, {"weight": weight, "bias": bias}, (x_,))

    assert torch.autograd.gradcheck(run, (x, layer.weight, layer.bias))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_pointwise_layer_matches_conv(n):
    torch.manual_seed(0)
    layer = POINTWISE[n](3, 5)
    conv = TORCH_CONV[n](3, 5, 1)
    conv.load_state_dict(layer.state_dict())
    x = torch.randn(2, 3, *SPATIAL[n])
    torch.testing.assert_close(layer(x), conv(x))
    assert layer.weight.shape == (5, 3, *(1,) * n)


def test_attributes_and_repr():
    layer = dnn.DepthwiseConv2d(4, (3, 5), stride=2, padding="same", depth_multiplier=2, bias=False, padding_mode="reflect")
    assert (layer.in_channels, layer.out_channels, layer.depth_multiplier) == (4, 8, 2)
    assert (layer.kernel_size, layer.stride, layer.dilation) == ((3, 5), (2, 2), (1, 1))
    assert layer.padding == "same" and layer.padding_mode == "reflect" and layer.bias is None
    assert layer.weight.shape == (8, 1, 3, 5)
    assert repr(layer) == (
        "DepthwiseConv2d(4, kernel_size=(3, 5), depth_multiplier=2, stride=(2, 2), padding='same', bias=False, "
        "padding_mode='reflect')"
    )
    assert dnn.DepthwiseConv1d(2, 3, padding=1).padding == ((1, 1),)
    assert repr(dnn.PointwiseConv2d(4, 6, bias=False)) == "PointwiseConv2d(4, 6, bias=False)"


def test_device_and_dtype_are_honoured():
    layer = dnn.DepthwiseConv2d(3, 3, device="cpu", dtype=torch.float64)
    assert layer.weight.dtype == torch.float64 and layer.bias.dtype == torch.float64
    assert dnn.PointwiseConv3d(2, 2, dtype=torch.float16).weight.dtype == torch.float16


def test_reset_parameters_matches_torch_default_bounds():
    torch.manual_seed(0)
    layer = dnn.DepthwiseConv2d(64, 3, depth_multiplier=2)
    fan_in = 9  # one input channel per group
    w_bound = math.sqrt(6.0 / ((1 + 5) * fan_in))  # kaiming_uniform_(a=sqrt(5))
    assert layer.weight.abs().max() <= w_bound
    assert layer.weight.abs().max() > 0.9 * w_bound
    assert layer.bias.abs().max() <= 1 / math.sqrt(fan_in)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"in_channels": 0}, ValueError, r"`in_channels` must be a positive integer \(>= 1\). Received in_channels=0"),
        ({"in_channels": 2.0}, TypeError, r"`in_channels` must be an integer. Received in_channels=2.0"),
        ({"kernel_size": (3, 3, 3)}, ValueError, r"`kernel_size` must be an int or a tuple of 2 ints"),
        ({"stride": 0}, ValueError, r"`stride` entries must be positive \(>= 1\). Received stride=0"),
        ({"dilation": "2"}, TypeError, r"`dilation` must be an int or a tuple of 2 ints. Received dilation='2'"),
        ({"depth_multiplier": -1}, ValueError, r"`depth_multiplier` must be a positive integer \(>= 1\)"),
        ({"padding": "causal"}, ValueError, r"`padding`='causal' is only defined for 1D convolutions"),
        ({"padding": ((1, 2, 3), (0, 0))}, ValueError, r"`padding` pairs must be \(before, after\)"),
        ({"padding_mode": "edge"}, ValueError, r"`padding_mode` must be one of 'zeros', 'reflect', 'replicate', 'circular'"),
        ({"bias": 1}, TypeError, r"`bias` must be a bool. Received bias=1"),
        ({"backend": "numba"}, ValueError, r"`backend` must be one of 'torch', 'dsconv'. Received backend='numba'"),
    ],
)
def test_depthwise_constructor_errors(kwargs, error, match):
    args = {"in_channels": 2, "kernel_size": 3} | kwargs
    with pytest.raises(error, match=match):
        dnn.DepthwiseConv2d(**args)


def test_pointwise_constructor_errors():
    with pytest.raises(ValueError, match=r"`out_channels` must be a positive integer \(>= 1\). Received out_channels=0"):
        dnn.PointwiseConv2d(2, 0)


def test_forward_checks_rank_and_channels():
    layer = dnn.DepthwiseConv2d(3, 3)
    with pytest.raises(ValueError, match=r"`input` must be a 4D tensor \(N, C, \*spatial\) for a 2D convolution. "
                                         r"Received input.shape=\[3, 8, 8\]"):
        layer(torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match=r"`input` must have 3 channels \(dimension 1\) for this layer. "
                                         r"Received input.shape=\[1, 4, 8, 8\]"):
        layer(torch.zeros(1, 4, 8, 8))
    with pytest.raises(ValueError, match=r"`input` must have 4 channels .* Received input.shape=\[1, 3, 5\]"):
        dnn.PointwiseConv1d(4, 2)(torch.zeros(1, 3, 5))
