"""What every zoo model shares: argument checks, the input-size contract, the classifier head."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from dsconv._validation import check_positive, check_positive_float


def check_common(
    family: str,
    *,
    num_classes: int,
    in_channels: int,
    width: float,
    resolution: int,
    min_resolution: int,
) -> tuple[int, int, float, int]:
    """Validate the arguments every factory takes; returns them normalised.

    ``resolution`` must be at least ``min_resolution`` (the network's total stride), so that the last
    feature map still holds one real pixel.
    """
    num_classes = check_positive(num_classes, "num_classes")
    in_channels = check_positive(in_channels, "in_channels")
    width = check_positive_float(width, "width")
    resolution = check_positive(resolution, "resolution")
    if resolution < min_resolution:
        raise ValueError(
            f"`resolution` must be at least {min_resolution} for {family} (its total stride). "
            f"Received resolution={resolution}"
        )
    return num_classes, in_channels, width, resolution


def check_dropout(p: float, name: str = "dropout") -> float:
    """Return a probability in ``[0, 1)``."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
        raise ValueError(f"`{name}` must be a probability in [0, 1). Received {name}={p!r}")
    return float(p)


def check_output_stride(value: int, allowed: tuple[int, ...]) -> int:
    """Return ``value`` if it is one of the ``allowed`` output strides."""
    if isinstance(value, bool) or value not in allowed:
        raise ValueError(
            f"`output_stride` must be one of {', '.join(map(str, allowed))}. Received output_stride={value!r}"
        )
    return int(value)


class ZooModel(nn.Module):
    """Base of every zoo model: records its input contract and checks inputs against it.

    Attributes:
        default_input_size: ``(C, *spatial)`` the published cost figures are for (no batch dimension).
        min_input_size: the smallest spatial size the network's strides accept.
        family: the family name used in error messages.
    """

    def __init__(self, family: str, default_input_size: Sequence[int], min_input_size: Sequence[int]) -> None:
        super().__init__()
        self.family = family
        self.default_input_size = tuple(int(v) for v in default_input_size)
        self.min_input_size = tuple(int(v) for v in min_input_size)

    def check_input(self, x: torch.Tensor) -> None:
        """Raise ValueError unless ``x`` is ``(N, C, *spatial)`` with the model's channels and a large enough size."""
        ndim = len(self.default_input_size) + 1
        channels = self.default_input_size[0]
        if x.ndim != ndim or x.shape[1] != channels:
            raise ValueError(
                f"`x` must have shape (N, {channels}, ...) with {ndim} dimensions for {self.family}. "
                f"Received x.shape={tuple(x.shape)}"
            )
        spatial = tuple(x.shape[2:])
        if any(n < m for n, m in zip(spatial, self.min_input_size)):
            raise ValueError(
                f"`x` spatial size must be at least {self.min_input_size} for {self.family} (its strides). "
                f"Received x.shape={tuple(x.shape)}"
            )


class ClassifierHead(nn.Sequential):
    """Global average pooling -> flatten -> dropout -> fully connected (``pool``, ``flatten``, ``drop``, ``fc``).

    Shape:
        ``(N, C, *spatial)`` -> ``(N, num_classes)``.
    """

    def __init__(self, in_features: int, num_classes: int, dropout: float = 0.0, spatial_dims: int = 2) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1) if spatial_dims == 2 else nn.AdaptiveAvgPool1d(1)
        self.flatten = nn.Flatten(1)
        self.drop = nn.Dropout(check_dropout(dropout))
        self.fc = nn.Linear(in_features, num_classes)
