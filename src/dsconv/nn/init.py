"""Weight initialisation with the correct fans for grouped (depthwise) convolution weights.

A grouped convolution weight has shape ``(C_out, C_in / g, *k)``. Each output unit sees
``C_in / g * prod(k)`` inputs and each input unit feeds ``C_out / g * prod(k)`` outputs, so

    fan_in  = (C_in / g) * prod(k) = weight.shape[1] * prod(k)
    fan_out = (C_out / g) * prod(k) = weight.shape[0] / g * prod(k)

``torch.nn.init`` cannot know ``g`` and uses ``weight.shape[0] * prod(k)`` for ``fan_out``
(pytorch/pytorch#23854): for a depthwise ``3x3`` weight with ``C`` channels it reports
``fan_out = 9 C`` instead of ``9 M``, shrinking a ``mode="fan_out"`` initialisation's std by
``sqrt(C / M)``. These functions take ``groups`` and use the formulas above (He et al. 2015:
``std = gain / sqrt(fan)``; the uniform bound is ``sqrt(3) * std``).

Example:
    >>> import torch
    >>> from dsconv.nn.init import fan_in_and_fan_out
    >>> fan_in_and_fan_out(torch.empty(64, 1, 3, 3), groups=32)   # depthwise, M = 2
    (9, 18)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from dsconv._validation import check_choice, check_positive

if TYPE_CHECKING:
    import torch

FAN_MODES = ("fan_in", "fan_out")

__all__ = ["FAN_MODES", "bias_bound", "fan_in_and_fan_out", "kaiming_normal_", "kaiming_std", "kaiming_uniform_"]


def fan_in_and_fan_out(weight: torch.Tensor, groups: int = 1) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a (grouped) convolution or linear weight.

    Args:
        weight: ``(C_out, C_in / groups, *kernel_size)`` (at least 2 dimensions).
        groups: the convolution's ``groups``; must divide ``C_out``.

    Returns:
        ``(weight.shape[1] * prod(k), weight.shape[0] // groups * prod(k))``.
    """
    groups = check_positive(groups, "groups")
    if weight.dim() < 2:
        raise ValueError(f"`weight` must have at least 2 dimensions. Received weight.shape={tuple(weight.shape)}")
    out_channels = weight.shape[0]
    if out_channels % groups != 0:
        raise ValueError(
            f"`groups` must divide the weight's output channels ({out_channels}). Received groups={groups}"
        )
    receptive = math.prod(weight.shape[2:])
    return weight.shape[1] * receptive, out_channels // groups * receptive


def kaiming_std(
    weight: torch.Tensor,
    groups: int = 1,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
) -> float:
    """He initialisation's standard deviation ``gain / sqrt(fan)`` with the grouped-aware fan.

    Args:
        weight: the weight to be initialised.
        groups: the convolution's ``groups``.
        a: negative slope of the rectifier after this layer (for ``"leaky_relu"``).
        mode: ``"fan_in"`` (preserves forward variance) or ``"fan_out"`` (backward variance).
        nonlinearity: a name understood by ``torch.nn.init.calculate_gain``.

    Returns:
        The standard deviation as a float.
    """
    import torch

    mode = check_choice(mode, FAN_MODES, "mode")
    fan_in, fan_out = fan_in_and_fan_out(weight, groups)
    fan = fan_in if mode == "fan_in" else fan_out
    if fan == 0:
        raise ValueError(f"`weight` must not be empty. Received weight.shape={tuple(weight.shape)}")
    gain = torch.nn.init.calculate_gain(nonlinearity, a)
    return gain / math.sqrt(fan)


def kaiming_normal_(
    weight: torch.Tensor,
    groups: int = 1,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Fill ``weight`` in place from ``N(0, std^2)``, ``std = kaiming_std(weight, groups, a, mode, nonlinearity)``.

    Returns:
        ``weight``.
    """
    import torch

    std = kaiming_std(weight, groups, a, mode, nonlinearity)
    with torch.no_grad():
        return weight.normal_(0.0, std, generator=generator)


def kaiming_uniform_(
    weight: torch.Tensor,
    groups: int = 1,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Fill ``weight`` in place from ``U(-b, b)``, ``b = sqrt(3) * kaiming_std(...)`` (same variance as the normal).

    Returns:
        ``weight``.
    """
    import torch

    bound = math.sqrt(3.0) * kaiming_std(weight, groups, a, mode, nonlinearity)
    with torch.no_grad():
        return weight.uniform_(-bound, bound, generator=generator)


def bias_bound(weight: torch.Tensor, groups: int = 1) -> float:
    """PyTorch's default bias range ``1 / sqrt(fan_in)`` (``0`` for an empty fan)."""
    fan_in, _ = fan_in_and_fan_out(weight, groups)
    return 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
