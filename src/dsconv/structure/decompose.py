"""Best separable approximation of a dense kernel (Eckart-Young per slice) and degrees of freedom.

For ``order="dw_pw"`` a layer with depth multiplier ``r`` can represent exactly the kernels whose slices
``M_i`` (``(C_out / groups, K)``) all have rank ``<= r``, and the slices are independent, so truncating
each slice's SVD to ``r`` terms is optimal in the Frobenius norm (Eckart-Young) and the squared error is
the sum of the discarded squared singular values. For ``order="pw_dw"`` (pointwise then depthwise with
multiplier ``M``) the rank-1 constraint is on each block of ``M`` output filters, viewed as a
``(C_in, M * K)`` matrix, so the same argument applies per block (per output filter when ``M = 1``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from dsconv._validation import check_positive, to_tuple
from dsconv.structure._checks import check_groups, check_kernel, sign_fix, slices


class Factorization(NamedTuple):
    """Weights of one separable layer and how well they reproduce the dense kernel.

    Attributes:
        dw: depthwise weight ``(C * M, 1, *k)``.
        pw: pointwise weight (``dw_pw``: ``(C_out, C_in * r / groups, 1..)``; ``pw_dw``: ``(C_mid, C_in, 1..)``).
        error: Frobenius norm of ``W - compose(pw, dw)``, from the discarded singular values.
        energy: fraction of ``||W||_F^2`` kept, ``1 - error^2 / ||W||_F^2`` (1 for a zero kernel).
        rank: the depth multiplier of the layer (``r`` for ``dw_pw``, ``M`` for ``pw_dw``).
    """

    dw: np.ndarray
    pw: np.ndarray
    error: float
    energy: float
    rank: int


def _truncated_svd(m: np.ndarray, rank: int, tol: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Per matrix of the stack ``m`` ``(B, p, q)``: left factors ``(B, p, rank)`` scaled by the singular
    values, unit right factors ``(B, rank, q)`` with a fixed sign, the kept ``s`` and the squared residual.

    Components beyond ``min(p, q)`` are zero; components with ``s <= tol * max(s)`` are zeroed (canonical forms).
    """
    u, s, vt = np.linalg.svd(m, full_matrices=False)  # (B, p, q'), (B, q'), (B, q', q)
    keep = min(rank, s.shape[1])
    residual = float(np.sum(s[:, keep:] ** 2))
    s_kept = np.where(s[:, :keep] > tol * (s.max() if s.size else 0.0), s[:, :keep], 0.0)
    sign = sign_fix(vt[:, :keep])  # (B, keep)
    left = np.zeros((m.shape[0], m.shape[1], rank))
    right = np.zeros((m.shape[0], rank, m.shape[2]))
    left[:, :, :keep] = u[:, :, :keep] * (s_kept * sign)[:, None, :]
    right[:, :keep] = vt[:, :keep] * (sign * (s_kept > 0))[:, :, None]
    return left, right, s_kept, residual


def _energy(weight: np.ndarray, residual: float) -> float:
    total = float(np.sum(weight.astype(np.float64) ** 2))
    return 1.0 if total == 0.0 else max(0.0, 1.0 - residual / total)


def decompose(weight: np.ndarray, rank: int = 1, *, groups: int = 1, tol: float = 0.0) -> Factorization:
    """Best depthwise -> pointwise layer with depth multiplier ``rank`` for a dense kernel.

    Args:
        weight: dense kernel ``(C_out, C_in / groups, *k)`` (1D, 2D or 3D).
        rank: the depth multiplier ``r`` of the separable layer (>= 1). Exact when
            ``r >= min(C_out / groups, K)``; components beyond that are zero channels.
        groups: the dense convolution's groups; the pointwise weight is then grouped the same way.
        tol: zero the kept components whose singular value is ``<= tol`` times the kernel's largest
            (0 keeps them all; :func:`dsconv.structure.canonicalize` uses it to drop float noise).

    Shape:
        ``dw``: ``(C_in * r, 1, *k)``, unit-norm filters (first significant entry positive);
        ``pw``: ``(C_out, C_in * r / groups, 1, ...)`` carrying the singular values.

    Returns:
        A :class:`Factorization`; ``compose(f.pw, f.dw, depth_multiplier=rank, groups=groups)`` is the
        Frobenius-optimal rank-``r``-per-slice approximation and ``f.error`` its exact distance to ``weight``.

    Example:
        >>> f = decompose(np.random.default_rng(0).normal(size=(8, 4, 3, 3)), rank=2)
        >>> f.dw.shape, f.pw.shape
        ((8, 1, 3, 3), (8, 8, 1, 1))
    """
    weight = check_kernel(weight)
    rank = check_positive(rank, "rank")
    groups = check_groups(weight, groups)
    c_out, c_in_g = weight.shape[:2]
    c_in, c_out_g, ones = c_in_g * groups, c_out // groups, (1,) * (weight.ndim - 2)
    left, right, _, residual = _truncated_svd(slices(weight.astype(np.float64), groups), rank, tol)
    dw = right.reshape(c_in * rank, 1, *weight.shape[2:])
    # left: (C_in, C_out_g, r) -> pw[g*C_out_g + o, i_local*r + j]
    pw = left.reshape(groups, c_in_g, c_out_g, rank).transpose(0, 2, 1, 3).reshape(c_out, c_in_g * rank, *ones)
    return Factorization(dw.astype(weight.dtype), pw.astype(weight.dtype), float(np.sqrt(residual)), _energy(weight, residual), rank)


def decompose_pw_dw(weight: np.ndarray, depth_multiplier: int = 1, *, tol: float = 0.0) -> Factorization:
    """Best pointwise -> depthwise layer (BSConv order) for a dense kernel.

    Output ``c*M + j`` of such a layer is ``dw[c*M + j] (x) pw[c]``, so each block of ``M`` consecutive
    output filters, viewed as the ``(C_in, M * K)`` matrix, must have rank 1: the best layer keeps the top
    singular triplet of every block (per-output-filter SVD when ``M = 1``).

    Args:
        weight: dense kernel ``(C_out, C_in, *k)`` (groups = 1).
        depth_multiplier: ``M``; must divide ``C_out`` (``C_mid = C_out / M``).
        tol: as in :func:`decompose`.

    Shape:
        ``pw``: ``(C_out / M, C_in, 1, ...)``; ``dw``: ``(C_out, 1, *k)``, each block of ``M`` filters of unit norm.

    Returns:
        A :class:`Factorization` with ``rank = M``; exact when every block has rank 1.
    """
    weight = check_kernel(weight)
    m = check_positive(depth_multiplier, "depth_multiplier")
    c_out, c_in = weight.shape[:2]
    if c_out % m:
        raise ValueError(f"`depth_multiplier` must divide C_out = {c_out}. Received depth_multiplier={m}")
    k = int(np.prod(weight.shape[2:]))
    blocks = weight.astype(np.float64).reshape(c_out // m, m, c_in, k).transpose(0, 2, 1, 3).reshape(c_out // m, c_in, m * k)
    left, right, _, residual = _truncated_svd(blocks, 1, tol)
    pw = left[:, :, 0].reshape(c_out // m, c_in, *(1,) * (weight.ndim - 2))
    dw = right[:, 0].reshape(c_out, 1, *weight.shape[2:])
    return Factorization(dw.astype(weight.dtype), pw.astype(weight.dtype), float(np.sqrt(residual)), _energy(weight, residual), m)


def degrees_of_freedom(
    in_channels: int, out_channels: int, kernel_size: int | tuple[int, ...], *, ndim: int = 2, depth_multiplier: int = 1
) -> int:
    """Dimension of the set of kernels one depthwise -> pointwise layer represents.

    Each slice is a ``(C_out, K)`` matrix of rank ``<= r``, a manifold of dimension ``r (C_out + K - r)``
    (for ``r <= min(C_out, K)``); the ``C_in * r^2`` lost against the raw parameter count
    ``C_in r K + C_in r C_out`` are the per-channel ``GL(r)`` ambiguities, the chapter's scaling ambiguity
    when ``r = 1``: ``k^2 C_in + C_in C_out - C_in``.

    Args:
        in_channels, out_channels: ``C_in``, ``C_out``.
        kernel_size: int (``k`` in every one of ``ndim`` dimensions) or a tuple.
        ndim: number of spatial dimensions when ``kernel_size`` is an int.
        depth_multiplier: ``r``; at ``r >= min(C_out, K)`` the layer is dense (``C_in C_out K``).

    Returns:
        The number of free parameters.

    Example:
        >>> degrees_of_freedom(192, 384, 3)
        75264
    """
    c_in = check_positive(in_channels, "in_channels")
    c_out = check_positive(out_channels, "out_channels")
    ndim = check_positive(ndim, "ndim")
    k = int(np.prod(to_tuple(kernel_size, ndim if isinstance(kernel_size, int) else len(kernel_size), "kernel_size")))
    r = min(check_positive(depth_multiplier, "depth_multiplier"), c_out, k)
    return c_in * r * (c_out + k - r)
