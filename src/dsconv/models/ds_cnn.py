"""DS-CNN for keyword spotting (Zhang et al. 2017, "Hello Edge: Keyword Spotting on Microcontrollers",
arXiv:1711.07128), and a 1D variant over raw or framed audio.

The 2D network reads 49 x 10 MFCC (49 frames of 10 coefficients, ``default_input_size = (1, 49, 10)``):
a standard 10 x 4 convolution with TensorFlow "same" padding, then depthwise-separable 3 x 3 layers
(each depthwise and pointwise convolution followed by batch norm and ReLU), average pooling and a
12-way classifier. The sizes are those of the paper's reference code (ARM ML-KWS-for-MCU):

- S: 64 channels, first conv stride (2, 2), 4 DS layers of stride 1;
- M: 172 channels, first conv stride (2, 1), 4 DS layers, the first of stride 2;
- L: 276 channels, first conv stride (2, 1), 5 DS layers, the first of stride 2.

``width`` scales the channels (``round(width * c)``: 172 and 276 are not multiples of 8, so no
multiple-of-8 rounding); ``dense=True`` replaces each DS layer by a standard 3 x 3 convolution.
How the paper's memory and operation figures are counted is in :mod:`dsconv.models._published`.

Example:
    >>> import torch
    >>> ds_cnn_s()(torch.randn(2, 1, 49, 10)).shape
    torch.Size([2, 12])
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from dsconv._validation import check_positive
from dsconv.functional.shapes import same_padding
from dsconv.models._common import ClassifierHead, ZooModel, check_common
from dsconv.models._registry import register_model
from dsconv.nn.blocks import ConvNormAct, DepthwiseSeparable

# size -> (channels, first-conv stride, strides of the DS layers): ML-KWS-for-MCU `model_size_info`.
SIZES = {
    "s": (64, (2, 2), (1, 1, 1, 1)),
    "m": (172, (2, 1), (2, 1, 1, 1)),
    "l": (276, (2, 1), (2, 1, 1, 1, 1)),
}
_KERNEL = (10, 4)
_INPUT = (49, 10)  # frames x MFCC coefficients


class SamePadConv(nn.Module):
    """Standard convolution -> BN -> ReLU with TensorFlow "same" padding computed from the input size.

    The padding is asymmetric for even kernels (the extra pixel goes after), as in the paper's
    TensorFlow code; ``dsconv.functional.shapes.same_padding`` computes it.

    Shape:
        ``(N, C_in, *n)`` -> ``(N, C_out, *ceil(n / stride))``.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: tuple[int, ...], stride: tuple[int, ...]
    ) -> None:
        super().__init__()
        self.kernel_size, self.stride = tuple(kernel_size), tuple(stride)
        conv_cls, norm_cls = (nn.Conv1d, nn.BatchNorm1d) if len(self.kernel_size) == 1 else (nn.Conv2d, nn.BatchNorm2d)
        self.conv = conv_cls(in_channels, out_channels, self.kernel_size, self.stride, bias=False)
        self.bn = norm_cls(out_channels)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = [same_padding(n, k, s, 1) for n, k, s in zip(x.shape[2:], self.kernel_size, self.stride)]
        flat = [p for pair in reversed(pads) for p in pair]  # F.pad wants the last dimension first
        return self.act(self.bn(self.conv(F.pad(x, flat))))


class DSCNN(ZooModel):
    """DS-CNN keyword-spotting network over MFCC "images".

    Args:
        size: ``"s"``, ``"m"`` or ``"l"``.
        num_classes: keywords (12: ten words, silence, unknown).
        in_channels: input channels (1 MFCC map).
        width: channel multiplier.
        resolution: frames of the input (49); the MFCC count stays 10.
        dense: standard 3 x 3 convolutions instead of DS layers.
        dropout: dropout before the classifier.

    Shape:
        ``(N, in_channels, frames, 10)`` -> ``(N, num_classes)``.
    """

    def __init__(
        self, size: str, num_classes: int = 12, in_channels: int = 1, width: float = 1.0, resolution: int = 49,
        dense: bool = False, dropout: float = 0.0,
    ) -> None:
        family = f"ds_cnn_{size}"
        num_classes, in_channels, width, resolution = check_common(
            family, num_classes=num_classes, in_channels=in_channels, width=width, resolution=resolution,
            min_resolution=1,
        )
        super().__init__(family, (in_channels, resolution, _INPUT[1]), (1, 1))
        channels, stride, ds_strides = SIZES[size]
        channels = max(1, round(channels * width))
        self.stem = SamePadConv(in_channels, channels, _KERNEL, stride)
        self.features = nn.Sequential(*(DepthwiseSeparable(channels, channels, 3, s, dense=dense) for s in ds_strides))
        self.num_features = channels
        self.head = ClassifierHead(channels, num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x = self.stem(x)  # (N, C, 25, 5 | 10)
        x = self.features(x)  # (N, C, 25 | 13, 5)
        return self.head(x)  # (N, num_classes)


class DSCNN1d(ZooModel):
    """DS-CNN over a 1D signal: raw audio (1 channel) or framed features (one channel per coefficient).

    A strided standard 1D convolution (a learned filter bank on raw audio), four depthwise-separable
    1D layers of kernel 9 and stride 2, average pooling and the classifier.

    Args:
        num_classes: keywords.
        in_channels: 1 for a waveform, or the features per frame (e.g. 40 MFCC).
        width: channel multiplier of the 64 base channels.
        resolution: input length (16000 samples = 1 s at 16 kHz, or 49 frames).
        stem_kernel, stem_stride: the first convolution (80 / 16: 5 ms windows every 1 ms at 16 kHz).
        dense: standard convolutions instead of DS layers.

    Shape:
        ``(N, in_channels, L)`` -> ``(N, num_classes)``, ``L >= stem_kernel``.
    """

    def __init__(
        self, num_classes: int = 12, in_channels: int = 1, width: float = 1.0, resolution: int = 16000,
        stem_kernel: int = 80, stem_stride: int = 16, dense: bool = False,
    ) -> None:
        stem_kernel = check_positive(stem_kernel, "stem_kernel")
        stem_stride = check_positive(stem_stride, "stem_stride")
        num_classes, in_channels, width, resolution = check_common(
            "ds_cnn_1d", num_classes=num_classes, in_channels=in_channels, width=width, resolution=resolution,
            min_resolution=stem_kernel,
        )
        super().__init__("ds_cnn_1d", (in_channels, resolution), (stem_kernel,))
        channels = max(1, round(64 * width))
        self.stem = ConvNormAct(in_channels, channels, stem_kernel, stem_stride, padding=0, spatial_dims=1)
        self.features = nn.Sequential(
            *(DepthwiseSeparable(channels, channels, 9, 2, dense=dense, spatial_dims=1) for _ in range(4))
        )
        self.num_features = channels
        self.head = ClassifierHead(channels, num_classes, spatial_dims=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x = self.stem(x)  # (N, C, L / 16)
        x = self.features(x)  # (N, C, L / 256)
        return self.head(x)  # (N, num_classes)


def _factory(size: str) -> Callable[..., DSCNN]:
    """Build and register the factory of one size."""

    def factory(
        *, num_classes: int = 12, in_channels: int = 1, width: float = 1.0, resolution: int = 49,
        dense: bool = False, dropout: float = 0.0,
    ) -> DSCNN:
        return DSCNN(size, num_classes, in_channels, width, resolution, dense, dropout)

    factory.__name__ = factory.__qualname__ = f"ds_cnn_{size}"
    channels, _, strides = SIZES[size]
    factory.__doc__ = f"DS-CNN-{size.upper()}: {channels} channels, {len(strides)} DS layers (Hello Edge)."
    return register_model(factory)


ds_cnn_s = _factory("s")
ds_cnn_m = _factory("m")
ds_cnn_l = _factory("l")


@register_model
def ds_cnn_1d(
    *, num_classes: int = 12, in_channels: int = 1, width: float = 1.0, resolution: int = 16000,
    stem_kernel: int = 80, stem_stride: int = 16, dense: bool = False,
) -> DSCNN1d:
    """DS-CNN-1D over raw audio (1 x 16000), or over framed features with
    ``in_channels=40, resolution=49, stem_kernel=3, stem_stride=1``."""
    return DSCNN1d(num_classes, in_channels, width, resolution, stem_kernel, stem_stride, dense)
