"""Kernel layout converters between Keras/TensorFlow and dsconv (= PyTorch's grouped layout).

Keras/TensorFlow store a depthwise kernel as ``(*kernel_size, C, M)`` and define (TensorFlow docs,
``tf.nn.depthwise_conv2d``, https://www.tensorflow.org/api_docs/python/tf/nn/depthwise_conv2d)::

    output[b, i, j, k * channel_multiplier + q] = sum_{di, dj} filter[di, dj, k, q]
        * input[b, strides[1] * i + dilations[0] * di, strides[2] * j + dilations[1] * dj, k]

so output channel ``c * M + m`` uses ``kernel[..., c, m]``. dsconv's depthwise weight ``(C * M, 1, *k)``
uses the same channel order (row ``c * M + m`` filters input channel ``c``), so the conversion is a
reshape of the last two axes to ``C * M`` and a move of that axis to the front: no reordering of
channels. Pointwise kernels: Keras ``(*ones, C_in, C_out)`` <-> PyTorch ``(C_out, C_in, *ones)``.
Both stacks compute cross-correlation, so spatial taps are never flipped.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dsconv._validation import check_positive


def _check_array(value: Any, name: str, min_ndim: int, max_ndim: int, layout: str) -> np.ndarray:
    """Require a real numeric NumPy array of rank ``min_ndim..max_ndim``."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"`{name}` must be a NumPy array. Received {name} of type {type(value).__name__}")
    if not (np.issubdtype(value.dtype, np.floating) or np.issubdtype(value.dtype, np.integer)):
        raise TypeError(f"`{name}` must have a real numeric dtype. Received {name}.dtype={value.dtype}")
    if not min_ndim <= value.ndim <= max_ndim or 0 in value.shape:
        raise ValueError(
            f"`{name}` must be a non-empty {min_ndim}D to {max_ndim}D array {layout}. "
            f"Received {name}.shape={value.shape}"
        )
    return value


def keras_to_torch_depthwise(kernel: np.ndarray) -> np.ndarray:
    """Convert a Keras/TensorFlow depthwise kernel to dsconv's (PyTorch's) depthwise weight.

    Args:
        kernel: ``(*kernel_size, C, M)`` with 1 to 3 spatial dimensions (``DepthwiseConv{1,2,3}D.kernel``).

    Shape:
        ``(*k, C, M) -> (C * M, 1, *k)``.

    Returns:
        A new C-contiguous array; row ``c * M + m`` is ``kernel[..., c, m]``.

    Example:
        >>> keras_to_torch_depthwise(np.zeros((3, 3, 8, 2))).shape
        (16, 1, 3, 3)
    """
    kernel = _check_array(kernel, "kernel", 3, 5, "(*kernel_size, C, M)")
    *spatial, channels, multiplier = kernel.shape
    flat = kernel.reshape(*spatial, channels * multiplier)  # (*k, C*M), index c*M + m
    return np.ascontiguousarray(np.moveaxis(flat, -1, 0)[:, None])  # (C*M, 1, *k)


def torch_to_keras_depthwise(weight: np.ndarray, depth_multiplier: int) -> np.ndarray:
    """Convert a dsconv/PyTorch depthwise weight to a Keras/TensorFlow depthwise kernel.

    Args:
        weight: ``(C * M, 1, *kernel_size)`` with 1 to 3 spatial dimensions.
        depth_multiplier: ``M``, a positive int dividing ``weight.shape[0]``.

    Shape:
        ``(C * M, 1, *k) -> (*k, C, M)``.

    Returns:
        A new C-contiguous array; ``kernel[..., c, m]`` is row ``c * M + m`` of ``weight``.

    Example:
        >>> torch_to_keras_depthwise(np.zeros((16, 1, 3, 3)), depth_multiplier=2).shape
        (3, 3, 8, 2)
    """
    weight = _check_array(weight, "weight", 3, 5, "(C * depth_multiplier, 1, *kernel_size)")
    multiplier = check_positive(depth_multiplier, "depth_multiplier")
    if weight.shape[1] != 1 or weight.shape[0] % multiplier:
        raise ValueError(
            f"`weight` must have shape (C * depth_multiplier, 1, *kernel_size) with a first dimension divisible by "
            f"depth_multiplier={multiplier}. Received weight.shape={weight.shape}"
        )
    spatial = weight.shape[2:]
    channels = weight.shape[0] // multiplier
    flat = np.moveaxis(weight[:, 0], 0, -1)  # (*k, C*M)
    return np.ascontiguousarray(flat.reshape(*spatial, channels, multiplier))  # (*k, C, M)


def keras_to_torch_pointwise(kernel: np.ndarray) -> np.ndarray:
    """Convert a Keras/TensorFlow 1x1 kernel ``(*ones, C_in, C_out)`` to PyTorch's ``(C_out, C_in, *ones)``.

    Args:
        kernel: ``(1, C_in, C_out)``, ``(1, 1, C_in, C_out)`` or ``(1, 1, 1, C_in, C_out)``.

    Shape:
        ``(*ones, C_in, C_out) -> (C_out, C_in, *ones)``.

    Returns:
        A new C-contiguous array with ``weight[o, i] == kernel[..., i, o]``.

    Example:
        >>> keras_to_torch_pointwise(np.zeros((1, 1, 8, 16))).shape
        (16, 8, 1, 1)
    """
    kernel = _check_array(kernel, "kernel", 3, 5, "(*ones, C_in, C_out)")
    ones = kernel.shape[:-2]
    if any(size != 1 for size in ones):
        raise ValueError(
            f"`kernel` must have spatial size 1 (a pointwise kernel). Received kernel.shape={kernel.shape}"
        )
    in_channels, out_channels = kernel.shape[-2:]
    matrix = kernel.reshape(in_channels, out_channels).T  # (C_out, C_in)
    return np.ascontiguousarray(matrix.reshape(out_channels, in_channels, *ones))


def torch_to_keras_pointwise(weight: np.ndarray) -> np.ndarray:
    """Convert a PyTorch 1x1 weight ``(C_out, C_in, *ones)`` to Keras/TensorFlow's ``(*ones, C_in, C_out)``.

    Args:
        weight: ``(C_out, C_in, 1)``, ``(C_out, C_in, 1, 1)`` or ``(C_out, C_in, 1, 1, 1)``.

    Shape:
        ``(C_out, C_in, *ones) -> (*ones, C_in, C_out)``.

    Returns:
        A new C-contiguous array with ``kernel[..., i, o] == weight[o, i]``.

    Example:
        >>> torch_to_keras_pointwise(np.zeros((16, 8, 1, 1))).shape
        (1, 1, 8, 16)
    """
    weight = _check_array(weight, "weight", 3, 5, "(C_out, C_in, *ones)")
    ones = weight.shape[2:]
    if any(size != 1 for size in ones):
        raise ValueError(
            f"`weight` must have spatial size 1 (a pointwise weight). Received weight.shape={weight.shape}"
        )
    out_channels, in_channels = weight.shape[:2]
    matrix = weight.reshape(out_channels, in_channels).T  # (C_in, C_out)
    return np.ascontiguousarray(matrix.reshape(*ones, in_channels, out_channels))
