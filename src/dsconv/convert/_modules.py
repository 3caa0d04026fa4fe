"""Building the replacement layers: batch-norm folding, the grouped separable layer, weight loading."""

from __future__ import annotations

import torch
from torch import nn

from dsconv.structure import Factorization

CONV_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
BN_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


class GroupedSeparableConv(nn.Module):
    """Separable replacement of a grouped convolution: depthwise, then a *grouped* pointwise stage.

    Each of the ``groups`` channel groups of the dense layer gets its own factorization; the depthwise
    stage is shared by construction (one filter bank per input channel), and the pointwise stage mixes
    only the ``C_in * r / groups`` intermediate channels of each group. This is the block-diagonal
    pointwise weight written as a grouped 1x1 convolution, so no MACs are spent on the zero blocks.

    Args:
        conv: the dense ``nn.Conv{1,2,3}d`` whose geometry (stride, padding, dilation, padding mode) is copied.
        depth_multiplier: ``r``.
        bias: whether the pointwise stage has a bias.

    Shape:
        ``(N, C_in, *n) -> (N, C_out, *out)``, the same as ``conv``.
    """

    def __init__(self, conv: nn.Module, depth_multiplier: int, bias: bool) -> None:
        super().__init__()
        n = len(conv.kernel_size)
        cls = CONV_TYPES[n - 1]
        factory = {"device": conv.weight.device, "dtype": conv.weight.dtype}
        c_in, r = conv.in_channels, depth_multiplier
        self.conv_dw = cls(c_in, c_in * r, conv.kernel_size, conv.stride, conv.padding, conv.dilation,
                           groups=c_in, bias=False, padding_mode=conv.padding_mode, **factory)
        self.conv_pw = cls(c_in * r, conv.out_channels, 1, groups=conv.groups, bias=bias, **factory)
        self.depth_multiplier = r

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_dw(x)  # (N, C_in * r, *out)
        return self.conv_pw(x)  # (N, C_out, *out)


def folded_kernel(conv: nn.Module, bn: nn.Module | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The dense kernel and bias of ``conv`` followed by ``bn`` in eval mode (running statistics).

    ``bn(conv(x)) = scale * (W * x + b - mean) + beta`` with ``scale = gamma / sqrt(var + eps)``, so the
    folded kernel is ``scale[o] * W[o]`` and the bias ``scale * (b - mean) + beta``.
    """
    weight = conv.weight.detach().double()
    bias = None if conv.bias is None else conv.bias.detach().double()
    if bn is None:
        return weight, bias
    scale = bn.running_var.double().add(bn.eps).rsqrt()
    if bn.weight is not None:
        scale = scale * bn.weight.detach().double()
    shift = -bn.running_mean.double() * scale if bias is None else (bias - bn.running_mean.double()) * scale
    if bn.bias is not None:
        shift = shift + bn.bias.detach().double()
    view = (-1,) + (1,) * (weight.dim() - 1)
    return weight * scale.view(view), shift


def build_separable(conv: nn.Module, factors: Factorization, bias: torch.Tensor | None) -> nn.Module:
    """A separable layer reproducing ``conv`` with the given factors (dsconv ``SeparableConv`` when ungrouped)."""
    r = factors.rank
    if conv.groups == 1:
        import dsconv.nn as dnn

        cls = getattr(dnn, f"SeparableConv{len(conv.kernel_size)}d")
        module = cls(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                     padding=conv.padding, dilation=conv.dilation, depth_multiplier=r, bias=bias is not None,
                     padding_mode=conv.padding_mode, device=conv.weight.device, dtype=conv.weight.dtype)
        if getattr(module.conv_dw, "bias", None) is not None:
            # The dense layer has one bias per output: it belongs to the pointwise stage alone.
            module.conv_dw.register_parameter("bias", None)
    else:
        module = GroupedSeparableConv(conv, r, bias is not None)
    like = conv.weight
    with torch.no_grad():
        module.conv_dw.weight.copy_(torch.as_tensor(factors.dw).to(like))
        module.conv_pw.weight.copy_(torch.as_tensor(factors.pw).to(like))
        if bias is not None:
            module.conv_pw.bias.copy_(bias.to(like))
    return module.train(conv.training)
