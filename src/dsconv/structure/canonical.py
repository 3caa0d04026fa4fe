"""Canonical form of separable factors: remove the per-channel scaling (and rotation) ambiguity.

``D_i -> beta_i D_i``, ``P[:, i] -> P[:, i] / beta_i`` leaves the kernel unchanged (seed 001, "a scaling
ambiguity"); with depth multiplier ``r`` the ambiguity is any invertible ``r x r`` mix of a channel's
filters. The canonical form is the truncated SVD of every slice: unit-norm, mutually orthogonal
depthwise filters ordered by singular value, each with its first significant entry positive, and the
singular values carried by the pointwise weight. Two factorizations of the same kernel then compare equal
(up to float error, when the nonzero singular values of each slice are distinct).
"""

from __future__ import annotations

import numpy as np

from dsconv.structure._checks import check_order
from dsconv.structure.compose import compose
from dsconv.structure.decompose import decompose, decompose_pw_dw

# Components below this fraction of the largest singular value are float noise: zero them so that
# a channel of rank < r has the same (zero) extra filters however it was factored.
_NOISE = 1e-7


def canonicalize(
    dw: np.ndarray, pw: np.ndarray, *, order: str = "dw_pw", depth_multiplier: int = 1, groups: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Canonical ``(dw, pw)`` for a separable layer, same shapes and kernel.

    Args:
        dw, pw: the layer's weights (see :func:`dsconv.structure.compose`).
        order: ``"dw_pw"`` or ``"pw_dw"``.
        depth_multiplier: ``r`` for ``"dw_pw"`` (``M`` is read from the shapes for ``"pw_dw"``).
        groups: grouped pointwise stage (``"dw_pw"`` only).

    Returns:
        ``(dw, pw)`` in canonical form; ``compose`` of it equals ``compose`` of the input up to float error.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> dw, pw = rng.normal(size=(3, 1, 3, 3)), rng.normal(size=(5, 3, 1, 1))
        >>> beta = np.array([2.0, -1.0, 0.5])
        >>> a = canonicalize(dw, pw)
        >>> b = canonicalize(dw * beta[:, None, None, None], pw / beta[None, :, None, None])
        >>> bool(np.allclose(a[0], b[0]) and np.allclose(a[1], b[1]))
        True
    """
    order = check_order(order)
    weight = compose(pw, dw, order=order, depth_multiplier=depth_multiplier, groups=groups)
    if order == "pw_dw":
        f = decompose_pw_dw(weight, dw.shape[0] // pw.shape[0], tol=_NOISE)
    else:
        f = decompose(weight, depth_multiplier, groups=groups, tol=_NOISE)
    return f.dw, f.pw
