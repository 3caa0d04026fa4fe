"""Building blocks of the model zoo, composed from the ``dsconv.nn`` layers.

Every block reads like its diagram: ``forward`` calls the sub-modules in order. Each block that holds a
depthwise convolution also has a *dense twin* (``dense=True``) in which the depthwise-separable part is
replaced by one standard convolution with the same kernel, stride and dilation, so a model and its
twin compare like for like:

- ``DepthwiseSeparable`` (depthwise k x k -> pointwise 1 x 1, MobileNetV1 / Xception / DS-CNN) becomes
  one k x k convolution from ``in_channels`` to ``out_channels`` (MobileNetV1 paper, Table 4);
- ``InvertedResidual`` (pointwise expand -> depthwise -> [squeeze-excite] -> pointwise project,
  MobileNetV2/V3, EfficientNet's MBConv) becomes the Fused-MBConv of EfficientNetV2 (Tan & Le 2021):
  the expansion and the depthwise convolution fuse into one k x k convolution.

Example:
    >>> import torch
    >>> block = InvertedResidual(16, 24, 3, stride=2, expand_ratio=6)
    >>> block(torch.randn(2, 16, 32, 32)).shape
    torch.Size([2, 24, 16, 16])
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from dsconv._validation import check_non_negative, check_positive

ActLayer = Callable[[], nn.Module] | None

_CONV = {1: nn.Conv1d, 2: nn.Conv2d}
_NORM = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a channel count to the nearest multiple of ``divisor``, never dropping more than 10%.

    This is the rounding of the TensorFlow MobileNet and EfficientNet reference code, which every
    published width-multiplied figure was computed with.

    Args:
        value: the scaled channel count (e.g. ``32 * width``).
        divisor: the multiple to round to.
        min_value: the smallest result (defaults to ``divisor``).

    Returns:
        The rounded channel count.
    """
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return int(rounded)


def _padding(kernel_size: int, dilation: int) -> int:
    # Symmetric "same" padding for odd kernels: output size = ceil(input / stride).
    return (kernel_size - 1) // 2 * dilation


def _act(act_layer: ActLayer) -> nn.Module:
    return nn.Identity() if act_layer is None else act_layer()


def _spatial_dims(spatial_dims: int) -> int:
    if isinstance(spatial_dims, bool) or spatial_dims not in (1, 2):
        raise ValueError(f"`spatial_dims` must be 1 or 2. Received spatial_dims={spatial_dims!r}")
    return int(spatial_dims)


class ConvNormAct(nn.Sequential):
    """Standard (or grouped) convolution -> batch norm -> activation (``conv``, ``bn``, ``act``).

    Args:
        in_channels: input channels ``C_in``.
        out_channels: output channels ``C_out``.
        kernel_size: odd kernel size ``k`` (padding keeps ``ceil(n / stride)`` outputs).
        stride: convolution stride ``s``.
        dilation: convolution dilation.
        padding: explicit symmetric padding (default: ``dilation * (k - 1) // 2``, "same" for odd k).
        groups: channel groups (1 = standard convolution).
        norm: add a ``BatchNorm``; without it the convolution has a bias.
        act_layer: activation factory (``None`` = linear).
        spatial_dims: 1 or 2.

    Shape:
        ``(N, C_in, *n)`` -> ``(N, C_out, *ceil(n / s))``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        *,
        dilation: int = 1,
        padding: int | None = None,
        groups: int = 1,
        norm: bool = True,
        act_layer: ActLayer = nn.ReLU,
        spatial_dims: int = 2,
    ) -> None:
        dims = _spatial_dims(spatial_dims)
        conv = _CONV[dims](
            check_positive(in_channels, "in_channels"),
            check_positive(out_channels, "out_channels"),
            check_positive(kernel_size, "kernel_size"),
            check_positive(stride, "stride"),
            padding=_padding(kernel_size, dilation) if padding is None else check_non_negative(padding, "padding"),
            dilation=check_positive(dilation, "dilation"),
            groups=check_positive(groups, "groups"),
            bias=not norm,
        )
        super().__init__()
        self.conv = conv
        self.bn = _NORM[dims](out_channels) if norm else nn.Identity()
        self.act = _act(act_layer)


class DepthwiseNormAct(nn.Sequential):
    """``dsconv.nn.DepthwiseConv{1,2}d`` -> batch norm -> activation (``conv``, ``bn``, ``act``).

    Shape:
        ``(N, C, *n)`` -> ``(N, C * depth_multiplier, *ceil(n / s))``.
    """

    def __init__(
        self,
        channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        *,
        dilation: int = 1,
        depth_multiplier: int = 1,
        norm: bool = True,
        act_layer: ActLayer = nn.ReLU,
        spatial_dims: int = 2,
    ) -> None:
        from dsconv.nn import DepthwiseConv1d, DepthwiseConv2d

        dims = _spatial_dims(spatial_dims)
        layer = DepthwiseConv1d if dims == 1 else DepthwiseConv2d
        super().__init__()
        self.conv = layer(
            channels,
            kernel_size,
            stride=stride,
            padding=_padding(kernel_size, dilation),
            dilation=dilation,
            depth_multiplier=depth_multiplier,
            bias=False,  # a following norm or pointwise convolution absorbs it
        )
        self.bn = _NORM[dims](channels * depth_multiplier) if norm else nn.Identity()
        self.act = _act(act_layer)


class PointwiseNormAct(nn.Sequential):
    """``dsconv.nn.PointwiseConv{1,2}d`` -> batch norm -> activation (``conv``, ``bn``, ``act``).

    Shape:
        ``(N, C_in, *n)`` -> ``(N, C_out, *n)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        act_layer: ActLayer = nn.ReLU,
        spatial_dims: int = 2,
    ) -> None:
        from dsconv.nn import PointwiseConv1d, PointwiseConv2d

        dims = _spatial_dims(spatial_dims)
        layer = PointwiseConv1d if dims == 1 else PointwiseConv2d
        super().__init__()
        self.conv = layer(in_channels, out_channels, bias=False)
        self.bn = _NORM[dims](out_channels)
        self.act = _act(act_layer)


class DepthwiseSeparable(nn.Module):
    """Depthwise k x k -> BN -> act -> pointwise 1 x 1 -> BN -> act; one k x k convolution if ``dense``.

    Args:
        in_channels: input channels ``C_in``.
        out_channels: output channels ``C_out``.
        kernel_size: depthwise kernel size ``k``.
        stride: depthwise stride ``s``.
        dilation: depthwise dilation (atrous separable convolution).
        act_layer: activation after each convolution (``None`` = linear).
        act_dw: apply the activation between depthwise and pointwise (Xception does not).
        norm_dw: batch norm between depthwise and pointwise (Xception does not, as in Keras
            ``SeparableConv2D``).
        dense: build the standard-convolution twin.
        spatial_dims: 1 or 2.

    Attributes:
        conv_dw: ``DepthwiseNormAct`` (``nn.Identity`` in the dense twin).
        conv_pw: ``PointwiseNormAct`` (in the dense twin, the standard k x k ``ConvNormAct``).

    Shape:
        ``(N, C_in, *n)`` -> ``(N, C_out, *ceil(n / s))``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        *,
        dilation: int = 1,
        act_layer: ActLayer = nn.ReLU,
        act_dw: bool = True,
        norm_dw: bool = True,
        dense: bool = False,
        spatial_dims: int = 2,
    ) -> None:
        super().__init__()
        if dense:
            self.conv_dw: nn.Module = nn.Identity()
            self.conv_pw: nn.Module = ConvNormAct(
                in_channels, out_channels, kernel_size, stride, dilation=dilation,
                act_layer=act_layer, spatial_dims=spatial_dims,
            )
        else:
            self.conv_dw = DepthwiseNormAct(
                in_channels, kernel_size, stride, dilation=dilation, norm=norm_dw,
                act_layer=act_layer if act_dw else None, spatial_dims=spatial_dims,
            )
            self.conv_pw = PointwiseNormAct(in_channels, out_channels, act_layer=act_layer, spatial_dims=spatial_dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_dw(x)  # (N, C_in, *n / s)
        return self.conv_pw(x)  # (N, C_out, *n / s)


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation (Hu et al. 2018): a channel gate from globally pooled features.

    Args:
        channels: channels ``C`` of the gated tensor.
        rd_channels: channels of the bottleneck.
        act_layer: activation of the bottleneck.
        gate_layer: gate (``nn.Sigmoid``; MobileNetV3 uses ``nn.Hardsigmoid``).

    Shape:
        ``(N, C, H, W)`` -> ``(N, C, H, W)``.
    """

    def __init__(
        self,
        channels: int,
        rd_channels: int,
        *,
        act_layer: Callable[[], nn.Module] = nn.ReLU,
        gate_layer: Callable[[], nn.Module] = nn.Sigmoid,
    ) -> None:
        from dsconv.nn import PointwiseConv2d

        super().__init__()
        self.conv_reduce = PointwiseConv2d(channels, check_positive(rd_channels, "rd_channels"), bias=True)
        self.act = act_layer()
        self.conv_expand = PointwiseConv2d(rd_channels, channels, bias=True)
        self.gate = gate_layer()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)  # (N, C, 1, 1)
        s = self.conv_expand(self.act(self.conv_reduce(s)))  # (N, C, 1, 1)
        return x * self.gate(s)


class DropPath(nn.Module):
    """Stochastic depth (Huang et al. 2016): drop a residual branch per sample while training.

    Surviving samples are scaled by ``1 / (1 - p)``, so evaluation is the identity.

    Args:
        p: drop probability in ``[0, 1)``.
    """

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
            raise ValueError(f"`p` must be a probability in [0, 1). Received p={p!r}")
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)  # (N, 1, ...)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"p={self.p}"


class InvertedResidual(nn.Module):
    """Inverted residual with linear bottleneck (MobileNetV2), with optional SE (MobileNetV3, MBConv).

    Expand 1 x 1 (skipped when ``expand_ratio == 1``) -> depthwise k x k -> squeeze-excite -> project
    1 x 1 (linear), plus the identity shortcut when the shapes allow (stride 1, same channels), through
    ``DropPath`` (stochastic depth). With ``dense=True`` it is Fused-MBConv: expansion and depthwise
    become one k x k convolution.

    Args:
        in_channels: input channels ``C_in``.
        out_channels: output channels ``C_out``.
        kernel_size: depthwise kernel size.
        stride: depthwise stride ``s``.
        expand_ratio: hidden channels = ``in_channels * expand_ratio`` unless ``hidden_channels`` is given.
        hidden_channels: explicit expanded width (MobileNetV3 tables list it).
        se_channels: squeeze-excite bottleneck channels (0 = no SE).
        dilation: depthwise dilation.
        act_layer: activation after expansion and depthwise.
        se_act_layer, se_gate_layer: activation and gate of the squeeze-excite.
        drop_path: stochastic-depth probability of the residual branch.
        dense: build the Fused-MBConv twin.

    Attributes:
        conv_pw: expansion ``PointwiseNormAct`` (``nn.Identity`` without expansion or in the twin).
        conv_dw: ``DepthwiseNormAct`` (in the twin, the fused k x k ``ConvNormAct``).
        se: ``SqueezeExcite`` or ``nn.Identity``. conv_pwl: the linear projection ``PointwiseNormAct``.

    Shape:
        ``(N, C_in, H, W)`` -> ``(N, C_out, ceil(H / s), ceil(W / s))``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        *,
        expand_ratio: float = 6,
        hidden_channels: int | None = None,
        se_channels: int = 0,
        dilation: int = 1,
        act_layer: ActLayer = nn.ReLU6,
        se_act_layer: Callable[[], nn.Module] = nn.ReLU,
        se_gate_layer: Callable[[], nn.Module] = nn.Sigmoid,
        drop_path: float = 0.0,
        dense: bool = False,
    ) -> None:
        super().__init__()
        hidden = round(in_channels * expand_ratio) if hidden_channels is None else hidden_channels
        hidden = check_positive(hidden, "hidden_channels")
        self.has_shortcut = stride == 1 and in_channels == out_channels
        if dense:
            self.conv_pw: nn.Module = nn.Identity()
            self.conv_dw: nn.Module = ConvNormAct(
                in_channels, hidden, kernel_size, stride, dilation=dilation, act_layer=act_layer
            )
        else:
            self.conv_pw = (
                nn.Identity() if hidden == in_channels else PointwiseNormAct(in_channels, hidden, act_layer=act_layer)
            )
            self.conv_dw = DepthwiseNormAct(hidden, kernel_size, stride, dilation=dilation, act_layer=act_layer)
        self.se = (
            SqueezeExcite(hidden, se_channels, act_layer=se_act_layer, gate_layer=se_gate_layer)
            if check_non_negative(se_channels, "se_channels") > 0
            else nn.Identity()
        )
        self.conv_pwl = PointwiseNormAct(hidden, out_channels, act_layer=None)
        self.drop_path = DropPath(drop_path) if self.has_shortcut else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_pw(x)  # (N, hidden, H, W)
        out = self.conv_dw(out)  # (N, hidden, H / s, W / s)
        out = self.se(out)
        out = self.conv_pwl(out)  # (N, C_out, H / s, W / s)
        if self.has_shortcut:
            out = x + self.drop_path(out)
        return out
