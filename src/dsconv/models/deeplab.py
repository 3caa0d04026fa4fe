"""DeepLabV3+-style segmentation (Chen et al. 2018, "Encoder-Decoder with Atrous Separable Convolution",
arXiv:1802.02611) with a MobileNetV2 backbone.

The backbone is MobileNetV2 with ``output_stride`` 16 (the last stride replaced by dilation 2). ASPP:
a 1 x 1 branch, three 3 x 3 *atrous separable* branches (rates 6, 12, 18 at output stride 16; doubled
at 8) and an image-pooling branch, each 256 channels with BN and ReLU, concatenated and projected by a
1 x 1 convolution. Decoder: the stride-4 backbone features reduced to 48 channels by a 1 x 1
convolution, concatenated with the upsampled ASPP output, two 3 x 3 separable convolutions of 256
channels, a 1 x 1 classifier and bilinear upsampling to the input size.

``dense_head=True`` makes the ASPP and decoder convolutions standard (the paper's comparison, Section
4: separable ASPP and decoder save 33-41% of the multiply-adds); ``dense=True`` also makes the backbone
standard (Fused-MBConv) and implies ``dense_head``.

Example:
    >>> import torch
    >>> model = deeplabv3plus_mobilenet_v2(width=0.35, num_classes=3)
    >>> model(torch.randn(2, 3, 64, 64)).shape
    torch.Size([2, 3, 64, 64])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dsconv.models._common import ZooModel, check_common, check_output_stride
from dsconv.models._registry import register_model
from dsconv.models.mobilenet_v2 import MobileNetV2Features
from dsconv.nn.blocks import ConvNormAct, DepthwiseSeparable


def _conv3x3(in_channels: int, out_channels: int, dilation: int, dense: bool) -> nn.Module:
    return DepthwiseSeparable(in_channels, out_channels, 3, dilation=dilation, dense=dense)


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling with separable atrous branches.

    Args:
        in_channels: backbone channels.
        out_channels: channels of every branch and of the projection (256).
        rates: dilation rates of the three 3 x 3 branches.
        dense: standard instead of separable 3 x 3 branches.

    Shape:
        ``(N, in_channels, H, W)`` -> ``(N, out_channels, H, W)``.
    """

    def __init__(
        self, in_channels: int, out_channels: int = 256, rates: tuple[int, ...] = (6, 12, 18), dense: bool = False
    ) -> None:
        super().__init__()
        self.branch_1x1 = ConvNormAct(in_channels, out_channels, 1)
        self.branches_atrous = nn.ModuleList(_conv3x3(in_channels, out_channels, r, dense) for r in rates)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.branch_pool = ConvNormAct(in_channels, out_channels, 1)
        self.project = ConvNormAct(out_channels * (len(rates) + 2), out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        pooled = F.interpolate(self.branch_pool(self.pool(x)), size=size, mode="bilinear", align_corners=False)
        outs = [self.branch_1x1(x), *(branch(x) for branch in self.branches_atrous), pooled]
        return self.project(torch.cat(outs, dim=1))  # (N, 256, H, W)


class DeepLabV3Plus(ZooModel):
    """DeepLabV3+ with a MobileNetV2 backbone.

    Args:
        num_classes: classes per pixel (21 for PASCAL VOC).
        in_channels: input image channels.
        width: backbone width multiplier (the 256/48-channel head is not scaled).
        resolution: input size the cost figures are for (513 in the paper).
        dense: standard convolutions everywhere (backbone Fused-MBConv, dense head).
        dense_head: standard 3 x 3 convolutions in ASPP and decoder only (defaults to ``dense``).
        output_stride: 16 or 8.

    Shape:
        ``(N, in_channels, H, W)`` -> ``(N, num_classes, H, W)``, ``H, W >= output_stride``.
    """

    def __init__(
        self, num_classes: int = 21, in_channels: int = 3, width: float = 1.0, resolution: int = 513,
        dense: bool = False, dense_head: bool | None = None, output_stride: int = 16,
    ) -> None:
        output_stride = check_output_stride(output_stride, (8, 16))
        num_classes, in_channels, width, resolution = check_common(
            "deeplabv3plus", num_classes=num_classes, in_channels=in_channels, width=width,
            resolution=resolution, min_resolution=output_stride,
        )
        super().__init__("deeplabv3plus", (in_channels, resolution, resolution), (output_stride, output_stride))
        dense_head = dense if dense_head is None else bool(dense_head)
        self.backbone = MobileNetV2Features(in_channels, width, output_stride, dense)
        rates = (6, 12, 18) if output_stride == 16 else (12, 24, 36)
        self.aspp = ASPP(self.backbone.out_channels, 256, rates, dense_head)
        self.low_level = ConvNormAct(self.backbone.low_level_channels, 48, 1)
        self.decoder = nn.Sequential(_conv3x3(256 + 48, 256, 1, dense_head), _conv3x3(256, 256, 1, dense_head))
        self.classifier = nn.Conv2d(256, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        size = x.shape[-2:]
        high, low = self.backbone(x, return_low=True)  # (N, 320a, H/16, W/16), (N, 24a, H/4, W/4)
        high = self.aspp(high)  # (N, 256, H/16, W/16)
        low = self.low_level(low)  # (N, 48, H/4, W/4)
        high = F.interpolate(high, size=low.shape[-2:], mode="bilinear", align_corners=False)
        out = self.decoder(torch.cat([high, low], dim=1))  # (N, 256, H/4, W/4)
        out = self.classifier(out)  # (N, num_classes, H/4, W/4)
        return F.interpolate(out, size=size, mode="bilinear", align_corners=False)  # (N, num_classes, H, W)


@register_model
def deeplabv3plus_mobilenet_v2(
    *, num_classes: int = 21, in_channels: int = 3, width: float = 1.0, resolution: int = 513,
    dense: bool = False, dense_head: bool | None = None, output_stride: int = 16,
) -> DeepLabV3Plus:
    """DeepLabV3+ (atrous separable ASPP and decoder) on MobileNetV2, output stride 16, 513 x 513."""
    return DeepLabV3Plus(num_classes, in_channels, width, resolution, dense, dense_head, output_stride)
