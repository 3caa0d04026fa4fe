"""A small depthwise-separable CNN for quick runs on small inputs (digits at 8x8, MFCC maps, tests).

The zoo's ImageNet networks need inputs of at least 32 x 32 (total stride 32); this one has total
stride 2 and works on anything from 4 x 4 up:

    stem 3x3 conv (stride 1) -> [depthwise 3x3 (stride s) -> pointwise 1x1] x 2 -> global average -> linear

Usable from the command line as ``dsconv train dsconv.train.smallnet:small_cnn --data digits --size 8``;
``conv_map`` is one (separable or dense) image-to-image layer for the shift task
(``dsconv train dsconv.train.smallnet:conv_map --data shift_task``).
"""

from __future__ import annotations

from typing import Any

from dsconv._validation import check_positive


def small_cnn(*, num_classes: int = 10, in_channels: int = 1, width: int = 16, norm: bool = True,
              dropout: float = 0.0) -> Any:
    """Build the small separable CNN.

    Args:
        num_classes: classifier outputs.
        in_channels: input channels.
        width: stem channels (the separable layers have ``width`` and ``2 * width`` outputs).
        norm: batch norm after every convolution (``False``: convolutions with bias, e.g. for exact
            DDP-vs-single-process comparisons, where per-process batch statistics would differ).
        dropout: dropout before the classifier.

    Shape:
        ``(N, in_channels, H, W)`` -> ``(N, num_classes)``; the feature map is ``ceil(H / 2) x ceil(W / 2)``.
    """
    from torch import nn

    from dsconv.nn import DepthwiseConv2d, PointwiseConv2d

    num_classes = check_positive(num_classes, "num_classes")
    in_channels = check_positive(in_channels, "in_channels")
    width = check_positive(width, "width")

    def block(conv: nn.Module, channels: int) -> list[nn.Module]:
        return [conv, nn.BatchNorm2d(channels) if norm else nn.Identity(), nn.ReLU()]

    layers = [
        *block(nn.Conv2d(in_channels, width, 3, padding=1, bias=not norm), width),
        *block(DepthwiseConv2d(width, 3, stride=1, padding=1, bias=not norm), width),
        *block(PointwiseConv2d(width, width, bias=not norm), width),
        *block(DepthwiseConv2d(width, 3, stride=2, padding=1, bias=not norm), width),
        *block(PointwiseConv2d(width, 2 * width, bias=not norm), 2 * width),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(dropout),
        nn.Linear(2 * width, num_classes),
    ]
    return nn.Sequential(*layers)


def conv_map(*, in_channels: int = 1, out_channels: int = 2, kernel_size: int = 3, separable: bool = True,
             padding_mode: str = "circular") -> Any:
    """One convolution layer mapping images to images (the shift task's model).

    Args:
        in_channels: input channels.
        out_channels: output maps.
        kernel_size: odd kernel size ``k``; padding ``k // 2`` keeps the spatial size.
        separable: a depthwise-separable layer (depthwise ``k x k`` then pointwise) instead of a dense one.
        padding_mode: ``"circular"`` matches the shift task's circular shifts.

    Shape:
        ``(N, in_channels, H, W)`` -> ``(N, out_channels, H, W)``.
    """
    from torch import nn

    from dsconv.nn import SeparableConv2d

    kernel_size = check_positive(kernel_size, "kernel_size")
    if kernel_size % 2 == 0:
        raise ValueError(f"`kernel_size` must be odd. Received kernel_size={kernel_size}")
    if separable:
        return SeparableConv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2,
                               padding_mode=padding_mode, bias=False)
    return nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, padding_mode=padding_mode,
                     bias=False)
