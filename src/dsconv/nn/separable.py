"""Depthwise-separable convolution layers: a depthwise and a pointwise convolution, composed.

``order="dw_pw"`` (default, MobileNet/Xception): depthwise ``C_in -> C_in * M``, then pointwise
``C_in * M -> C_out``. ``order="pw_dw"`` (blueprint-separable, BSConv-U): pointwise
``C_in -> C_out / M``, then depthwise ``C_out / M -> C_out``.

Optional normalisation and activation follow either convolution. ``norm_layer`` (e.g.
``nn.BatchNorm2d``, called with the channel count) and ``act_layer`` (e.g. ``nn.ReLU``, called with
no arguments) say what to use; ``norm_dw``/``act_dw`` and ``norm_pw``/``act_pw`` say where. MobileNet
v1's block ``dw -> BN -> ReLU -> pw -> BN -> ReLU`` is
``SeparableConv2d(c_in, c_out, 3, norm_layer=nn.BatchNorm2d, act_layer=nn.ReLU, norm_dw=True, act_dw=True, bias=False)``.
Sub-modules, registered in forward order, are ``conv_dw, bn_dw, act_dw, conv_pw, bn_pw, act_pw`` (for
``"pw_dw"``: ``conv_pw, bn_pw, act_pw, conv_dw, bn_dw, act_dw``); absent ones are ``nn.Identity``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from dsconv._validation import _received, check_choice, check_positive
from dsconv.functional.shapes import PaddingArg
from dsconv.nn import _equivalent
from dsconv.nn._args import check_bool
from dsconv.nn.depthwise import DepthwiseConv1d, DepthwiseConv2d, DepthwiseConv3d
from dsconv.nn.functional import ORDERS
from dsconv.nn.pointwise import PointwiseConv1d, PointwiseConv2d, PointwiseConv3d

__all__ = ["SeparableConv1d", "SeparableConv2d", "SeparableConv3d"]


def _check_callable(value: Any, name: str) -> Any:
    if value is not None and not callable(value):
        raise TypeError(f"`{name}` must be a callable returning an nn.Module, or None. {_received(name, value)}")
    return value


class _SeparableConvNd(nn.Module):
    """Shared implementation; subclasses fix the depthwise and pointwise layer classes."""

    _dw_cls: type = DepthwiseConv2d
    _pw_cls: type = PointwiseConv2d

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...] = 1,
        padding: PaddingArg = 0,
        dilation: int | tuple[int, ...] = 1,
        depth_multiplier: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        *,
        order: str = "dw_pw",
        norm_layer: Callable[[int], nn.Module] | None = None,
        act_layer: Callable[[], nn.Module] | None = None,
        norm_dw: bool = False,
        act_dw: bool = False,
        norm_pw: bool = True,
        act_pw: bool = True,
        inner_bias: bool = False,
        device: Any = None,
        dtype: torch.dtype | None = None,
        backend: str | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = check_positive(in_channels, "in_channels")
        self.out_channels = check_positive(out_channels, "out_channels")
        self.depth_multiplier = check_positive(depth_multiplier, "depth_multiplier")
        self.order = check_choice(order, ORDERS, "order")
        flags = {name: check_bool(value, name) for name, value in
                 (("norm_dw", norm_dw), ("act_dw", act_dw), ("norm_pw", norm_pw), ("act_pw", act_pw))}
        norm_layer = _check_callable(norm_layer, "norm_layer")
        act_layer = _check_callable(act_layer, "act_layer")
        factory = {"device": device, "dtype": dtype}
        if self.order == "dw_pw":
            dw_channels, pw_in, pw_out = self.in_channels, self.in_channels * self.depth_multiplier, self.out_channels
        else:
            if self.out_channels % self.depth_multiplier != 0:
                raise ValueError(
                    f"`out_channels` must be divisible by `depth_multiplier` with order='pw_dw' (the pointwise "
                    f"convolution maps in_channels -> out_channels / depth_multiplier). "
                    f"Received out_channels={out_channels}, depth_multiplier={depth_multiplier}"
                )
            dw_channels = self.out_channels // self.depth_multiplier
            pw_in, pw_out = self.in_channels, dw_channels
        first_bias, last_bias = check_bool(inner_bias, "inner_bias"), check_bool(bias, "bias")
        dw_bias, pw_bias = (first_bias, last_bias) if self.order == "dw_pw" else (last_bias, first_bias)
        conv_dw = self._dw_cls(dw_channels, kernel_size, stride, padding, dilation, self.depth_multiplier, dw_bias,
                               padding_mode, backend=backend, **factory)
        conv_pw = self._pw_cls(pw_in, pw_out, pw_bias, **factory)
        dw_stage = ("dw", conv_dw, conv_dw.out_channels)
        pw_stage = ("pw", conv_pw, pw_out)
        for tag, conv, channels in (dw_stage, pw_stage) if self.order == "dw_pw" else (pw_stage, dw_stage):
            norm = norm_layer(channels) if norm_layer is not None and flags[f"norm_{tag}"] else nn.Identity()
            act = act_layer() if act_layer is not None and flags[f"act_{tag}"] else nn.Identity()
            self.add_module(f"conv_{tag}", conv)
            self.add_module(f"bn_{tag}", norm.to(**factory) if device is not None or dtype is not None else norm)
            self.add_module(f"act_{tag}", act)
        # Geometry of the depthwise convolution, mirrored for introspection (cost, conversion, repr).
        self.kernel_size, self.stride, self.dilation = conv_dw.kernel_size, conv_dw.stride, conv_dw.dilation
        self.padding, self.padding_mode = conv_dw.padding, conv_dw.padding_mode

    def forward(self, input: Tensor) -> Tensor:
        if self.order == "dw_pw":
            x = self.act_dw(self.bn_dw(self.conv_dw(input)))
            return self.act_pw(self.bn_pw(self.conv_pw(x)))
        x = self.act_pw(self.bn_pw(self.conv_pw(input)))
        return self.act_dw(self.bn_dw(self.conv_dw(x)))

    def equivalent_kernel(self) -> Tensor:
        """The dense ``(C_out, C_in, *kernel_size)`` kernel this layer equals (differentiable).

        Exact for both orders and any ``depth_multiplier``; eval-mode BatchNorms are folded in. The dense
        convolution uses this layer's ``stride``, ``padding``, ``dilation`` and ``padding_mode``.

        Raises:
            ValueError: if an activation is present, or a norm is not an eval-mode BatchNorm.
        """
        return _equivalent.equivalent_kernel(self)

    def equivalent_bias(self) -> Tensor | None:
        """The dense ``(C_out,)`` bias matching ``equivalent_kernel()``, or None when there is none.

        Raises:
            ValueError: as ``equivalent_kernel``, and for ``order="pw_dw"`` with an offset between the two
                convolutions under zero padding (the borders then differ from any dense bias).
        """
        return _equivalent.equivalent_bias(self)

    def extra_repr(self) -> str:
        parts = [f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"]
        if self.depth_multiplier != 1:
            parts.append(f"depth_multiplier={self.depth_multiplier}")
        if self.order != "dw_pw":
            parts.append(f"order={self.order!r}")
        return ", ".join(parts)


_DOC = """{n}D depthwise-separable convolution layer (see the module docstring for order, norm and activation).

    Args:
        in_channels: ``C_in``.
        out_channels: ``C_out`` (divisible by ``depth_multiplier`` when ``order="pw_dw"``).
        kernel_size, stride, padding, dilation, padding_mode: of the depthwise convolution (see
            ``DepthwiseConv{n}d``; padding accepts every form of ``dsconv.functional.shapes``).
        depth_multiplier: ``M``, depthwise filters per channel.
        bias: bias of the second (output) convolution.
        order: "dw_pw" (depthwise then pointwise) or "pw_dw" (pointwise then depthwise, BSConv-U).
        norm_layer: called as ``norm_layer(channels)``, e.g. ``nn.BatchNorm{n}d``; None for no norm.
        act_layer: called as ``act_layer()``, e.g. ``nn.ReLU``; None for no activation.
        norm_dw, act_dw: put the norm / activation after the depthwise convolution.
        norm_pw, act_pw: put the norm / activation after the pointwise convolution.
        inner_bias: bias of the first convolution (useful with an activation but no norm in between).
        device, dtype: factory arguments of the parameters.
        backend: backend of the depthwise convolution ("torch", "dsconv", None for the default).

    Shape:
        ``(N, C_in, {sp}) -> (N, C_out, {out})`` with the depthwise convolution's output size.

    Example:
        >>> layer = SeparableConv{n}d(4, 8, 3, padding="same", depth_multiplier=2)
        >>> tuple(layer.equivalent_kernel().shape) == (8, 4) + (3,) * {n}
        True
    """


class SeparableConv1d(_SeparableConvNd):
    _dw_cls = DepthwiseConv1d
    _pw_cls = PointwiseConv1d


class SeparableConv2d(_SeparableConvNd):
    _dw_cls = DepthwiseConv2d
    _pw_cls = PointwiseConv2d


class SeparableConv3d(_SeparableConvNd):
    _dw_cls = DepthwiseConv3d
    _pw_cls = PointwiseConv3d


for _n, _cls, _sp, _out in (
    (1, SeparableConv1d, "L", "L_out"),
    (2, SeparableConv2d, "H, W", "H_out, W_out"),
    (3, SeparableConv3d, "D, H, W", "D_out, H_out, W_out"),
):
    _cls.__doc__ = _DOC.format(n=_n, sp=_sp, out=_out)
