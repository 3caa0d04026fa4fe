"""MobileNetV3 Large and Small (Howard et al. 2019, "Searching for MobileNetV3", arXiv:1905.02244).

Inverted residuals (Tables 1 and 2: kernel, expanded size, output channels, squeeze-excite,
nonlinearity, stride) with hard-swish in the later layers and squeeze-excitation whose bottleneck is
``make_divisible(expanded / 4, 8)`` with a hard-sigmoid gate. The head is the paper's efficient last
stage: 1 x 1 convolution, pooling, a 1 x 1 convolution without batch norm (1280 / 1024 channels), and
the classifier. ``width`` scales the bottlenecks (``make_divisible(., 8)``), not the 1280/1024 head,
as in the reference code. ``dense=True`` builds the Fused-MBConv twin.

Example:
    >>> import torch
    >>> mobilenet_v3_small(width=0.5, num_classes=10)(torch.randn(2, 3, 64, 64)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

import torch
from torch import nn

from dsconv.models._common import ZooModel, check_common, check_dropout
from dsconv.models._registry import register_model
from dsconv.nn.blocks import ConvNormAct, InvertedResidual, make_divisible

# (kernel, expanded, out, squeeze-excite, hard-swish, stride): paper Table 1 (Large) and Table 2 (Small).
_LARGE = (
    (3, 16, 16, False, False, 1), (3, 64, 24, False, False, 2), (3, 72, 24, False, False, 1),
    (5, 72, 40, True, False, 2), (5, 120, 40, True, False, 1), (5, 120, 40, True, False, 1),
    (3, 240, 80, False, True, 2), (3, 200, 80, False, True, 1), (3, 184, 80, False, True, 1),
    (3, 184, 80, False, True, 1), (3, 480, 112, True, True, 1), (3, 672, 112, True, True, 1),
    (5, 672, 160, True, True, 2), (5, 960, 160, True, True, 1), (5, 960, 160, True, True, 1),
)
_SMALL = (
    (3, 16, 16, True, False, 2), (3, 72, 24, False, False, 2), (3, 88, 24, False, False, 1),
    (5, 96, 40, True, True, 2), (5, 240, 40, True, True, 1), (5, 240, 40, True, True, 1),
    (5, 120, 48, True, True, 1), (5, 144, 48, True, True, 1), (5, 288, 96, True, True, 2),
    (5, 576, 96, True, True, 1), (5, 576, 96, True, True, 1),
)
_CONFIGS = {"large": (_LARGE, 960, 1280), "small": (_SMALL, 576, 1024)}
_TOTAL_STRIDE = 32


def _bottlenecks(config: tuple, channels: int, width: float, dense: bool) -> tuple[nn.Sequential, int]:
    blocks = []
    for kernel, expanded, out, use_se, use_hs, stride in config:
        hidden = make_divisible(expanded * width)
        out = make_divisible(out * width)
        blocks.append(
            InvertedResidual(
                channels, out, kernel, stride, hidden_channels=hidden,
                se_channels=make_divisible(hidden / 4) if use_se else 0,
                act_layer=nn.Hardswish if use_hs else nn.ReLU, se_gate_layer=nn.Hardsigmoid, dense=dense,
            )
        )
        channels = out
    return nn.Sequential(*blocks), channels


class MobileNetV3(ZooModel):
    """MobileNetV3 classifier.

    Args:
        variant: ``"large"`` or ``"small"``.
        num_classes: classifier outputs.
        in_channels: input image channels.
        width: width multiplier of the bottlenecks.
        resolution: input size the cost figures are for.
        dense: Fused-MBConv twin.
        dropout: dropout before the classifier (0.2 in the paper).

    Shape:
        ``(N, in_channels, H, W)`` -> ``(N, num_classes)``, ``H, W >= 32``.
    """

    def __init__(
        self, variant: str, num_classes: int = 1000, in_channels: int = 3, width: float = 1.0,
        resolution: int = 224, dense: bool = False, dropout: float = 0.2,
    ) -> None:
        family = f"mobilenet_v3_{variant}"
        num_classes, in_channels, width, resolution = check_common(
            family, num_classes=num_classes, in_channels=in_channels, width=width,
            resolution=resolution, min_resolution=_TOTAL_STRIDE,
        )
        super().__init__(family, (in_channels, resolution, resolution), (_TOTAL_STRIDE, _TOTAL_STRIDE))
        config, last_conv, head = _CONFIGS[variant]
        stem = make_divisible(16 * width)
        self.stem = ConvNormAct(in_channels, stem, 3, 2, act_layer=nn.Hardswish)
        self.blocks, channels = _bottlenecks(config, stem, width, dense)
        last_conv = make_divisible(last_conv * width)
        self.conv_head = ConvNormAct(channels, last_conv, 1, act_layer=nn.Hardswish)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.conv_pre_logits = ConvNormAct(last_conv, head, 1, norm=False, act_layer=nn.Hardswish)
        self.flatten = nn.Flatten(1)
        self.drop = nn.Dropout(check_dropout(dropout))
        self.fc = nn.Linear(head, num_classes)
        self.num_features = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x = self.stem(x)  # (N, 16, H/2, W/2)
        x = self.blocks(x)  # (N, 160 | 96, H/32, W/32)
        x = self.pool(self.conv_head(x))  # (N, 960 | 576, 1, 1)
        x = self.flatten(self.conv_pre_logits(x))  # (N, 1280 | 1024)
        return self.fc(self.drop(x))  # (N, num_classes)


@register_model
def mobilenet_v3_large(
    *, num_classes: int = 1000, in_channels: int = 3, width: float = 1.0, resolution: int = 224,
    dense: bool = False, dropout: float = 0.2,
) -> MobileNetV3:
    """MobileNetV3-Large (paper Table 1)."""
    return MobileNetV3("large", num_classes, in_channels, width, resolution, dense, dropout)


@register_model
def mobilenet_v3_small(
    *, num_classes: int = 1000, in_channels: int = 3, width: float = 1.0, resolution: int = 224,
    dense: bool = False, dropout: float = 0.2,
) -> MobileNetV3:
    """MobileNetV3-Small (paper Table 2)."""
    return MobileNetV3("small", num_classes, in_channels, width, resolution, dense, dropout)
