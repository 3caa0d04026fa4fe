"""dsconv.nn.blocks: the zoo's building blocks, their dense twins and their parameter arithmetic."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from dsconv.nn import DepthwiseConv1d, DepthwiseConv2d, PointwiseConv2d  # noqa: E402
from dsconv.nn.blocks import (  # noqa: E402
    ConvNormAct,
    DepthwiseSeparable,
    DropPath,
    InvertedResidual,
    SqueezeExcite,
    make_divisible,
)


def _n_params(module: torch.nn.Module, bn: bool = False) -> int:
    return sum(
        p.numel() for m in module.modules() if bn or not isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
        for p in m.parameters(recurse=False)
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [(32 * 0.75, 24), (32 * 1.4, 48), (24 * 1.4, 32), (16 * 1.4, 24), (8.0, 8), (2.0, 8), (11.0, 16), (1280 * 1.4, 1792)],
)
def test_make_divisible(value: float, expected: int) -> None:
    assert make_divisible(value) == expected


def test_depthwise_separable_params_and_twin() -> None:
    block = DepthwiseSeparable(16, 32, 3, stride=2)
    assert isinstance(block.conv_dw.conv, DepthwiseConv2d) and isinstance(block.conv_pw.conv, PointwiseConv2d)
    assert _n_params(block) == 16 * 9 + 16 * 32  # no biases: BN follows each convolution
    dense = DepthwiseSeparable(16, 32, 3, stride=2, dense=True)
    assert _n_params(dense) == 16 * 32 * 9
    x = torch.randn(2, 16, 15, 15)
    assert block(x).shape == dense(x).shape == (2, 32, 8, 8)


def test_depthwise_separable_1d_and_xception_form() -> None:
    block = DepthwiseSeparable(8, 12, 9, stride=2, spatial_dims=1)
    assert isinstance(block.conv_dw.conv, DepthwiseConv1d)
    assert block(torch.randn(2, 8, 33)).shape == (2, 12, 17)
    plain = DepthwiseSeparable(8, 12, 3, act_layer=None, act_dw=False, norm_dw=False)
    kinds = [type(m).__name__ for m in plain.conv_dw]
    assert kinds == ["DepthwiseConv2d", "Identity", "Identity"]


def test_dilated_depthwise_keeps_size() -> None:
    block = DepthwiseSeparable(8, 8, 3, dilation=6)
    assert block(torch.randn(1, 8, 20, 20)).shape == (1, 8, 20, 20)


def test_inverted_residual_shortcut_and_fused_twin() -> None:
    with_shortcut = InvertedResidual(16, 16, 3, 1, expand_ratio=6)
    strided = InvertedResidual(16, 24, 3, 2, expand_ratio=6)
    assert with_shortcut.has_shortcut and not strided.has_shortcut
    x = torch.randn(2, 16, 16, 16)
    assert with_shortcut(x).shape == x.shape and strided(x).shape == (2, 24, 8, 8)
    assert _n_params(strided) == 16 * 96 + 96 * 9 + 96 * 24
    fused = InvertedResidual(16, 24, 3, 2, expand_ratio=6, dense=True)
    assert _n_params(fused) == 16 * 96 * 9 + 96 * 24
    assert fused(x).shape == (2, 24, 8, 8)
    no_expand = InvertedResidual(16, 8, 3, expand_ratio=1)
    assert isinstance(no_expand.conv_pw, torch.nn.Identity)


def test_squeeze_excite_gates_channels() -> None:
    se = SqueezeExcite(8, 2)
    assert _n_params(se) == 8 * 2 + 2 + 2 * 8 + 8
    torch.nn.init.zeros_(se.conv_expand.weight)
    torch.nn.init.zeros_(se.conv_expand.bias)
    x = torch.randn(2, 8, 5, 5)
    torch.testing.assert_close(se(x), x * 0.5)  # sigmoid(0) = 1/2
    mb = InvertedResidual(8, 8, 3, expand_ratio=4, se_channels=2, se_gate_layer=torch.nn.Hardsigmoid)
    assert isinstance(mb.se.gate, torch.nn.Hardsigmoid)


def test_drop_path_is_identity_in_eval_and_unbiased_in_training() -> None:
    drop = DropPath(0.5)
    x = torch.ones(4000, 3)
    assert drop.eval()(x) is x
    torch.manual_seed(0)
    out = drop.train()(x)
    assert set(out[:, 0].unique().tolist()) <= {0.0, 2.0}
    assert (out == out[:, :1]).all()  # whole samples are dropped
    assert out.mean().item() == pytest.approx(1.0, abs=0.05)
    with pytest.raises(ValueError, match=r"`p` must be a probability in \[0, 1\). Received p=1.0"):
        DropPath(1.0)


def test_residual_block_with_drop_path_trains() -> None:
    block = InvertedResidual(8, 8, 3, expand_ratio=2, drop_path=0.2).train()
    x = torch.randn(4, 8, 6, 6, requires_grad=True)
    block(x).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_conv_norm_act_arguments() -> None:
    layer = ConvNormAct(3, 8, 3, 2, padding=0)
    assert layer(torch.randn(1, 3, 9, 9)).shape == (1, 8, 4, 4)
    assert layer.conv.bias is None
    no_norm = ConvNormAct(3, 8, 1, norm=False, act_layer=None)
    assert no_norm.conv.bias is not None and isinstance(no_norm.bn, torch.nn.Identity)
    with pytest.raises(ValueError, match="`spatial_dims` must be 1 or 2. Received spatial_dims=3"):
        ConvNormAct(3, 8, spatial_dims=3)
    with pytest.raises(ValueError, match="`out_channels` must be a positive integer"):
        ConvNormAct(3, 0)
    with pytest.raises(ValueError, match="`padding` must be a non-negative integer"):
        ConvNormAct(3, 8, padding=-1)
