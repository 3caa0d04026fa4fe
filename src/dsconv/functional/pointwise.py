"""Pointwise (1x1) convolution (NumPy reference): a per-pixel linear map across channels.

``out[n, o, *pos] = bias[o] + sum_i weight[o, i, 0, ...] * x[n, i, *pos]``, with the weight in
PyTorch's ``(C_out, C_in, 1, ...)`` layout. The spatial size is unchanged.
"""

from __future__ import annotations

import math

import numpy as np

from dsconv.functional import _core
from dsconv.functional._core import DataFormat

Gradients = tuple[np.ndarray, np.ndarray, np.ndarray]


def check_pointwise_weight(weight: np.ndarray, in_channels: int, n: int, name: str = "weight") -> np.ndarray:
    """Validate a pointwise weight ``(C_out, C_in, 1, ...)`` for ``in_channels`` input channels."""
    weight = _core.check_weight(weight, n, name)
    ones = (1,) * n
    if weight.shape[1] != in_channels or weight.shape[2:] != ones:
        raise ValueError(
            f"`{name}` must have shape (C_out, C_in, {', '.join('1' * n)}) with C_in={in_channels} (the channels "
            f"of its input). Received {name}.shape={weight.shape}"
        )
    return weight


@_core.ieee
def pointwise_conv_nd(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    data_format: DataFormat,
    n: int,
    *,
    names: tuple[str, str, str] = ("x", "weight", "bias"),
) -> np.ndarray:
    """Validate and run the ``n``-D pointwise convolution; ``names`` label the arguments in errors."""
    x_cf = _core.check_input(x, n, data_format, names[0])
    weight = check_pointwise_weight(weight, x_cf.shape[1], n, names[1])
    dtype = np.result_type(x, weight)
    bias = _core.check_bias(bias, weight.shape[0], dtype, names[2])
    w = weight.reshape(weight.shape[:2])  # (C_out, C_in)
    out = np.einsum("oi,ni...->no...", w, x_cf, optimize=True).astype(dtype, copy=False)  # (N, C_out, *spatial)
    return _core.to_caller_layout(_core.add_bias(out, bias), data_format)


@_core.ieee
def pointwise_conv_nd_backward(
    grad_out: np.ndarray,
    x: np.ndarray,
    weight: np.ndarray,
    data_format: DataFormat,
    n: int,
    *,
    names: tuple[str, str] = ("x", "weight"),
) -> Gradients:
    """Gradients of :func:`pointwise_conv_nd` with respect to ``x``, ``weight`` and ``bias``."""
    x_cf = _core.check_input(x, n, data_format, names[0])
    weight = check_pointwise_weight(weight, x_cf.shape[1], n, names[1])
    g = _core.check_grad_out(grad_out, (x_cf.shape[0], weight.shape[0], *x_cf.shape[2:]), data_format)
    dtype = np.result_type(g, x_cf, weight)
    w = weight.reshape(weight.shape[:2])  # (C_out, C_in)
    grad_x = np.einsum("oi,no...->ni...", w, g, optimize=True).astype(dtype, copy=False)  # (N, C_in, *spatial)
    batch, pixels = x_cf.shape[0], math.prod(x_cf.shape[2:])  # explicit sizes: -1 fails on an empty batch
    g_flat = g.reshape(batch, g.shape[1], pixels)  # (N, C_out, P)
    x_flat = x_cf.reshape(batch, x_cf.shape[1], pixels)  # (N, C_in, P)
    grad_w = np.einsum("nop,nip->oi", g_flat, x_flat).astype(dtype, copy=False).reshape(weight.shape)
    grad_bias = g.sum(axis=(0, *range(2, 2 + n)), dtype=dtype)
    return _core.to_caller_layout(grad_x, data_format), grad_w, grad_bias


def pointwise_conv1d(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, *, data_format: DataFormat = "channels_first"
) -> np.ndarray:
    """1D pointwise convolution (``kernel_size=1``).

    Args:
        x: ``(N, C_in, L)`` (channels_first) or ``(N, L, C_in)`` (channels_last); real floating dtype.
        weight: ``(C_out, C_in, 1)``.
        bias: optional ``(C_out,)``.
        data_format: ``"channels_first"`` or ``"channels_last"``.

    Shape:
        ``L_out = L``.

    Returns:
        ``(N, C_out, L)`` or ``(N, L, C_out)``, dtype ``np.result_type(x, weight)``.

    Example:
        >>> pointwise_conv1d(np.ones((1, 3, 5)), np.ones((4, 3, 1))).shape
        (1, 4, 5)
    """
    return pointwise_conv_nd(x, weight, bias, data_format, 1)


def pointwise_conv2d(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, *, data_format: DataFormat = "channels_first"
) -> np.ndarray:
    """2D pointwise convolution (``kernel_size=1x1``).

    Args:
        x: ``(N, C_in, H, W)`` (channels_first) or ``(N, H, W, C_in)`` (channels_last); real floating dtype.
        weight: ``(C_out, C_in, 1, 1)``.
        bias: optional ``(C_out,)``.
        data_format: ``"channels_first"`` or ``"channels_last"``.

    Shape:
        ``(H_out, W_out) = (H, W)``.

    Returns:
        ``(N, C_out, H, W)`` or ``(N, H, W, C_out)``, dtype ``np.result_type(x, weight)``.

    Example:
        >>> pointwise_conv2d(np.ones((1, 5, 5, 3)), np.ones((4, 3, 1, 1)), data_format="channels_last").shape
        (1, 5, 5, 4)
    """
    return pointwise_conv_nd(x, weight, bias, data_format, 2)


def pointwise_conv3d(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, *, data_format: DataFormat = "channels_first"
) -> np.ndarray:
    """3D pointwise convolution (``kernel_size=1x1x1``).

    Args:
        x: ``(N, C_in, D, H, W)`` (channels_first) or ``(N, D, H, W, C_in)`` (channels_last).
        weight: ``(C_out, C_in, 1, 1, 1)``.
        bias: optional ``(C_out,)``.
        data_format: ``"channels_first"`` or ``"channels_last"``.

    Shape:
        ``(D_out, H_out, W_out) = (D, H, W)``.

    Returns:
        ``(N, C_out, D, H, W)`` or ``(N, D, H, W, C_out)``, dtype ``np.result_type(x, weight)``.

    Example:
        >>> pointwise_conv3d(np.ones((1, 3, 2, 2, 2)), np.ones((4, 3, 1, 1, 1))).shape
        (1, 4, 2, 2, 2)
    """
    return pointwise_conv_nd(x, weight, bias, data_format, 3)


def pointwise_conv1d_backward(
    grad_out: np.ndarray, x: np.ndarray, weight: np.ndarray, *, data_format: DataFormat = "channels_first"
) -> Gradients:
    """Gradients of :func:`pointwise_conv1d`.

    Args:
        grad_out: gradient with respect to the output, ``(N, C_out, L)`` (or channels-last).
        x, weight, data_format: the forward call's arguments.

    Shape:
        ``grad_out`` has the output's shape; ``L`` is unchanged.

    Returns:
        ``(grad_x, grad_weight, grad_bias)`` shaped like ``x``, ``weight`` and ``(C_out,)``.

    Example:
        >>> grads = pointwise_conv1d_backward(np.ones((1, 4, 5)), np.ones((1, 3, 5)), np.ones((4, 3, 1)))
        >>> [g.shape for g in grads]
        [(1, 3, 5), (4, 3, 1), (4,)]
    """
    return pointwise_conv_nd_backward(grad_out, x, weight, data_format, 1)


def pointwise_conv2d_backward(
    grad_out: np.ndarray, x: np.ndarray, weight: np.ndarray, *, data_format: DataFormat = "channels_first"
) -> Gradients:
    """Gradients of :func:`pointwise_conv2d`.

    Args:
        grad_out: gradient with respect to the output, ``(N, C_out, H, W)`` (or channels-last).
        x, weight, data_format: the forward call's arguments.

    Shape:
        ``grad_out`` has the output's shape; ``(H, W)`` is unchanged.

    Returns:
        ``(grad_x, grad_weight, grad_bias)`` shaped like ``x``, ``weight`` and ``(C_out,)``.

    Example:
        >>> x, w = np.ones((1, 1, 3, 3)), np.ones((2, 1, 1, 1))
        >>> gx, gw, gb = pointwise_conv2d_backward(np.ones((1, 2, 3, 3)), x, w)
        >>> gx[0, 0, 0], gw.ravel(), gb
        (array([2., 2., 2.]), array([9., 9.]), array([9., 9.]))
    """
    return pointwise_conv_nd_backward(grad_out, x, weight, data_format, 2)


def pointwise_conv3d_backward(
    grad_out: np.ndarray, x: np.ndarray, weight: np.ndarray, *, data_format: DataFormat = "channels_first"
) -> Gradients:
    """Gradients of :func:`pointwise_conv3d`.

    Args:
        grad_out: gradient with respect to the output, ``(N, C_out, D, H, W)`` (or channels-last).
        x, weight, data_format: the forward call's arguments.

    Shape:
        ``grad_out`` has the output's shape; ``(D, H, W)`` is unchanged.

    Returns:
        ``(grad_x, grad_weight, grad_bias)`` shaped like ``x``, ``weight`` and ``(C_out,)``.

    Example:
        >>> x, w = np.ones((1, 1, 1, 1, 1)), np.ones((2, 1, 1, 1, 1))
        >>> pointwise_conv3d_backward(np.ones((1, 2, 1, 1, 1)), x, w)[1].ravel()
        array([1., 1.])
    """
    return pointwise_conv_nd_backward(grad_out, x, weight, data_format, 3)
