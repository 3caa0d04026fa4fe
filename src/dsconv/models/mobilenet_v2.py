"""MobileNetV2 (Sandler et al. 2018, "Inverted Residuals and Linear Bottlenecks", arXiv:1801.04381).

A 3 x 3 stem, 17 inverted-residual bottlenecks (Table 2: expansion ``t``, channels ``c``, repeats
``n``, stride ``s``), a 1 x 1 convolution to 1280 channels, pooling and the classifier. ``width``
scales every layer with ``make_divisible(., 8)``; the last 1 x 1 convolution is scaled only when
``width > 1`` (as in the paper's reference code). ``dense=True`` builds the Fused-MBConv twin (see
``dsconv.nn.blocks.InvertedResidual``).

``output_stride`` 16 or 8 replaces the last strides by dilation (DeepLab's atrous backbone); the
classifier networks use 32.

Example:
    >>> import torch
    >>> mobilenet_v2(width=0.35, num_classes=10)(torch.randn(2, 3, 64, 64)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

import torch
from torch import nn

from dsconv.models._common import ClassifierHead, ZooModel, check_common, check_output_stride
from dsconv.models._registry import register_model
from dsconv.nn.blocks import ConvNormAct, InvertedResidual, make_divisible

# (expansion t, channels c, repeats n, first stride s): paper Table 2.
_STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
_STEM = 32
_LAST = 1280
_TOTAL_STRIDE = 32


class MobileNetV2Features(nn.Module):
    """The MobileNetV2 feature extractor (stem and bottlenecks, without the last 1 x 1 convolution).

    Args:
        in_channels: input channels.
        width: width multiplier.
        output_stride: 32 (classification), 16 or 8 (atrous, for dense prediction).
        dense: Fused-MBConv twin.

    Attributes:
        low_level_channels: channels of the stride-4 features returned by ``forward(..., return_low=True)``.
        out_channels: channels of the last features.

    Shape:
        ``(N, in_channels, H, W)`` -> ``(N, out_channels, H / output_stride, W / output_stride)``.
    """

    def __init__(self, in_channels: int = 3, width: float = 1.0, output_stride: int = 32, dense: bool = False) -> None:
        super().__init__()
        output_stride = check_output_stride(output_stride, (8, 16, 32))
        channels = make_divisible(_STEM * width)
        self.stem = ConvNormAct(in_channels, channels, 3, 2, act_layer=nn.ReLU6)
        stride_so_far, dilation = 2, 1
        blocks = []
        for index, (t, c, n, s) in enumerate(_STAGES):
            out = make_divisible(c * width)
            if stride_so_far * s > output_stride:
                dilation, s = dilation * s, 1
            stride_so_far *= s
            for i in range(n):
                block = InvertedResidual(
                    channels, out, 3, s if i == 0 else 1, expand_ratio=t, dilation=dilation, dense=dense
                )
                blocks.append(block)
                channels = out
            if index == 1:
                self.low_level_index = len(blocks)
                self.low_level_channels = channels
        self.blocks = nn.Sequential(*blocks)
        self.out_channels = channels

    def forward(self, x: torch.Tensor, return_low: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        x = self.stem(x)  # (N, 32a, H/2, W/2)
        low = self.blocks[: self.low_level_index](x)  # (N, 24a, H/4, W/4)
        x = self.blocks[self.low_level_index :](low)  # (N, 320a, H/os, W/os)
        return (x, low) if return_low else x


class MobileNetV2(ZooModel):
    """MobileNetV2 classifier.

    Args:
        num_classes: classifier outputs.
        in_channels: input image channels.
        width: width multiplier (0.35 to 1.4 in the paper).
        resolution: input size the cost figures are for (96 to 224 in the paper).
        dense: Fused-MBConv twin.
        dropout: dropout before the classifier (0.2 in the reference code).

    Shape:
        ``(N, in_channels, H, W)`` -> ``(N, num_classes)``, ``H, W >= 32``.
    """

    def __init__(
        self, num_classes: int = 1000, in_channels: int = 3, width: float = 1.0, resolution: int = 224,
        dense: bool = False, dropout: float = 0.2,
    ) -> None:
        num_classes, in_channels, width, resolution = check_common(
            "mobilenet_v2", num_classes=num_classes, in_channels=in_channels, width=width,
            resolution=resolution, min_resolution=_TOTAL_STRIDE,
        )
        super().__init__("mobilenet_v2", (in_channels, resolution, resolution), (_TOTAL_STRIDE, _TOTAL_STRIDE))
        self.features = MobileNetV2Features(in_channels, width, 32, dense)
        last = make_divisible(_LAST * max(1.0, width))
        self.conv_head = ConvNormAct(self.features.out_channels, last, 1, act_layer=nn.ReLU6)
        self.num_features = last
        self.head = ClassifierHead(last, num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x = self.features(x)  # (N, 320a, H/32, W/32)
        x = self.conv_head(x)  # (N, 1280, H/32, W/32)
        return self.head(x)  # (N, num_classes)


@register_model
def mobilenet_v2(
    *, num_classes: int = 1000, in_channels: int = 3, width: float = 1.0, resolution: int = 224,
    dense: bool = False, dropout: float = 0.2,
) -> MobileNetV2:
    """MobileNetV2 (1.0-224 by default; ``width=1.4`` for the paper's largest model)."""
    return MobileNetV2(num_classes, in_channels, width, resolution, dense, dropout)
