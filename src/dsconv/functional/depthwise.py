"""Depthwise convolution (NumPy reference): every input channel filtered on its own.

Output channel ``c * M + j`` (``M`` = depth multiplier) is input channel ``c`` cross-correlated with
``weight[c * M + j, 0]``, the grouped-convolution layout of ``torch.nn.Conv2d(C, C * M, k, groups=C)``,
so weights move between dsconv and PyTorch unchanged. In 2D, channels-first::

    out[n, c*M + j, y, x] = bias[c*M + j] + sum_{p, q} weight[c*M + j, 0, p, q]
                            * x_padded[n, c, y*s_h + p*d_h, x*s_w + q*d_w]

Output size per spatial dimension (kernel ``k``, stride ``s``, dilation ``d``, padding ``(before, after)``)::

    out = floor((n + before + after - d * (k - 1) - 1) / s) + 1
"""

from __future__ import annotations

import math

import numpy as np

from dsconv.functional import _core
from dsconv.functional._core import DataFormat, IntOrTuple
from dsconv.functional.shapes import PaddingArg

Gradients = tuple[np.ndarray, np.ndarray, np.ndarray]


def check_depthwise_weight(weight: np.ndarray, channels: int, n: int, name: str = "weight") -> np.ndarray:
    """Validate a depthwise weight ``(C * M, 1, *kernel)`` for ``channels`` input channels."""
    weight = _core.check_weight(weight, n, name)
    if weight.shape[1] != 1 or weight.shape[0] % channels != 0:
        raise ValueError(
            f"`{name}` must have shape (C * depth_multiplier, 1, *kernel_size) for C={channels} input channels: "
            f"a first dimension that is a multiple of {channels} and a second dimension of 1. "
            f"Received {name}.shape={weight.shape}"
        )
    return weight


def _forward(
    x: np.ndarray, weight: np.ndarray, stride: tuple[int, ...], pads: _core.Pads,
    dilation: tuple[int, ...], out_size: tuple[int, ...], dtype: np.dtype,
) -> np.ndarray:
    """Channels-first depthwise convolution without bias: one vectorised update per kernel tap."""
    batch, channels = x.shape[:2]
    kernel = weight.shape[2:]
    multiplier = weight.shape[0] // channels
    w = weight.reshape(channels, multiplier, *kernel)  # (C, M, *k): row c*M + j -> [c, j]
    x_pad = _core.pad_spatial(x, pads)  # (N, C, *padded)
    out = np.zeros((batch, channels, multiplier, *out_size), dtype=dtype)  # (N, C, M, *out)
    ones = (1,) * len(kernel)
    for tap, window in _core.taps(kernel, stride, dilation, out_size):
        x_win = x_pad[(slice(None), slice(None), *window)]  # (N, C, *out)
        out += x_win[:, :, None] * w[(slice(None), slice(None), *tap)].reshape(channels, multiplier, *ones)
    return out.reshape(batch, channels * multiplier, *out_size)


@_core.ieee
def depthwise_conv_nd(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, stride: IntOrTuple,
    padding: PaddingArg, dilation: IntOrTuple, data_format: DataFormat, n: int,
    *, names: tuple[str, str, str] = ("x", "weight", "bias"),
) -> np.ndarray:
    """Validate, resolve the geometry and run the ``n``-D depthwise convolution (see the module docstring).

    ``names`` label ``x``, ``weight`` and ``bias`` in error messages (the separable op says ``dw_weight``).
    """
    x_cf = _core.check_input(x, n, data_format, names[0])
    weight = check_depthwise_weight(weight, x_cf.shape[1], n, names[1])
    dtype = np.result_type(x, weight)
    bias = _core.check_bias(bias, weight.shape[0], dtype, names[2])
    stride_t, pads, dilation_t, out_size = _core.geometry(x_cf.shape[2:], weight.shape[2:], stride, padding, dilation)
    out = _forward(x_cf, weight, stride_t, pads, dilation_t, out_size, dtype)
    return _core.to_caller_layout(_core.add_bias(out, bias), data_format)


def _backward(
    g: np.ndarray, x: np.ndarray, weight: np.ndarray, stride: tuple[int, ...], pads: _core.Pads,
    dilation: tuple[int, ...], out_size: tuple[int, ...], dtype: np.dtype,
) -> tuple[np.ndarray, np.ndarray]:
    """Channels-first ``(grad_x, grad_weight)`` from ``g = grad_out`` ``(N, C*M, *out)``, tap by tap.

    Each tap's forward update ``out[:, c, j] += x_window[:, c] * w[c, j, tap]`` is differentiated in
    place: ``grad_w[c, j, tap] = <g[:, c, j], x_window[:, c]>`` and ``x_window[:, c]`` receives
    ``sum_j g[:, c, j] * w[c, j, tap]`` (scattered into the padded input, whose border is then cropped).
    """
    batch, channels = x.shape[:2]
    kernel = weight.shape[2:]
    multiplier = weight.shape[0] // channels
    pixels = math.prod(out_size)  # explicit, not -1: reshape cannot infer it when the batch is empty
    g = g.reshape(batch, channels, multiplier, *out_size)  # (N, C, M, *out)
    g_flat = g.reshape(batch, channels, multiplier, pixels)  # (N, C, M, P)
    w = weight.reshape(channels, multiplier, *kernel)  # (C, M, *k)
    x_pad = _core.pad_spatial(x, pads)  # (N, C, *padded)
    grad_x_pad = np.zeros(x_pad.shape, dtype=dtype)
    grad_w = np.zeros(w.shape, dtype=dtype)
    for tap, window in _core.taps(kernel, stride, dilation, out_size):
        index = (slice(None), slice(None), *window)
        kernel_index = (slice(None), slice(None), *tap)
        x_win = x_pad[index].reshape(batch, channels, pixels)  # (N, C, P)
        grad_w[kernel_index] = np.einsum("ncmp,ncp->cm", g_flat, x_win)
        grad_x_pad[index] += np.einsum("ncm...,cm->nc...", g, w[kernel_index])  # (N, C, *out)
    return _core.crop_spatial(grad_x_pad, pads), grad_w.reshape(weight.shape)


@_core.ieee
def depthwise_conv_nd_backward(
    grad_out: np.ndarray, x: np.ndarray, weight: np.ndarray, stride: IntOrTuple,
    padding: PaddingArg, dilation: IntOrTuple, data_format: DataFormat, n: int,
    *, names: tuple[str, str] = ("x", "weight"),
) -> Gradients:
    """Gradients of :func:`depthwise_conv_nd` with respect to ``x``, ``weight`` and ``bias``."""
    x_cf = _core.check_input(x, n, data_format, names[0])
    weight = check_depthwise_weight(weight, x_cf.shape[1], n, names[1])
    stride_t, pads, dilation_t, out_size = _core.geometry(x_cf.shape[2:], weight.shape[2:], stride, padding, dilation)
    g = _core.check_grad_out(grad_out, (x_cf.shape[0], weight.shape[0], *out_size), data_format)
    dtype = np.result_type(g, x_cf, weight)
    grad_x, grad_w = _backward(g, x_cf, weight, stride_t, pads, dilation_t, out_size, dtype)
    grad_bias = g.sum(axis=(0, *range(2, 2 + n)), dtype=dtype)  # (C*M,)
    return _core.to_caller_layout(grad_x, data_format), grad_w, grad_bias


def depthwise_conv1d(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    *,
    data_format: DataFormat = "channels_first",
) -> np.ndarray:
    """1D depthwise convolution (cross-correlation, PyTorch's ``conv1d(groups=C)``).

    Args:
        x: input, ``(N, C, L)`` (channels_first) or ``(N, L, C)`` (channels_last); real floating dtype.
        weight: ``(C * M, 1, k)``; output channel ``c * M + j`` filters input channel ``c``.
        bias: optional ``(C * M,)``.
        stride, dilation: positive int or 1-tuple.
        padding: int, 1-tuple, ``((before, after),)``, ``"valid"``, ``"same"`` (TensorFlow rule) or
            ``"causal"`` (``before = d * (k - 1)``, ``after = 0``).
        data_format: ``"channels_first"`` or ``"channels_last"`` (weights keep their layout).

    Shape:
        ``L_out = floor((L + before + after - d * (k - 1) - 1) / s) + 1``.

    Returns:
        ``(N, C * M, L_out)`` or ``(N, L_out, C * M)``, dtype ``np.result_type(x, weight)``.

    Example:
        >>> depthwise_conv1d(np.ones((1, 2, 8)), np.ones((2, 1, 3)), padding="causal")[0, 0, :3]
        array([1., 2., 3.])
    """
    return depthwise_conv_nd(x, weight, bias, stride, padding, dilation, data_format, 1)


def depthwise_conv2d(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    *,
    data_format: DataFormat = "channels_first",
) -> np.ndarray:
    """2D depthwise convolution (cross-correlation, PyTorch's ``conv2d(groups=C)``).

    Args:
        x: input, ``(N, C, H, W)`` (channels_first) or ``(N, H, W, C)`` (channels_last); real floating dtype.
        weight: ``(C * M, 1, k_h, k_w)``; output channel ``c * M + j`` filters input channel ``c``.
        bias: optional ``(C * M,)``.
        stride, dilation: positive int or ``(s_h, s_w)``.
        padding: int, ``(p_h, p_w)``, ``((top, bottom), (left, right))``, ``"valid"`` or ``"same"``
            (TensorFlow rule for any stride; an odd total puts the extra pixel after).
        data_format: ``"channels_first"`` or ``"channels_last"`` (weights keep their layout).

    Shape:
        ``H_out = floor((H + top + bottom - d_h * (k_h - 1) - 1) / s_h) + 1``, likewise ``W_out``.

    Returns:
        ``(N, C * M, H_out, W_out)`` or ``(N, H_out, W_out, C * M)``, dtype ``np.result_type(x, weight)``.

    Example:
        >>> x = np.ones((1, 3, 7, 7), dtype=np.float32)
        >>> w = np.ones((6, 1, 3, 3), dtype=np.float32)  # depth multiplier 2
        >>> depthwise_conv2d(x, w, stride=2, padding="same").shape
        (1, 6, 4, 4)
    """
    return depthwise_conv_nd(x, weight, bias, stride, padding, dilation, data_format, 2)


def depthwise_conv3d(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    *,
    data_format: DataFormat = "channels_first",
) -> np.ndarray:
    """3D depthwise convolution (cross-correlation, PyTorch's ``conv3d(groups=C)``).

    Args:
        x: input, ``(N, C, D, H, W)`` (channels_first) or ``(N, D, H, W, C)`` (channels_last).
        weight: ``(C * M, 1, k_d, k_h, k_w)``; output channel ``c * M + j`` filters input channel ``c``.
        bias: optional ``(C * M,)``.
        stride, dilation: positive int or 3-tuple.
        padding: int, 3-tuple, three ``(before, after)`` pairs, ``"valid"`` or ``"same"``.
        data_format: ``"channels_first"`` or ``"channels_last"``.

    Shape:
        ``D_out = floor((D + before + after - d_d * (k_d - 1) - 1) / s_d) + 1``, likewise ``H_out``, ``W_out``.

    Returns:
        ``(N, C * M, D_out, H_out, W_out)`` or channels-last, dtype ``np.result_type(x, weight)``.

    Example:
        >>> depthwise_conv3d(np.ones((1, 2, 4, 4, 4)), np.ones((2, 1, 3, 3, 3))).shape
        (1, 2, 2, 2, 2)
    """
    return depthwise_conv_nd(x, weight, bias, stride, padding, dilation, data_format, 3)


def depthwise_conv1d_backward(
    grad_out: np.ndarray,
    x: np.ndarray,
    weight: np.ndarray,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    *,
    data_format: DataFormat = "channels_first",
) -> Gradients:
    """Gradients of :func:`depthwise_conv1d` (the reference for every fast path's backward).

    Args:
        grad_out: gradient of the loss with respect to the output, shaped like the output.
        x, weight, stride, padding, dilation, data_format: the forward call's arguments.

    Shape:
        ``grad_out``: ``(N, C * M, L_out)`` (channels_first) or ``(N, L_out, C * M)``.

    Returns:
        ``(grad_x, grad_weight, grad_bias)`` shaped like ``x``, ``weight`` and ``(C * M,)``; ``grad_bias``
        is returned whether or not the forward pass used a bias.

    Example:
        >>> gx, gw, gb = depthwise_conv1d_backward(np.ones((1, 2, 6)), np.ones((1, 2, 8)), np.ones((2, 1, 3)))
        >>> gx[0, 0], gw[0, 0], gb
        (array([1., 2., 3., 3., 3., 3., 2., 1.]), array([6., 6., 6.]), array([6., 6.]))
    """
    return depthwise_conv_nd_backward(grad_out, x, weight, stride, padding, dilation, data_format, 1)


def depthwise_conv2d_backward(
    grad_out: np.ndarray,
    x: np.ndarray,
    weight: np.ndarray,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    *,
    data_format: DataFormat = "channels_first",
) -> Gradients:
    """Gradients of :func:`depthwise_conv2d` (the reference for every fast path's backward).

    Args:
        grad_out: gradient of the loss with respect to the output, shaped like the output.
        x, weight, stride, padding, dilation, data_format: the forward call's arguments.

    Shape:
        ``grad_out``: ``(N, C * M, H_out, W_out)`` (channels_first) or ``(N, H_out, W_out, C * M)``.

    Returns:
        ``(grad_x, grad_weight, grad_bias)`` shaped like ``x``, ``weight`` and ``(C * M,)``; ``grad_bias``
        is returned whether or not the forward pass used a bias.

    Example:
        >>> x, w = np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3))
        >>> gx, gw, gb = depthwise_conv2d_backward(np.ones((1, 1, 2, 2)), x, w)
        >>> gx[0, 0, 0], gw[0, 0, 0], gb
        (array([1., 2., 2., 1.]), array([4., 4., 4.]), array([4.]))
    """
    return depthwise_conv_nd_backward(grad_out, x, weight, stride, padding, dilation, data_format, 2)


def depthwise_conv3d_backward(
    grad_out: np.ndarray,
    x: np.ndarray,
    weight: np.ndarray,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    *,
    data_format: DataFormat = "channels_first",
) -> Gradients:
    """Gradients of :func:`depthwise_conv3d` (the reference for every fast path's backward).

    Args:
        grad_out: gradient of the loss with respect to the output, shaped like the output.
        x, weight, stride, padding, dilation, data_format: the forward call's arguments.

    Shape:
        ``grad_out``: ``(N, C * M, D_out, H_out, W_out)`` (channels_first) or channels-last.

    Returns:
        ``(grad_x, grad_weight, grad_bias)`` shaped like ``x``, ``weight`` and ``(C * M,)``; ``grad_bias``
        is returned whether or not the forward pass used a bias.

    Example:
        >>> x, w = np.ones((1, 1, 3, 3, 3)), np.ones((1, 1, 3, 3, 3))
        >>> depthwise_conv3d_backward(np.ones((1, 1, 1, 1, 1)), x, w)[1].sum()
        np.float64(27.0)
    """
    return depthwise_conv_nd_backward(grad_out, x, weight, stride, padding, dilation, data_format, 3)
