"""The seed's cost formulas for one k x k layer: standard against depthwise separable.

Source: ``/work/shared/seeds/001_ec5f47f45a7a40db.txt`` ("Efficiency Gains: Parameters and Computation").
For ``C_in`` input channels, ``C_out`` output channels, a ``k x k`` kernel and an ``H x W`` output map:

- ``P_std = k^2 C_in C_out``,               ``P_sep = k^2 C_in + C_in C_out``;
- ``F_std = 2 H W k^2 C_in C_out``,         ``F_sep = 2 H W (k^2 C_in + C_in C_out)``
  (a fused multiply-add counts as 2 FLOPs; biases are not counted);
- ``F_sep / F_std = P_sep / P_std = 1/C_out + 1/k^2`` (independent of ``H``, ``W`` and ``C_in``);
- savings ``rho = 1 - (1/C_out + 1/k^2)``.

A reduction by a factor ``r`` (``F_std / F_sep >= r``) needs ``1/C_out + 1/k^2 <= 1/r``, so both terms
must be below ``1/r``: ``k^2 > r`` and ``C_out > r``. :func:`min_kernel_size` and :func:`min_out_channels`
return the smallest value that achieves it, or ``None`` when the other argument makes it impossible
(e.g. a 10x reduction is impossible with ``C_out <= 10`` whatever ``k``, and with ``k <= 3`` whatever ``C_out``).

Example (the seed's worked example):
    >>> round(cost_ratio(384, 3), 4), round(savings(384, 3), 3)
    (0.1137, 0.886)
"""

from __future__ import annotations

from fractions import Fraction

from dsconv._validation import check_positive, check_positive_float

__all__ = [
    "standard_params",
    "separable_params",
    "standard_flops",
    "separable_flops",
    "cost_ratio",
    "savings",
    "reduction_factor",
    "min_kernel_size",
    "min_out_channels",
]


def standard_params(in_channels: int, out_channels: int, kernel_size: int) -> int:
    """``P_std = k^2 C_in C_out``: weights of a standard ``k x k`` convolution (no bias)."""
    c_in, c_out, k = _channels_kernel(in_channels, out_channels, kernel_size)
    return k * k * c_in * c_out


def separable_params(in_channels: int, out_channels: int, kernel_size: int) -> int:
    """``P_sep = k^2 C_in + C_in C_out``: depthwise plus pointwise weights (no bias)."""
    c_in, c_out, k = _channels_kernel(in_channels, out_channels, kernel_size)
    return k * k * c_in + c_in * c_out


def standard_flops(in_channels: int, out_channels: int, kernel_size: int, height: int, width: int) -> int:
    """``F_std = 2 H W k^2 C_in C_out`` for an ``H x W`` output map."""
    h, w = check_positive(height, "height"), check_positive(width, "width")
    return 2 * h * w * standard_params(in_channels, out_channels, kernel_size)


def separable_flops(in_channels: int, out_channels: int, kernel_size: int, height: int, width: int) -> int:
    """``F_sep = 2 H W (k^2 C_in + C_in C_out)`` for an ``H x W`` output map."""
    h, w = check_positive(height, "height"), check_positive(width, "width")
    return 2 * h * w * separable_params(in_channels, out_channels, kernel_size)


def cost_ratio(out_channels: int, kernel_size: int) -> float:
    """``F_sep / F_std = 1/C_out + 1/k^2`` (also the parameter ratio)."""
    return float(_exact_ratio(out_channels, kernel_size))


def savings(out_channels: int, kernel_size: int) -> float:
    """The fractional savings ``rho = 1 - (1/C_out + 1/k^2)`` (negative when separable costs more)."""
    return float(1 - _exact_ratio(out_channels, kernel_size))


def reduction_factor(out_channels: int, kernel_size: int) -> float:
    """``F_std / F_sep = 1 / (1/C_out + 1/k^2)``: how many times cheaper the separable layer is."""
    return float(1 / _exact_ratio(out_channels, kernel_size))


def min_kernel_size(out_channels: int, reduction: float) -> int | None:
    """Smallest ``k`` with ``F_std / F_sep >= reduction`` for ``C_out`` output channels.

    Args:
        out_channels: ``C_out``.
        reduction: the wanted factor ``r`` (e.g. 10 for the seed's ">10x"), a number > 0.

    Returns:
        The smallest kernel size, or ``None`` when no ``k`` achieves it: that happens exactly when
        ``1/C_out >= 1/r`` (i.e. ``C_out <= r``), because ``1/k^2`` stays positive.

    Example:
        >>> min_kernel_size(384, 10), min_kernel_size(10, 10)
        (4, None)
    """
    c_out = check_positive(out_channels, "out_channels")
    target = _target(reduction)
    budget = target - Fraction(1, c_out)  # what 1/k^2 may use
    if budget <= 0:
        return None
    k = 1
    while Fraction(1, k * k) > budget:
        k += 1
    return k


def min_out_channels(kernel_size: int, reduction: float) -> int | None:
    """Smallest ``C_out`` with ``F_std / F_sep >= reduction`` for a ``k x k`` kernel.

    Returns ``None`` when no ``C_out`` achieves it: exactly when ``1/k^2 >= 1/r`` (``k^2 <= r``;
    e.g. ``k = 3`` can never give a 10x reduction, since ``1/9 > 1/10``).

    Example:
        >>> min_out_channels(5, 10), min_out_channels(3, 10)
        (17, None)
    """
    k = check_positive(kernel_size, "kernel_size")
    target = _target(reduction)
    budget = target - Fraction(1, k * k)  # what 1/C_out may use
    if budget <= 0:
        return None
    c_out = budget.denominator // budget.numerator  # floor(1 / budget)
    while Fraction(1, max(c_out, 1)) > budget:
        c_out += 1
    return max(c_out, 1)


def _channels_kernel(in_channels: int, out_channels: int, kernel_size: int) -> tuple[int, int, int]:
    return (
        check_positive(in_channels, "in_channels"),
        check_positive(out_channels, "out_channels"),
        check_positive(kernel_size, "kernel_size"),
    )


def _exact_ratio(out_channels: int, kernel_size: int) -> Fraction:
    c_out = check_positive(out_channels, "out_channels")
    k = check_positive(kernel_size, "kernel_size")
    return Fraction(1, c_out) + Fraction(1, k * k)


def _target(reduction: float) -> Fraction:
    """``1 / reduction`` as an exact fraction (``reduction`` is converted exactly from its float)."""
    r = check_positive_float(reduction, "reduction")
    return 1 / Fraction(r)
