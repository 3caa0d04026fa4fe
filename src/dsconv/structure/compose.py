"""From separable factors to the dense kernel: ``W[o,i,x] = P[o,i] * D[i,x]`` and its Khatri-Rao form.

The chapter (seed 001, "The Structural Constraint") shows that a depthwise-separable convolution is a
standard convolution whose kernel is ``W[o, i, x, y] = P[o, i] * D[i, x, y]``. :func:`compose` builds that
kernel from layer weights in dsconv/PyTorch layout, for both block orders and any depth multiplier;
:func:`khatri_rao` and :func:`flatten_kernel` give the chapter's flattened view
``W_flat[:, i] = P[:, i] (x) d_i``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dsconv._validation import check_float_array, check_positive
from dsconv.structure._checks import check_kernel, check_order


def _check_dw(dw: Any) -> np.ndarray:
    dw = check_float_array(dw, "dw")
    if dw.ndim not in (3, 4, 5) or dw.shape[1] != 1:
        raise ValueError(f"`dw` must have shape (C * M, 1, *kernel_size) with 1 to 3 spatial dims. Received dw.shape={dw.shape}")
    return dw


def _check_pw(pw: Any, ndim: int) -> np.ndarray:
    pw = check_float_array(pw, "pw")
    if pw.ndim != ndim or any(s != 1 for s in pw.shape[2:]):
        raise ValueError(
            f"`pw` must have shape (C_out, C_in, {', '.join(['1'] * (ndim - 2))}) to match `dw`. Received pw.shape={pw.shape}"
        )
    return pw


def compose(
    pw: np.ndarray,
    dw: np.ndarray,
    *,
    order: str = "dw_pw",
    depth_multiplier: int = 1,
    groups: int = 1,
) -> np.ndarray:
    """The dense kernel of a separable layer.

    Args:
        pw: pointwise weight. ``order="dw_pw"``: ``(C_out, C_in * r / groups, 1, ...)``;
            ``order="pw_dw"``: ``(C_mid, C_in, 1, ...)``.
        dw: depthwise weight. ``order="dw_pw"``: ``(C_in * r, 1, *k)`` (channel ``i*r + j`` reads input
            channel ``i``); ``order="pw_dw"``: ``(C_mid * M, 1, *k)`` (output ``c*M + j`` reads mid channel ``c``).
        order: ``"dw_pw"`` (depthwise then pointwise, MobileNet) or ``"pw_dw"`` (pointwise then depthwise
            with multiplier ``M = dw.shape[0] / C_mid``, BSConv-U).
        depth_multiplier: ``r`` for ``order="dw_pw"`` (not inferable from shapes: ``C_in * r`` is).
        groups: ``order="dw_pw"`` only: the pointwise stage is grouped, each group mixing the
            ``C_in * r / groups`` intermediate channels of its input group.

    Shape:
        ``dw_pw``: returns ``(C_out, C_in / groups, *k)`` with
        ``W[o, i, x] = sum_j pw[o, (i mod C_in_g) * r + j] * dw[i * r + j, 0, x]``.
        ``pw_dw``: returns ``(C_mid * M, C_in, *k)`` with ``W[c*M + j, i, x] = dw[c*M + j, 0, x] * pw[c, i]``.

    Returns:
        The dense kernel, in the result dtype of ``pw`` and ``dw``.

    Example:
        >>> compose(np.ones((4, 2, 1, 1)), np.ones((2, 1, 3, 3))).shape
        (4, 2, 3, 3)
    """
    order = check_order(order)
    dw = _check_dw(dw)
    pw = _check_pw(pw, dw.ndim)
    kernel_size = dw.shape[2:]
    if order == "pw_dw":
        if groups != 1:
            raise ValueError(f"`groups` must be 1 for order='pw_dw'. Received groups={groups!r}")
        c_mid = pw.shape[0]
        if dw.shape[0] % c_mid:
            raise ValueError(
                f"`dw` must have C_mid * M channels with C_mid = pw.shape[0] = {c_mid}. Received dw.shape={dw.shape}"
            )
        m = dw.shape[0] // c_mid
        d = dw.reshape(c_mid, m, -1)  # (C_mid, M, K)
        w = np.einsum("ci,cjk->cjik", pw.reshape(pw.shape[:2]), d)  # (C_mid, M, C_in, K)
        return w.reshape(c_mid * m, pw.shape[1], *kernel_size)
    r = check_positive(depth_multiplier, "depth_multiplier")
    groups = check_positive(groups, "groups")
    if dw.shape[0] % r or dw.shape[0] != groups * pw.shape[1] or pw.shape[0] % groups:
        raise ValueError(
            f"`pw` and `dw` must have shapes (C_out, C_in * r / groups, 1..) and (C_in * r, 1, *k) with C_out "
            f"divisible by groups. Received pw.shape={pw.shape}, dw.shape={dw.shape}, depth_multiplier={r}, groups={groups}"
        )
    c_in = dw.shape[0] // r
    if c_in % groups:
        raise ValueError(f"`groups` must divide C_in = {c_in}. Received groups={groups}")
    c_in_g, c_out_g = c_in // groups, pw.shape[0] // groups
    d = dw.reshape(groups, c_in_g, r, -1)  # (g, C_in_g, r, K)
    p = pw.reshape(groups, c_out_g, c_in_g, r)  # (g, C_out_g, C_in_g, r)
    w = np.einsum("goir,girk->goik", p, d)  # (g, C_out_g, C_in_g, K)
    return w.reshape(pw.shape[0], c_in_g, *kernel_size)


def flatten_kernel(weight: np.ndarray) -> np.ndarray:
    """The chapter's ``W_flat``: ``(C_out * K, C_in)`` with ``W_flat[o * K + a, i] = W[o, i, a]``.

    Args:
        weight: dense kernel ``(C_out, C_in, *k)``; ``K = prod(k)``, ``a`` the row-major flat spatial index.

    Returns:
        ``(C_out * K, C_in)``; column ``i`` stacks every spatial filter that reads input channel ``i``.
    """
    weight = check_kernel(weight)
    c_out, c_in = weight.shape[:2]
    return weight.reshape(c_out, c_in, -1).transpose(0, 2, 1).reshape(-1, c_in)


def khatri_rao(p: np.ndarray, d_flat: np.ndarray) -> np.ndarray:
    """Column-wise Kronecker product: column ``i`` is ``p[:, i] (x) d_flat[:, i]``.

    Args:
        p: pointwise matrix ``P`` ``(C_out, C_in)``.
        d_flat: vectorised depthwise filters as columns, ``(K, C_in)``.

    Shape:
        ``(C_out, C_in), (K, C_in) -> (C_out * K, C_in)``, equal to ``flatten_kernel(compose(pw, dw))``.

    Returns:
        The Khatri-Rao product ``P (.) D_flat``.
    """
    p = check_float_array(p, "p", ndim=2)
    d_flat = check_float_array(d_flat, "d_flat", ndim=2)
    if p.shape[1] != d_flat.shape[1]:
        raise ValueError(
            f"`p` and `d_flat` must have the same number of columns (C_in). Received p.shape={p.shape}, d_flat.shape={d_flat.shape}"
        )
    return np.einsum("oi,ai->oai", p, d_flat).reshape(-1, p.shape[1])
