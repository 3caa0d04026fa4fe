"""Depthwise-separable convolution (NumPy reference): pointwise after depthwise, composed, never re-implemented.

``separable(x) = pointwise(depthwise(x, dw_weight, dw_bias), pw_weight, pw_bias)``: the depthwise step
filters each channel spatially (``C -> C * M`` channels), the pointwise step mixes channels
(``C * M -> C_out``). The output spatial size is the depthwise step's::

    out = floor((n + before + after - d * (k - 1) - 1) / s) + 1
"""

from __future__ import annotations

import numpy as np

from dsconv.functional._core import DataFormat, IntOrTuple
from dsconv.functional.depthwise import depthwise_conv_nd, depthwise_conv_nd_backward
from dsconv.functional.pointwise import pointwise_conv_nd, pointwise_conv_nd_backward
from dsconv.functional.shapes import PaddingArg

SeparableGradients = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]

# The intermediate is an internal tensor: its checks cannot fail on the caller's `x`, only on the weights.
_DW_NAMES = ("x", "dw_weight", "dw_bias")
_PW_NAMES = ("x", "pw_weight", "pw_bias")


def separable_conv_nd(
    x: np.ndarray, dw_weight: np.ndarray, pw_weight: np.ndarray, dw_bias: np.ndarray | None,
    pw_bias: np.ndarray | None, stride: IntOrTuple, padding: PaddingArg, dilation: IntOrTuple,
    data_format: DataFormat, n: int,
) -> np.ndarray:
    """``n``-D separable convolution: :func:`pointwise_conv_nd` applied to :func:`depthwise_conv_nd`."""
    mid = depthwise_conv_nd(x, dw_weight, dw_bias, stride, padding, dilation, data_format, n, names=_DW_NAMES)
    return pointwise_conv_nd(mid, pw_weight, pw_bias, data_format, n, names=_PW_NAMES)


def separable_conv_nd_backward(
    grad_out: np.ndarray, x: np.ndarray, dw_weight: np.ndarray, pw_weight: np.ndarray,
    dw_bias: np.ndarray | None, stride: IntOrTuple, padding: PaddingArg, dilation: IntOrTuple,
    data_format: DataFormat, n: int,
) -> SeparableGradients:
    """Chain rule through the composition: pointwise backward at the intermediate, then depthwise backward."""
    mid = depthwise_conv_nd(x, dw_weight, dw_bias, stride, padding, dilation, data_format, n, names=_DW_NAMES)
    grad_mid, grad_pw_weight, grad_pw_bias = pointwise_conv_nd_backward(
        grad_out, mid, pw_weight, data_format, n, names=_PW_NAMES[:2]
    )
    grad_x, grad_dw_weight, grad_dw_bias = depthwise_conv_nd_backward(
        grad_mid, x, dw_weight, stride, padding, dilation, data_format, n, names=_DW_NAMES[:2]
    )
    return grad_x, grad_dw_weight, grad_dw_bias, grad_pw_weight, grad_pw_bias


def separable_conv1d(
    x: np.ndarray,
    dw_weight: np.ndarray,
    pw_weight: np.ndarray,
    dw_bias: np.ndarray | None = None,
    pw_bias: np.ndarray | None = None,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    *,
    data_format: DataFormat = "channels_first",
) -> np.ndarray:
    """1D depthwise-separable convolution: ``pointwise_conv1d(depthwise_conv1d(x, ...), ...)``.

    Args:
        x: ``(N, C, L)`` (channels_first) or ``(N, L, C)`` (channels_last); real floating dtype.
        dw_weight: depthwise weight ``(C * M, 1, k)``.
        pw_weight: pointwise weight ``(C_out, C * M, 1)``.
        dw_bias, pw_bias: optional ``(C * M,)`` and ``(C_out,)``.
        stride, dilation, padding: the depthwise step's, as in :func:`depthwise_conv1d`, including ``"causal"``.
        data_format: ``"channels_first"`` or ``"channels_last"`` (weights keep their layout).

    Shape:
        per spatial dimension ``out = floor((n + before + after - d * (k - 1) - 1) / s) + 1``.

    Returns:
        ``(N, C_out, L_out)`` or ``(N, L_out, C_out)``,
        dtype ``np.result_type(x, dw_weight, pw_weight)``.

    Example:
        >>> x = np.ones((1, 2, 8))
        >>> separable_conv1d(x, np.ones((4, 1, 3)), np.ones((5, 4, 1)), padding="same").shape
        (1, 5, 8)
    """
    return separable_conv_nd(
        x, dw_weight, pw_weight, dw_bias, pw_bias, stride, padding, dilation, data_format, 1
    )


def separable_conv2d(
    x: np.ndarray,
    dw_weight: np.ndarray,
    pw_weight: np.ndarray,
    dw_bias: np.ndarray | None = None,
    pw_bias: np.ndarray | None = None,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    *,
    data_format: DataFormat = "channels_first",
) -> np.ndarray:
    """2D depthwise-separable convolution: ``pointwise_conv2d(depthwise_conv2d(x, ...), ...)``.

    Args:
        x: ``(N, C, H, W)`` (channels_first) or ``(N, H, W, C)`` (channels_last); real floating dtype.
        dw_weight: depthwise weight ``(C * M, 1, k_h, k_w)``.
        pw_weight: pointwise weight ``(C_out, C * M, 1, 1)``.
        dw_bias, pw_bias: optional ``(C * M,)`` and ``(C_out,)``.
        stride, dilation, padding: the depthwise step's, as in :func:`depthwise_conv2d`.
        data_format: ``"channels_first"`` or ``"channels_last"`` (weights keep their layout).

    Shape:
        per spatial dimension ``out = floor((n + before + after - d * (k - 1) - 1) / s) + 1``.

    Returns:
        ``(N, C_out, H_out, W_out)`` or ``(N, H_out, W_out, C_out)``,
        dtype ``np.result_type(x, dw_weight, pw_weight)``.

    Example:
        >>> x = np.ones((1, 2, 6, 6))
        >>> separable_conv2d(x, np.ones((4, 1, 3, 3)), np.ones((5, 4, 1, 1)), padding="same").shape
        (1, 5, 6, 6)
    """
    return separable_conv_nd(
        x, dw_weight, pw_weight, dw_bias, pw_bias, stride, padding, dilation, data_format, 2
    )


def separable_conv3d(
    x: np.ndarray,
    dw_weight: np.ndarray,
    pw_weight: np.ndarray,
    dw_bias: np.ndarray | None = None,
    pw_bias: np.ndarray | None = None,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    *,
    data_format: DataFormat = "channels_first",
) -> np.ndarray:
    """3D depthwise-separable convolution: ``pointwise_conv3d(depthwise_conv3d(x, ...), ...)``.

    Args:
        x: ``(N, C, D, H, W)`` (channels_first) or ``(N, D, H, W, C)`` (channels_last); real floating dtype.
        dw_weight: depthwise weight ``(C * M, 1, k_d, k_h, k_w)``.
        pw_weight: pointwise weight ``(C_out, C * M, 1, 1, 1)``.
        dw_bias, pw_bias: optional ``(C * M,)`` and ``(C_out,)``.
        stride, dilation, padding: the depthwise step's, as in :func:`depthwise_conv3d`.
        data_format: ``"channels_first"`` or ``"channels_last"`` (weights keep their layout).

    Shape:
        per spatial dimension ``out = floor((n + before + after - d * (k - 1) - 1) / s) + 1``.

    Returns:
        ``(N, C_out, D_out, H_out, W_out)`` or ``(N, D_out, H_out, W_out, C_out)``,
        dtype ``np.result_type(x, dw_weight, pw_weight)``.

    Example:
        >>> x = np.ones((1, 2, 3, 3, 3))
        >>> separable_conv3d(x, np.ones((2, 1, 3, 3, 3)), np.ones((5, 2, 1, 1, 1)), padding="same").shape
        (1, 5, 3, 3, 3)
    """
    return separable_conv_nd(
        x, dw_weight, pw_weight, dw_bias, pw_bias, stride, padding, dilation, data_format, 3
    )


def separable_conv1d_backward(
    grad_out: np.ndarray,
    x: np.ndarray,
    dw_weight: np.ndarray,
    pw_weight: np.ndarray,
    dw_bias: np.ndarray | None = None,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    *,
    data_format: DataFormat = "channels_first",
) -> SeparableGradients:
    """Gradients of :func:`separable_conv1d` (``dw_bias`` is needed: it shifts the intermediate).

    Args:
        grad_out: gradient with respect to the output, shaped like the output.
        x, dw_weight, pw_weight, dw_bias, stride, padding, dilation, data_format: the forward call's arguments.

    Shape:
        ``grad_out``: ``(N, C_out, L_out)`` (channels_first) or ``(N, L_out, C_out)``.

    Returns:
        ``(grad_x, grad_dw_weight, grad_dw_bias, grad_pw_weight, grad_pw_bias)`` shaped like ``x``,
        ``dw_weight``, ``(C * M,)``, ``pw_weight`` and ``(C_out,)``; bias gradients are returned whether or
        not the forward pass used biases.

    Example:
        >>> x, dw, pw = np.ones((1, 2, 8)), np.ones((4, 1, 3)), np.ones((5, 4, 1))
        >>> grads = separable_conv1d_backward(np.ones((1, 5, 8)), x, dw, pw, padding="same")
        >>> [g.shape for g in grads]
        [(1, 2, 8), (4, 1, 3), (4,), (5, 4, 1), (5,)]
    """
    return separable_conv_nd_backward(
        grad_out, x, dw_weight, pw_weight, dw_bias, stride, padding, dilation, data_format, 1
    )


def separable_conv2d_backward(
    grad_out: np.ndarray,
    x: np.ndarray,
    dw_weight: np.ndarray,
    pw_weight: np.ndarray,
    dw_bias: np.ndarray | None = None,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    *,
    data_format: DataFormat = "channels_first",
) -> SeparableGradients:
    """Gradients of :func:`separable_conv2d` (``dw_bias`` is needed: it shifts the intermediate).

    Args:
        grad_out: gradient with respect to the output, shaped like the output.
        x, dw_weight, pw_weight, dw_bias, stride, padding, dilation, data_format: the forward call's arguments.

    Shape:
        ``grad_out``: ``(N, C_out, H_out, W_out)`` (channels_first) or ``(N, H_out, W_out, C_out)``.

    Returns:
        ``(grad_x, grad_dw_weight, grad_dw_bias, grad_pw_weight, grad_pw_bias)`` shaped like ``x``,
        ``dw_weight``, ``(C * M,)``, ``pw_weight`` and ``(C_out,)``; bias gradients are returned whether or
        not the forward pass used biases.

    Example:
        >>> x, dw, pw = np.ones((1, 2, 6, 6)), np.ones((4, 1, 3, 3)), np.ones((5, 4, 1, 1))
        >>> grads = separable_conv2d_backward(np.ones((1, 5, 6, 6)), x, dw, pw, padding="same")
        >>> [g.shape for g in grads]
        [(1, 2, 6, 6), (4, 1, 3, 3), (4,), (5, 4, 1, 1), (5,)]
    """
    return separable_conv_nd_backward(
        grad_out, x, dw_weight, pw_weight, dw_bias, stride, padding, dilation, data_format, 2
    )


def separable_conv3d_backward(
    grad_out: np.ndarray,
    x: np.ndarray,
    dw_weight: np.ndarray,
    pw_weight: np.ndarray,
    dw_bias: np.ndarray | None = None,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    *,
    data_format: DataFormat = "channels_first",
) -> SeparableGradients:
    """Gradients of :func:`separable_conv3d` (``dw_bias`` is needed: it shifts the intermediate).

    Args:
        grad_out: gradient with respect to the output, shaped like the output.
        x, dw_weight, pw_weight, dw_bias, stride, padding, dilation, data_format: the forward call's arguments.

    Shape:
        ``grad_out``: ``(N, C_out, D_out, H_out, W_out)`` (channels_first) or ``(N, D_out, H_out, W_out, C_out)``.

    Returns:
        ``(grad_x, grad_dw_weight, grad_dw_bias, grad_pw_weight, grad_pw_bias)`` shaped like ``x``,
        ``dw_weight``, ``(C * M,)``, ``pw_weight`` and ``(C_out,)``; bias gradients are returned whether or
        not the forward pass used biases.

    Example:
        >>> x, dw, pw = np.ones((1, 2, 3, 3, 3)), np.ones((2, 1, 3, 3, 3)), np.ones((5, 2, 1, 1, 1))
        >>> grads = separable_conv3d_backward(np.ones((1, 5, 3, 3, 3)), x, dw, pw, padding="same")
        >>> [g.shape for g in grads]
        [(1, 2, 3, 3, 3), (2, 1, 3, 3, 3), (2,), (5, 2, 1, 1, 1), (5,)]
    """
    return separable_conv_nd_backward(
        grad_out, x, dw_weight, pw_weight, dw_bias, stride, padding, dilation, data_format, 3
    )
