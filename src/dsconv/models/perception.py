"""A real-time dense-prediction network for robots: a small separable encoder-decoder.

One camera image in, one map out at the input resolution: ``num_classes=1`` for monocular depth (or
any per-pixel regression), ``num_classes=2`` for free-space / obstacle segmentation. The encoder is
a MobileNetV2-style stack of inverted residuals (expansion 4) down to stride 32; the decoder is
U-Net-like: at each scale it upsamples bilinearly, concatenates the encoder's skip features and fuses
them with one depthwise-separable 3 x 3 convolution, so every spatial filter in the network is
depthwise. A 1 x 1 head predicts at stride 2 and the output is upsampled to the input size. At
224 x 224 it costs well under 1 GMAC (the budget of an embedded CPU at camera rate; see
``dsconv.models._published`` for the measured figure). ``dense=True`` is the standard-convolution twin.

Example:
    >>> import torch
    >>> perception_net(width=0.5)(torch.randn(2, 3, 64, 64)).shape
    torch.Size([2, 1, 64, 64])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dsconv.models._common import ZooModel, check_common
from dsconv.models._registry import register_model
from dsconv.nn.blocks import ConvNormAct, DepthwiseSeparable, InvertedResidual, make_divisible

# Encoder stages (channels, repeats); each starts with a stride-2 block: strides 4, 8, 16, 32.
_ENCODER = ((24, 2), (32, 3), (64, 3), (128, 2))
_STEM = 16
_DECODER = (64, 32, 24, 16)  # fused channels at strides 16, 8, 4, 2
_TOTAL_STRIDE = 32


class PerceptionNet(ZooModel):
    """Separable encoder-decoder for per-pixel prediction.

    Args:
        num_classes: output channels per pixel (1 = depth, 2 = free space).
        in_channels: input image channels.
        width: channel multiplier of encoder and decoder.
        resolution: input size the cost figures are for (224).
        dense: standard 3 x 3 convolutions instead of depthwise-separable ones (Fused-MBConv encoder).

    Shape:
        ``(N, in_channels, H, W)`` -> ``(N, num_classes, H, W)``, ``H, W >= 32``.
    """

    def __init__(
        self, num_classes: int = 1, in_channels: int = 3, width: float = 1.0, resolution: int = 224,
        dense: bool = False,
    ) -> None:
        num_classes, in_channels, width, resolution = check_common(
            "perception_net", num_classes=num_classes, in_channels=in_channels, width=width,
            resolution=resolution, min_resolution=_TOTAL_STRIDE,
        )
        super().__init__("perception_net", (in_channels, resolution, resolution), (_TOTAL_STRIDE, _TOTAL_STRIDE))
        channels = make_divisible(_STEM * width)
        self.stem = ConvNormAct(in_channels, channels, 3, 2, act_layer=nn.ReLU6)
        skips, stages = [channels], []
        for out, repeats in _ENCODER:
            out = make_divisible(out * width)
            blocks = []
            for i in range(repeats):
                blocks.append(InvertedResidual(channels, out, 3, 2 if i == 0 else 1, expand_ratio=4, dense=dense))
                channels = out
            stages.append(nn.Sequential(*blocks))
            skips.append(channels)
        self.encoder = nn.ModuleList(stages)
        fuse = []
        for out, skip in zip(_DECODER, reversed(skips[:-1])):
            out = make_divisible(out * width)
            fuse.append(DepthwiseSeparable(channels + skip, out, 3, act_layer=nn.ReLU6, dense=dense))
            channels = out
        self.decoder = nn.ModuleList(fuse)
        self.head = nn.Conv2d(channels, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        size = x.shape[-2:]
        x = self.stem(x)  # (N, 16w, H/2, W/2)
        skips = [x]
        for stage in self.encoder:
            x = stage(x)  # strides 4, 8, 16, 32
            skips.append(x)
        for fuse, skip in zip(self.decoder, reversed(skips[:-1])):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = fuse(torch.cat([x, skip], dim=1))  # strides 16, 8, 4, 2
        x = self.head(x)  # (N, num_classes, H/2, W/2)
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)  # (N, num_classes, H, W)


@register_model
def perception_net(
    *, num_classes: int = 1, in_channels: int = 3, width: float = 1.0, resolution: int = 224, dense: bool = False,
) -> PerceptionNet:
    """Separable encoder-decoder for depth (``num_classes=1``) or free space (2) from one camera."""
    return PerceptionNet(num_classes, in_channels, width, resolution, dense)
