"""Singular values of the per-input-channel slices ``M_i`` and the separability test built on them.

A depthwise-separable layer's kernel has every slice ``M_i = W[:, i]`` (reshaped to ``(C_out, K)``)
of rank at most 1 (seed 001, "The Structural Constraint"); a layer with depth multiplier ``r`` has
rank at most ``r``. These functions measure how far a trained dense kernel is from that structure.
"""

from __future__ import annotations

import numpy as np

from dsconv._validation import check_non_negative
from dsconv.structure._checks import check_groups, check_kernel, slices


def slice_spectra(weight: np.ndarray, *, groups: int = 1) -> np.ndarray:
    """Singular values of every slice ``M_i``, largest first.

    Args:
        weight: dense kernel ``(C_out, C_in / groups, *k)``.
        groups: the convolution's groups; input channel ``i`` then only feeds its group's
            ``C_out / groups`` outputs, so ``M_i`` is ``(C_out / groups, K)``.

    Shape:
        returns ``(C_in, min(C_out / groups, K))`` with ``K = prod(k)``.

    Returns:
        float64 singular values, row ``i`` for input channel ``i``.

    Example:
        >>> slice_spectra(np.ones((4, 2, 3, 3))).round(3)[:, 0]
        array([6., 6.])
    """
    weight = check_kernel(weight)
    groups = check_groups(weight, groups)
    return np.linalg.svd(slices(weight.astype(np.float64), groups), compute_uv=False)


def _default_rtol(weight: np.ndarray, groups: int) -> float:
    # numpy.linalg.matrix_rank's convention: max(m, n) * eps of the kernel's dtype.
    k = int(np.prod(weight.shape[2:]))
    return max(weight.shape[0] // groups, k) * float(np.finfo(weight.dtype).eps)


def slice_ranks(weight: np.ndarray, rtol: float | None = None, *, groups: int = 1) -> np.ndarray:
    """Numerical rank of every slice ``M_i``.

    Args:
        weight: dense kernel ``(C_out, C_in / groups, *k)``.
        rtol: a singular value counts when it exceeds ``rtol`` times the largest singular value of the
            whole kernel. Default ``max(C_out / groups, K) * eps(weight.dtype)`` (NumPy's ``matrix_rank`` rule).
        groups: the convolution's groups.

    Returns:
        int array ``(C_in,)``; 0 for an all-zero slice.
    """
    weight = check_kernel(weight)
    groups = check_groups(weight, groups)
    tol = _default_rtol(weight, groups) if rtol is None else _check_rtol(rtol)
    spectra = slice_spectra(weight, groups=groups)
    top = spectra.max() if spectra.size else 0.0
    return (spectra > tol * top).sum(axis=1) if top > 0 else np.zeros(spectra.shape[0], dtype=int)


def is_separable(weight: np.ndarray, rtol: float | None = None, *, groups: int = 1, rank: int = 1) -> bool:
    """Whether ``weight`` is (numerically) the kernel of one separable layer with multiplier ``rank``.

    Args:
        weight: dense kernel ``(C_out, C_in / groups, *k)``.
        rtol: see :func:`slice_ranks`.
        groups: the convolution's groups.
        rank: the depth multiplier allowed (1: a plain depthwise-separable layer).

    Returns:
        True when every slice has rank ``<= rank``.
    """
    rank = check_non_negative(rank, "rank")
    return bool(np.all(slice_ranks(weight, rtol, groups=groups) <= rank))


def _check_rtol(rtol: float) -> float:
    if isinstance(rtol, bool) or not isinstance(rtol, (int, float, np.floating)) or not 0 <= rtol < 1:
        raise ValueError(f"`rtol` must be a number in [0, 1). Received rtol={rtol!r}")
    return float(rtol)
