"""Dense and grouped convolution (NumPy reference), used to check composed and converted kernels.

Weight in PyTorch's layout ``(C_out, C_in / groups, *kernel)``; input channels and output channels are
split into ``groups`` equal blocks and block ``g`` of the output sees only block ``g`` of the input::

    out[n, g*O + o, *pos] = bias[g*O + o] + sum_{i, tap} weight[g*O + o, i, *tap]
                            * x_padded[n, g*I + i, *(pos * stride + tap * dilation)]

with ``I = C_in / groups`` and ``O = C_out / groups``. ``groups = C_in`` with ``C_out = C_in * M`` is the
depthwise convolution. Output size per spatial dimension::

    out = floor((n + before + after - d * (k - 1) - 1) / s) + 1
"""

from __future__ import annotations

import numpy as np

from dsconv._validation import check_positive
from dsconv.functional import _core
from dsconv.functional._core import DataFormat, IntOrTuple
from dsconv.functional.shapes import PaddingArg


def _check_groups(groups: int, in_channels: int, weight: np.ndarray) -> int:
    """Validate ``groups`` against the input channels and the weight's ``(C_out, C_in / groups)``."""
    groups = check_positive(groups, "groups")
    if in_channels % groups or weight.shape[0] % groups:
        raise ValueError(
            f"`groups` must divide both the input channels ({in_channels}) and the output channels "
            f"(weight.shape[0]={weight.shape[0]}). Received groups={groups}"
        )
    if weight.shape[1] != in_channels // groups:
        raise ValueError(
            f"`weight` must have shape (C_out, C_in / groups, *kernel_size) with C_in / groups = "
            f"{in_channels} / {groups} = {in_channels // groups}. Received weight.shape={weight.shape}"
        )
    return groups


@_core.ieee
def conv_nd(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, stride: IntOrTuple, padding: PaddingArg,
    dilation: IntOrTuple, groups: int, data_format: DataFormat, n: int,
) -> np.ndarray:
    """Validate and run the ``n``-D dense/grouped convolution (see the module docstring)."""
    x_cf = _core.check_input(x, n, data_format)
    weight = _core.check_weight(weight, n)
    groups = _check_groups(groups, x_cf.shape[1], weight)
    dtype = np.result_type(x, weight)
    bias = _core.check_bias(bias, weight.shape[0], dtype)
    kernel = weight.shape[2:]
    stride_t, pads, dilation_t, out_size = _core.geometry(x_cf.shape[2:], kernel, stride, padding, dilation)
    batch, in_channels = x_cf.shape[:2]
    out_per_group = weight.shape[0] // groups
    x_pad = _core.pad_spatial(x_cf, pads)  # (N, C_in, *padded)
    x_pad = x_pad.reshape(batch, groups, in_channels // groups, *x_pad.shape[2:])  # (N, G, I, *padded)
    w = weight.reshape(groups, out_per_group, in_channels // groups, *kernel)  # (G, O, I, *k)
    out = np.zeros((batch, groups, out_per_group, *out_size), dtype=dtype)  # (N, G, O, *out)
    for tap, window in _core.taps(kernel, stride_t, dilation_t, out_size):
        x_win = x_pad[(slice(None), slice(None), slice(None), *window)]  # (N, G, I, *out)
        out += np.einsum("ngi...,goi->ngo...", x_win, w[(slice(None),) * 3 + tap])
    out = out.reshape(batch, weight.shape[0], *out_size)
    return _core.to_caller_layout(_core.add_bias(out, bias), data_format)


def conv1d(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    *,
    data_format: DataFormat = "channels_first",
) -> np.ndarray:
    """1D dense or grouped convolution (cross-correlation, PyTorch's ``conv1d``).

    Args:
        x: ``(N, C_in, L)`` (channels_first) or ``(N, L, C_in)`` (channels_last); real floating dtype.
        weight: ``(C_out, C_in / groups, k)``.
        bias: optional ``(C_out,)``.
        stride, dilation: positive int or 1-tuple.
        padding: int, 1-tuple, ``((before, after),)``, ``"valid"``, ``"same"`` or ``"causal"``.
        groups: positive int dividing ``C_in`` and ``C_out``.
        data_format: ``"channels_first"`` or ``"channels_last"``.

    Shape:
        ``L_out = floor((L + before + after - d * (k - 1) - 1) / s) + 1``.

    Returns:
        ``(N, C_out, L_out)`` or ``(N, L_out, C_out)``, dtype ``np.result_type(x, weight)``.

    Example:
        >>> conv1d(np.ones((1, 4, 8)), np.ones((6, 2, 3)), groups=2).shape
        (1, 6, 6)
    """
    return conv_nd(x, weight, bias, stride, padding, dilation, groups, data_format, 1)


def conv2d(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    *,
    data_format: DataFormat = "channels_first",
) -> np.ndarray:
    """2D dense or grouped convolution (cross-correlation, PyTorch's ``conv2d``).

    Args:
        x: ``(N, C_in, H, W)`` (channels_first) or ``(N, H, W, C_in)`` (channels_last); real floating dtype.
        weight: ``(C_out, C_in / groups, k_h, k_w)``.
        bias: optional ``(C_out,)``.
        stride, dilation: positive int or ``(s_h, s_w)`` / ``(d_h, d_w)``.
        padding: int, ``(p_h, p_w)``, ``((top, bottom), (left, right))``, ``"valid"`` or ``"same"``.
        groups: positive int dividing ``C_in`` and ``C_out``.
        data_format: ``"channels_first"`` or ``"channels_last"``.

    Shape:
        ``H_out = floor((H + top + bottom - d_h * (k_h - 1) - 1) / s_h) + 1``, likewise ``W_out``.

    Returns:
        ``(N, C_out, H_out, W_out)`` or ``(N, H_out, W_out, C_out)``, dtype ``np.result_type(x, weight)``.

    Example:
        >>> conv2d(np.ones((1, 3, 5, 5)), np.ones((8, 3, 3, 3)), padding=1)[0, 0, 2, 2]
        np.float64(27.0)
    """
    return conv_nd(x, weight, bias, stride, padding, dilation, groups, data_format, 2)


def conv3d(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    *,
    data_format: DataFormat = "channels_first",
) -> np.ndarray:
    """3D dense or grouped convolution (cross-correlation, PyTorch's ``conv3d``).

    Args:
        x: ``(N, C_in, D, H, W)`` (channels_first) or ``(N, D, H, W, C_in)`` (channels_last).
        weight: ``(C_out, C_in / groups, k_d, k_h, k_w)``.
        bias: optional ``(C_out,)``.
        stride, dilation: positive int or 3-tuple.
        padding: int, 3-tuple, three ``(before, after)`` pairs, ``"valid"`` or ``"same"``.
        groups: positive int dividing ``C_in`` and ``C_out``.
        data_format: ``"channels_first"`` or ``"channels_last"``.

    Shape:
        ``D_out = floor((D + before + after - d_d * (k_d - 1) - 1) / s_d) + 1``, likewise ``H_out``, ``W_out``.

    Returns:
        ``(N, C_out, D_out, H_out, W_out)`` or channels-last, dtype ``np.result_type(x, weight)``.

    Example:
        >>> conv3d(np.ones((1, 2, 4, 4, 4)), np.ones((3, 2, 2, 2, 2)), stride=2).shape
        (1, 3, 2, 2, 2)
    """
    return conv_nd(x, weight, bias, stride, padding, dilation, groups, data_format, 3)
