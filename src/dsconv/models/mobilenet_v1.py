"""MobileNetV1 (Howard et al. 2017, "MobileNets", arXiv:1704.04861).

A 3 x 3 standard convolution (stride 2) followed by 13 depthwise-separable layers (Table 1), global
average pooling and one fully-connected layer. Table 1 lists the last depthwise layer with stride 2, a
typo: the 7 x 7 feature map of the previous layer stays 7 x 7, so it has stride 1 (as in the reference
TensorFlow code). The width multiplier ``width`` (alpha) scales every layer's channels; ``resolution``
(the input size, rho x 224) only changes the cost figures, the network is the same.

``dense=True`` (and the registered ``mobilenet_v1_dense``) is the paper's "Conv MobileNet" of Table 4:
each depthwise-separable layer becomes one 3 x 3 standard convolution.

Example:
    >>> import torch
    >>> model = mobilenet_v1(width=0.25, num_classes=10)
    >>> model(torch.randn(2, 3, 64, 64)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

import torch
from torch import nn

from dsconv.models._common import ClassifierHead, ZooModel, check_common
from dsconv.models._registry import register_model
from dsconv.nn.blocks import ConvNormAct, DepthwiseSeparable, make_divisible

# (out_channels, stride) of the 13 depthwise-separable layers (paper Table 1, typo fixed).
_LAYERS = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
)
_STEM = 32
_TOTAL_STRIDE = 32


class MobileNetV1(ZooModel):
    """MobileNetV1 classifier.

    Args:
        num_classes: classifier outputs.
        in_channels: input image channels.
        width: width multiplier alpha (channels ``make_divisible(alpha * c, 8)``).
        resolution: input size the cost figures are for (224, 192, 160, 128 in the paper).
        dense: standard 3 x 3 convolutions instead of depthwise-separable ones (paper Table 4).
        dropout: dropout before the classifier.

    Shape:
        ``(N, in_channels, H, W)`` -> ``(N, num_classes)``, ``H, W >= 32``.
    """

    def __init__(
        self,
        num_classes: int = 1000,
        in_channels: int = 3,
        width: float = 1.0,
        resolution: int = 224,
        dense: bool = False,
        dropout: float = 0.0,
    ) -> None:
        num_classes, in_channels, width, resolution = check_common(
            "mobilenet_v1", num_classes=num_classes, in_channels=in_channels, width=width,
            resolution=resolution, min_resolution=_TOTAL_STRIDE,
        )
        super().__init__("mobilenet_v1", (in_channels, resolution, resolution), (_TOTAL_STRIDE, _TOTAL_STRIDE))
        channels = make_divisible(_STEM * width)
        self.stem = ConvNormAct(in_channels, channels, 3, 2)
        layers = []
        for out, stride in _LAYERS:
            out = make_divisible(out * width)
            layers.append(DepthwiseSeparable(channels, out, 3, stride, dense=dense))
            channels = out
        self.features = nn.Sequential(*layers)
        self.num_features = channels
        self.head = ClassifierHead(channels, num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x = self.stem(x)  # (N, 32a, H/2, W/2)
        x = self.features(x)  # (N, 1024a, H/32, W/32)
        return self.head(x)  # (N, num_classes)


@register_model
def mobilenet_v1(
    *, num_classes: int = 1000, in_channels: int = 3, width: float = 1.0, resolution: int = 224,
    dense: bool = False, dropout: float = 0.0,
) -> MobileNetV1:
    """MobileNetV1 (depthwise-separable); ``width`` 1.0/0.75/0.5/0.25, ``resolution`` 224/192/160/128."""
    return MobileNetV1(num_classes, in_channels, width, resolution, dense, dropout)


@register_model
def mobilenet_v1_dense(
    *, num_classes: int = 1000, in_channels: int = 3, width: float = 1.0, resolution: int = 224,
    dropout: float = 0.0,
) -> MobileNetV1:
    """MobileNetV1's standard-convolution twin ("Conv MobileNet", paper Table 4)."""
    return MobileNetV1(num_classes, in_channels, width, resolution, True, dropout)
