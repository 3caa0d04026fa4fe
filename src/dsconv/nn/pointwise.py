"""Pointwise (1x1) convolution layers: a per-position linear map across channels."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from dsconv._validation import check_positive
from dsconv.nn import _ops
from dsconv.nn import init as dinit
from dsconv.nn._args import check_bool

__all__ = ["PointwiseConv1d", "PointwiseConv2d", "PointwiseConv3d"]


class _PointwiseConvNd(nn.Module):
    """Shared implementation; subclasses fix the number of spatial dimensions ``_ndim``."""

    _ndim = 0

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        bias: bool = True,
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = check_positive(in_channels, "in_channels")
        self.out_channels = check_positive(out_channels, "out_channels")
        self.kernel_size = (1,) * self._ndim
        factory = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.empty((self.out_channels, self.in_channels, *self.kernel_size), **factory))
        if check_bool(bias, "bias"):
            self.bias = nn.Parameter(torch.empty(self.out_channels, **factory))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default conv initialisation, with fans from ``dsconv.nn.init``."""
        dinit.kaiming_uniform_(self.weight, a=math.sqrt(5.0))
        if self.bias is not None:
            bound = dinit.bias_bound(self.weight)
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        return _ops.pointwise_conv(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}" + ("" if self.bias is not None else ", bias=False")


_DOC = """{n}D pointwise (1x1) convolution layer.

    Args:
        in_channels: ``C_in``.
        out_channels: ``C_out``.
        bias: learn a ``(C_out,)`` bias.
        device, dtype: factory arguments of the parameters.

    Attributes:
        weight: ``(C_out, C_in, {ones})``.
        bias: ``(C_out,)`` or None.

    Shape:
        ``(N, C_in, {sp}) -> (N, C_out, {sp})``.

    Example:
        >>> PointwiseConv{n}d(4, 6)(torch.randn(2, 4, {ex})).shape[1]
        6
    """


class PointwiseConv1d(_PointwiseConvNd):
    _ndim = 1


class PointwiseConv2d(_PointwiseConvNd):
    _ndim = 2


class PointwiseConv3d(_PointwiseConvNd):
    _ndim = 3


for _cls, _fmt in (
    (PointwiseConv1d, {"sp": "L", "ex": "5"}),
    (PointwiseConv2d, {"sp": "H, W", "ex": "5, 5"}),
    (PointwiseConv3d, {"sp": "D, H, W", "ex": "3, 3, 3"}),
):
    _cls.__doc__ = _DOC.format(n=_cls._ndim, ones=", ".join("1" * _cls._ndim), **_fmt)
