"""Private argument checks shared by the structure modules (NumPy only)."""

from __future__ import annotations

from typing import Any

import numpy as np

from dsconv._validation import check_choice, check_float_array, check_positive

ORDERS = ("dw_pw", "pw_dw")


def check_kernel(weight: Any, name: str = "weight") -> np.ndarray:
    """Return a dense kernel ``(C_out, C_in/groups, *k)`` with 1 to 3 spatial dimensions."""
    weight = check_float_array(weight, name)
    if weight.ndim not in (3, 4, 5):
        raise ValueError(
            f"`{name}` must have 3, 4 or 5 dimensions (C_out, C_in/groups, *kernel_size) for a 1D, 2D or 3D "
            f"convolution. Received {name}.shape={weight.shape}"
        )
    return weight


def check_groups(weight: np.ndarray, groups: Any, name: str = "weight") -> int:
    """Return ``groups`` after checking that it divides the output channels of ``weight``."""
    groups = check_positive(groups, "groups")
    if weight.shape[0] % groups:
        raise ValueError(
            f"`groups` must divide the output channels of `{name}` ({weight.shape[0]}). Received groups={groups}"
        )
    return groups


def check_order(order: Any) -> str:
    return check_choice(order, ORDERS, "order")


def slices(weight: np.ndarray, groups: int) -> np.ndarray:
    """Stack the chapter's slices ``M_i`` (one per input channel) as ``(C_in, C_out/groups, K)``.

    Input channel ``i = g * C_in_g + i_local`` of group ``g`` only feeds the ``C_out/groups`` output
    channels of its group, so its slice is ``W[g*C_out_g:(g+1)*C_out_g, i_local]`` flattened over space.
    """
    c_out, c_in_g = weight.shape[:2]
    k = int(np.prod(weight.shape[2:]))
    w = weight.reshape(groups, c_out // groups, c_in_g, k)  # (g, C_out_g, C_in_g, K)
    return w.transpose(0, 2, 1, 3).reshape(groups * c_in_g, c_out // groups, k)


def unslices(m: np.ndarray, groups: int, kernel_size: tuple[int, ...]) -> np.ndarray:
    """Inverse of :func:`slices`: ``(C_in, C_out_g, K)`` back to ``(C_out, C_in_g, *k)``."""
    c_in, c_out_g, k = m.shape
    w = m.reshape(groups, c_in // groups, c_out_g, k).transpose(0, 2, 1, 3)  # (g, C_out_g, C_in_g, K)
    return w.reshape(groups * c_out_g, c_in // groups, *kernel_size)


def sign_fix(rows: np.ndarray) -> np.ndarray:
    """Per row, +1 or -1 so that the first entry above 1e-6 of the row's largest magnitude is positive."""
    mags = np.abs(rows)
    big = mags > 1e-6 * mags.max(axis=-1, keepdims=True)
    first = np.argmax(big, axis=-1)
    lead = np.take_along_axis(rows, first[..., None], axis=-1)[..., 0]
    return np.where(lead < 0, -1.0, 1.0)
