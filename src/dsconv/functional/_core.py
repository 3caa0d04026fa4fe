"""Private helpers shared by the NumPy reference ops: argument checks, layout moves, padding, taps.

Every op works internally on channels-first arrays ``(N, C, *spatial)``. A convolution is computed
as a sum over the kernel taps: for tap ``t = (t_1, ..., t_d)`` the window of the padded input that
the tap touches, for every output position at once, is the strided slice
``t_i * dilation_i :: stride_i`` (``out_i`` elements) in each spatial dimension. One Python loop
over the ``prod(kernel_size)`` taps, no loop over pixels.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal, TypeVar, Union

import numpy as np

from dsconv._validation import check_data_format, check_float_array, to_tuple
from dsconv.functional.shapes import PaddingArg, Pads, conv_geometry

IntOrTuple = Union[int, Sequence[int]]
DataFormat = Literal["channels_first", "channels_last"]

_F = TypeVar("_F", bound=Callable[..., Any])

_SPATIAL_NAMES = {1: "L", 2: "H, W", 3: "D, H, W"}


def layout_text(n: int, data_format: str, channels: str = "C") -> str:
    """The expected input layout as text, e.g. ``(N, C, H, W)`` or ``(N, H, W, C)``."""
    spatial = _SPATIAL_NAMES[n]
    if data_format == "channels_last":
        return f"(N, {spatial}, {channels})"
    return f"(N, {channels}, {spatial})"


def check_input(x: Any, n: int, data_format: str, name: str = "x") -> np.ndarray:
    """Validate a floating input of rank ``n + 2`` and return it channels-first."""
    data_format = check_data_format(data_format)
    x = check_float_array(x, name)
    if x.ndim != n + 2:
        raise ValueError(
            f"`{name}` must be a {n + 2}D array {layout_text(n, data_format)} for a {n}D convolution with "
            f"data_format={data_format!r}. Received {name}.shape={x.shape}"
        )
    x_cf = to_channels_first(x, data_format)
    if x_cf.shape[1] < 1 or any(size < 1 for size in x_cf.shape[2:]):
        raise ValueError(
            f"`{name}` must have at least one channel and a non-empty spatial size. Received {name}.shape={x.shape}"
        )
    return x_cf


def check_weight(weight: Any, n: int, name: str = "weight") -> np.ndarray:
    """Validate a floating weight of rank ``n + 2`` in PyTorch's ``(C_out, C_in / groups, *kernel)`` layout."""
    weight = check_float_array(weight, name)
    if weight.ndim != n + 2 or 0 in weight.shape:
        raise ValueError(
            f"`{name}` must be a non-empty {n + 2}D array (C_out, C_in / groups, *kernel_size) for a {n}D "
            f"convolution. Received {name}.shape={weight.shape}"
        )
    return weight


def check_bias(bias: Any, out_channels: int, dtype: np.dtype, name: str = "bias") -> np.ndarray | None:
    """Validate an optional bias of shape ``(out_channels,)``; return it cast to ``dtype``."""
    if bias is None:
        return None
    bias = check_float_array(bias, name)
    if bias.shape != (out_channels,):
        raise ValueError(
            f"`{name}` must have shape (out_channels,) = ({out_channels},). Received {name}.shape={bias.shape}"
        )
    return bias.astype(dtype, copy=False)


def to_channels_first(x: np.ndarray, data_format: str) -> np.ndarray:
    """``(N, *spatial, C)`` -> ``(N, C, *spatial)`` for channels_last; identity otherwise (a view)."""
    return np.moveaxis(x, -1, 1) if data_format == "channels_last" else x


def to_channels_last(x: np.ndarray, data_format: str) -> np.ndarray:
    """Inverse of :func:`to_channels_first`: back to the caller's layout (a view)."""
    return np.moveaxis(x, 1, -1) if data_format == "channels_last" else x


def geometry(
    spatial: tuple[int, ...],
    kernel_size: tuple[int, ...],
    stride: Any,
    padding: PaddingArg,
    dilation: Any,
) -> tuple[tuple[int, ...], Pads, tuple[int, ...], tuple[int, ...]]:
    """Normalise stride/dilation and resolve padding: ``(stride, pads, dilation, out_size)``."""
    n = len(spatial)
    stride_t = to_tuple(stride, n, "stride")
    dilation_t = to_tuple(dilation, n, "dilation")
    pads, out_size = conv_geometry(spatial, kernel_size, stride_t, padding, dilation_t)
    return stride_t, pads, dilation_t, out_size


def pad_spatial(x: np.ndarray, pads: Pads) -> np.ndarray:
    """Zero-pad the spatial dimensions of a channels-first array."""
    if all(before == 0 and after == 0 for before, after in pads):
        return x
    return np.pad(x, ((0, 0), (0, 0), *pads))


def crop_spatial(x: np.ndarray, pads: Pads) -> np.ndarray:
    """Remove the padding added by :func:`pad_spatial` (the adjoint of padding, for gradients)."""
    index = tuple(slice(before, x.shape[2 + i] - after) for i, (before, after) in enumerate(pads))
    return x[(slice(None), slice(None), *index)]


def taps(
    kernel_size: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    out_size: tuple[int, ...],
) -> Iterator[tuple[tuple[int, ...], tuple[slice, ...]]]:
    """Yield ``(tap, window)`` for every kernel tap.

    ``window`` is the tuple of spatial slices selecting, in the padded input, the pixel that tap
    ``tap`` multiplies for every output position: ``padded[..., window]`` has shape ``(..., *out_size)``.
    """
    for tap in itertools.product(*(range(k) for k in kernel_size)):
        window = tuple(
            slice(t * d, t * d + (o - 1) * s + 1, s) for t, d, s, o in zip(tap, dilation, stride, out_size)
        )
        yield tap, window


def check_grad_out(grad_out: Any, expected_cf: tuple[int, ...], data_format: str) -> np.ndarray:
    """Validate ``grad_out`` against the forward output shape; return it channels-first."""
    grad_out = check_float_array(grad_out, "grad_out")
    expected = expected_cf
    if data_format == "channels_last":
        expected = (expected_cf[0], *expected_cf[2:], expected_cf[1])
    if grad_out.shape != expected:
        raise ValueError(
            f"`grad_out` must have the forward output's shape {expected}. Received grad_out.shape={grad_out.shape}"
        )
    return to_channels_first(grad_out, data_format)


def to_caller_layout(out: np.ndarray, data_format: str) -> np.ndarray:
    """Return a channels-first result in the caller's ``data_format`` as a C-contiguous array."""
    return np.ascontiguousarray(to_channels_last(out, data_format))


def add_bias(out: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """Add a per-channel bias ``(C,)`` to a channels-first array ``(N, C, *spatial)`` in place."""
    if bias is not None:
        out += bias.reshape(-1, *(1,) * (out.ndim - 2))
    return out


def ieee(function: _F) -> _F:
    """Let NaN and inf propagate silently, as in PyTorch (``inf - inf`` gives NaN without a RuntimeWarning)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with np.errstate(invalid="ignore", over="ignore"):
            return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
