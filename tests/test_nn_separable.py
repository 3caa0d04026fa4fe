"""SeparableConv*d: structure, both orders, norm/act placement, equivalent dense kernel and bias."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import dsconv.functional as ref
from dsconv import nn as dnn
from dsconv.functional.shapes import resolve_padding

SEPARABLE = {1: dnn.SeparableConv1d, 2: dnn.SeparableConv2d, 3: dnn.SeparableConv3d}
BATCHNORM = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
TORCH_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
SPATIAL = {1: (11,), 2: (7, 8), 3: (5, 6, 5)}
NAMES = ["conv_dw", "bn_dw", "act_dw", "conv_pw", "bn_pw", "act_pw"]


def _randomize_bn(module: nn.Module) -> None:
    """Non-trivial running statistics and affine parameters, so folding is really tested."""
    for bn in module.modules():
        if isinstance(bn, nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                bn.running_mean.uniform_(-1, 1)
                bn.running_var.uniform_(0.5, 2)
                bn.weight.uniform_(0.5, 1.5)
                bn.bias.uniform_(-1, 1)


def _dense(layer, x, kernel, bias):
    """The dense convolution with the layer's depthwise geometry, through F.pad and F.conv*d."""
    n = x.dim() - 2
    pads = resolve_padding(layer.padding, tuple(x.shape[2:]), layer.kernel_size, layer.stride, layer.dilation)
    torch_pads = [p for pair in reversed(pads) for p in pair]
    mode = "constant" if layer.padding_mode == "zeros" else layer.padding_mode
    return TORCH_CONV[n](F.pad(x, torch_pads, mode=mode), kernel, bias, layer.stride, 0, layer.dilation)


def test_submodules_in_forward_order():
    layer = dnn.SeparableConv2d(4, 8, 3, norm_layer=nn.BatchNorm2d, act_layer=nn.ReLU, norm_dw=True, act_dw=True, bias=False)
    assert [name for name, _ in layer.named_children()] == NAMES
    assert isinstance(layer.bn_dw, nn.BatchNorm2d) and layer.bn_dw.num_features == 4
    assert isinstance(layer.act_dw, nn.ReLU) and layer.bn_pw.num_features == 8
    assert layer.conv_dw.bias is None and layer.conv_pw.bias is None
    bsconv = dnn.SeparableConv2d(4, 8, 3, depth_multiplier=2, order="pw_dw")
    assert [name for name, _ in bsconv.named_children()] == NAMES[3:] + NAMES[:3]
    assert all(isinstance(getattr(bsconv, name), nn.Identity) for name in ("bn_dw", "act_dw", "bn_pw", "act_pw"))
    assert (bsconv.conv_pw.in_channels, bsconv.conv_pw.out_channels, bsconv.conv_dw.out_channels) == (4, 4, 8)
    assert bsconv.conv_pw.bias is None and bsconv.conv_dw.bias is not None


def test_default_flags_put_norm_and_act_after_pointwise_only():
    layer = dnn.SeparableConv1d(3, 5, 3, norm_layer=nn.BatchNorm1d, act_layer=nn.ReLU6)
    assert isinstance(layer.bn_dw, nn.Identity) and isinstance(layer.act_dw, nn.Identity)
    assert isinstance(layer.bn_pw, nn.BatchNorm1d) and isinstance(layer.act_pw, nn.ReLU6)


def test_mobilenet_block_matches_sequential_reference():
    torch.manual_seed(0)
    layer = dnn.SeparableConv2d(4, 6, 3, stride=2, padding=1, norm_layer=nn.BatchNorm2d, act_layer=nn.ReLU,
                                norm_dw=True, act_dw=True, bias=False)
    seq = nn.Sequential(nn.Conv2d(4, 4, 3, 2, 1, groups=4, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.Conv2d(4, 6, 1, bias=False), nn.BatchNorm2d(6), nn.ReLU())
    seq.load_state_dict(dict(zip(seq.state_dict(), layer.state_dict().values())))
    x = torch.randn(2, 4, 9, 9, requires_grad=True)
    x_seq = x.detach().clone().requires_grad_(True)
    out, expected = layer(x), seq(x_seq)  # training mode: batch statistics in both
    torch.testing.assert_close(out, expected)
    out.square().sum().backward()
    expected.square().sum().backward()
    torch.testing.assert_close(x.grad, x_seq.grad)
    torch.testing.assert_close(layer.conv_dw.weight.grad, seq[0].weight.grad)


def test_dtype_and_device_reach_the_norm_layers():
    layer = dnn.SeparableConv2d(2, 4, 3, norm_layer=nn.BatchNorm2d, norm_dw=True, dtype=torch.float64, device="cpu")
    assert {p.dtype for p in layer.parameters()} == {torch.float64}
    assert layer(torch.randn(2, 2, 5, 5, dtype=torch.float64)).dtype == torch.float64


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("order", ["dw_pw", "pw_dw"])
@pytest.mark.parametrize("m", [1, 2])
@pytest.mark.parametrize("padding, padding_mode", [("same", "zeros"), (1, "reflect"), ("valid", "zeros")])
def test_equivalent_kernel_reproduces_the_layer(n, order, m, padding, padding_mode):
    torch.manual_seed(n * 10 + m)
    kwargs = {"stride": 2 if n < 3 else 1, "padding": padding, "dilation": 1 if n == 3 else 2}
    needs_clean_bias = order == "pw_dw" and padding_mode == "zeros" and padding != "valid"
    layer = SEPARABLE[n](3, 4, 3, depth_multiplier=m, padding_mode=padding_mode, order=order,
                         inner_bias=not needs_clean_bias, norm_layer=BATCHNORM[n], norm_dw=True,
                         norm_pw=not needs_clean_bias or order == "dw_pw", act_pw=False, **kwargs).double()
    _randomize_bn(layer)
    layer.eval()
    x = torch.randn(2, 3, *SPATIAL[n], dtype=torch.float64)
    kernel, bias = layer.equivalent_kernel(), layer.equivalent_bias()
    assert kernel.shape == (4, 3, *(3,) * n)
    torch.testing.assert_close(_dense(layer, x, kernel, bias), layer(x), rtol=1e-10, atol=1e-10)


def test_equivalent_kernel_matches_numpy_dense_reference():
    torch.manual_seed(0)
    layer = dnn.SeparableConv2d(3, 5, 3, stride=2, padding="same", depth_multiplier=2, inner_bias=True).double()
    x = torch.randn(1, 3, 8, 7, dtype=torch.float64)
    kernel, bias = layer.equivalent_kernel().detach().numpy(), layer.equivalent_bias().detach().numpy()
    expected = ref.conv2d(x.numpy(), kernel, bias, 2, "same", 1)
    np.testing.assert_allclose(layer(x).detach().numpy(), expected, rtol=1e-12, atol=1e-12)


def test_equivalent_kernel_is_differentiable_and_bias_none_without_biases():
    layer = dnn.SeparableConv2d(2, 3, 3, bias=False)
    assert layer.equivalent_bias() is None
    layer.equivalent_kernel().sum().backward()
    assert layer.conv_dw.weight.grad is not None and layer.conv_pw.weight.grad is not None


def test_equivalent_kernel_errors():
    with pytest.raises(ValueError, match=r"`act_pw` must be absent \(nn.Identity\) .* Received act_pw=ReLU"):
        dnn.SeparableConv2d(2, 3, 3, act_layer=nn.ReLU).equivalent_kernel()
    training = dnn.SeparableConv2d(2, 3, 3, norm_layer=nn.BatchNorm2d, norm_dw=True, norm_pw=False)
    with pytest.raises(ValueError, match=r"`bn_dw` must be in eval mode .* Received bn_dw.training=True"):
        training.equivalent_kernel()
    group_norm = dnn.SeparableConv2d(2, 4, 3, norm_layer=lambda c: nn.GroupNorm(2, c))
    with pytest.raises(ValueError, match=r"`bn_pw` must be nn.Identity or a BatchNorm .* Received bn_pw=GroupNorm"):
        group_norm.equivalent_kernel()
    bsconv = dnn.SeparableConv2d(2, 4, 3, padding=1, order="pw_dw", inner_bias=True)
    bsconv.equivalent_kernel()  # the kernel is exact; only the bias cannot be
    with pytest.raises(ValueError, match=r"`equivalent_bias` is not exact for order='pw_dw' .* Received padding=\(\(1, 1\), \(1, 1\)\)"):
        bsconv.equivalent_bias()


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"order": "pw_dw", "depth_multiplier": 3}, ValueError,
         r"`out_channels` must be divisible by `depth_multiplier` with order='pw_dw' .* Received out_channels=4, depth_multiplier=3"),
        ({"order": "dwpw"}, ValueError, r"`order` must be one of 'dw_pw', 'pw_dw'. Received order='dwpw'"),
        ({"out_channels": 0}, ValueError, r"`out_channels` must be a positive integer"),
        ({"norm_layer": "bn"}, TypeError, r"`norm_layer` must be a callable returning an nn.Module, or None. Received norm_layer='bn'"),
        ({"act_dw": "yes"}, TypeError, r"`act_dw` must be a bool. Received act_dw='yes'"),
        ({"inner_bias": None}, TypeError, r"`inner_bias` must be a bool. Received inner_bias=None"),
        ({"padding": "causal"}, ValueError, r"`padding`='causal' is only defined for 1D convolutions"),
        ({"stride": (1, 2, 3)}, ValueError, r"`stride` must be an int or a tuple of 2 ints"),
    ],
)
def test_separable_constructor_errors(kwargs, error, match):
    args = {"in_channels": 2, "out_channels": 4, "kernel_size": 3} | kwargs
    with pytest.raises(error, match=match):
        dnn.SeparableConv2d(**args)


def test_repr_mentions_order_and_multiplier():
    text = repr(dnn.SeparableConv1d(2, 4, 5, depth_multiplier=2, order="pw_dw"))
    assert text.startswith("SeparableConv1d(\n  2, 4, kernel_size=(5,), depth_multiplier=2, order='pw_dw'")
