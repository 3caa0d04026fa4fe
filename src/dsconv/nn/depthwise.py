"""Depthwise convolution layers: each input channel convolved with its own ``depth_multiplier`` filters."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from dsconv._validation import check_choice, check_positive, to_tuple
from dsconv.functional.shapes import PaddingArg
from dsconv.nn import _ops
from dsconv.nn import init as dinit
from dsconv.nn._args import check_bool, layer_padding
from dsconv.nn.backend import check_backend
from dsconv.nn.functional import PADDING_MODES

__all__ = ["DepthwiseConv1d", "DepthwiseConv2d", "DepthwiseConv3d"]


class _DepthwiseConvNd(nn.Module):
    """Shared implementation; subclasses fix the number of spatial dimensions ``_ndim``."""

    _ndim = 0

    def __init__(
        self,
        in_channels: int,
        kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...] = 1,
        padding: PaddingArg = 0,
        dilation: int | tuple[int, ...] = 1,
        depth_multiplier: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: torch.dtype | None = None,
        *,
        backend: str | None = None,
    ) -> None:
        super().__init__()
        n = self._ndim
        self.in_channels = check_positive(in_channels, "in_channels")
        self.depth_multiplier = check_positive(depth_multiplier, "depth_multiplier")
        self.out_channels = self.in_channels * self.depth_multiplier
        self.kernel_size = to_tuple(kernel_size, n, "kernel_size")
        self.stride = to_tuple(stride, n, "stride")
        self.dilation = to_tuple(dilation, n, "dilation")
        self.padding, self._padding_kind, self._pads = layer_padding(padding, self.kernel_size, self.stride, self.dilation)
        self.padding_mode = check_choice(padding_mode, PADDING_MODES, "padding_mode")
        self.backend = check_backend(backend)
        # Plain lists for the TorchScript-compatible op (it takes List[int]).
        self._stride = list(self.stride)
        self._dilation = list(self.dilation)
        factory = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.empty((self.out_channels, 1, *self.kernel_size), **factory))
        if check_bool(bias, "bias"):
            self.bias = nn.Parameter(torch.empty(self.out_channels, **factory))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    @property
    def groups(self) -> int:
        """The equivalent ``nn.Conv*d``'s ``groups`` (one group per input channel)."""
        return self.in_channels

    def reset_parameters(self) -> None:
        """PyTorch's default conv initialisation (``kaiming_uniform_(a=sqrt(5))`` on the weight, bias in
        ``+-1/sqrt(fan_in)``) with fans from ``dsconv.nn.init`` (grouped-aware), so a layer swapped for
        ``nn.Conv*d(groups=C)`` keeps its initial distribution."""
        dinit.kaiming_uniform_(self.weight, groups=self.groups, a=math.sqrt(5.0))
        if self.bias is not None:
            bound = dinit.bias_bound(self.weight, groups=self.groups)
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        return _ops.depthwise_conv(
            input,
            self.weight,
            self.bias,
            self._stride,
            self._padding_kind,
            self._pads,
            self._dilation,
            self.padding_mode,
            self.backend,
            self.in_channels,
        )

    def extra_repr(self) -> str:
        parts = [f"{self.in_channels}", f"kernel_size={self.kernel_size}"]
        if self.depth_multiplier != 1:
            parts.append(f"depth_multiplier={self.depth_multiplier}")
        if self.stride != (1,) * self._ndim:
            parts.append(f"stride={self.stride}")
        if self.padding != ((0, 0),) * self._ndim:
            parts.append(f"padding={self.padding!r}")
        if self.dilation != (1,) * self._ndim:
            parts.append(f"dilation={self.dilation}")
        if self.bias is None:
            parts.append("bias=False")
        if self.padding_mode != "zeros":
            parts.append(f"padding_mode={self.padding_mode!r}")
        if self.backend is not None:
            parts.append(f"backend={self.backend!r}")
        return ", ".join(parts)


_DOC = """{n}D depthwise convolution layer.

    Args:
        in_channels: ``C``, the number of input channels.
        kernel_size: int or tuple of {n} ints.
        stride, dilation: int or tuple of {n} positive ints.
        padding: int, tuple of {n} ints, tuple of {n} ``(before, after)`` pairs, "valid", "same"
            (TensorFlow's rule for any stride, extra pixel after){causal}.
        depth_multiplier: ``M``, filters per input channel.
        bias: learn a ``(C * M,)`` bias.
        padding_mode: "zeros", "reflect", "replicate" or "circular".
        device, dtype: factory arguments of the parameters.
        backend: "torch", "dsconv" or None (the default of ``dsconv.nn.backend``, read at call time).

    Attributes:
        weight: ``(C * M, 1, {k})``; output channel ``c * M + j`` comes from input channel ``c``.
        bias: ``(C * M,)`` or None.

    Shape:
        ``(N, C, {sp}) -> (N, C * M, {out})`` with
        ``out = floor((n + before + after - dilation * (k - 1) - 1) / stride) + 1``.

    Example:
        >>> layer = DepthwiseConv{n}d(4, 3, padding="same", depth_multiplier=2)
        >>> layer(torch.randn(1, 4, {ex})).shape[1]
        8
    """


class DepthwiseConv1d(_DepthwiseConvNd):
    _ndim = 1


class DepthwiseConv2d(_DepthwiseConvNd):
    _ndim = 2


class DepthwiseConv3d(_DepthwiseConvNd):
    _ndim = 3


for _cls, _fmt in (
    (DepthwiseConv1d, {"k": "k", "sp": "L", "out": "L_out", "ex": "9", "causal": ', "causal"'}),
    (DepthwiseConv2d, {"k": "kH, kW", "sp": "H, W", "out": "H_out, W_out", "ex": "9, 9", "causal": ""}),
    (DepthwiseConv3d, {"k": "kD, kH, kW", "sp": "D, H, W", "out": "D_out, H_out, W_out", "ex": "5, 5, 5", "causal": ""}),
):
    _cls.__doc__ = _DOC.format(n=_cls._ndim, **_fmt)
