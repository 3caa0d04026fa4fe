"""Torch versions of the dsconv ops, with the NumPy reference's argument names.

``depthwise_conv{1,2,3}d``, ``pointwise_conv{1,2,3}d`` and ``separable_conv{1,2,3}d`` take the same
arguments as ``dsconv.functional`` (PyTorch's grouped weight layout, ``data_format`` for the input) plus
``padding_mode`` (``"zeros"``, ``"reflect"``, ``"replicate"``, ``"circular"``) and ``backend``.
Every padding form of ``dsconv.functional.shapes`` is accepted: int, tuple of ints, tuple of
``(before, after)`` pairs, ``"valid"``, ``"same"`` (TensorFlow's rule; an odd total puts the extra
pixel after, applied with ``F.pad``) and ``"causal"`` (1D only). Output size per dimension:
``out = floor((n + before + after - dilation * (k - 1) - 1) / stride) + 1``.

Separable = pointwise after depthwise (``order="dw_pw"``), or depthwise after pointwise
(``order="pw_dw"``, the blueprint-separable BSConv-U order); it is composed from the two ops, never
re-implemented.

Example:
    >>> import torch
    >>> from dsconv.nn import functional as dF
    >>> x = torch.randn(1, 3, 8, 8)
    >>> dF.depthwise_conv2d(x, torch.randn(6, 1, 3, 3), stride=2, padding="same").shape
    torch.Size([1, 6, 4, 4])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dsconv._validation import check_choice, check_data_format, to_tuple
from dsconv.functional.shapes import PaddingArg, conv_output_size, resolve_padding
from dsconv.nn.backend import check_backend

if TYPE_CHECKING:
    from torch import Tensor

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
ORDERS = ("dw_pw", "pw_dw")
IntOrTuple = int | tuple[int, ...]

__all__ = [
    "ORDERS",
    "PADDING_MODES",
    "depthwise_conv1d",
    "depthwise_conv2d",
    "depthwise_conv3d",
    "pointwise_conv1d",
    "pointwise_conv2d",
    "pointwise_conv3d",
    "separable_conv1d",
    "separable_conv2d",
    "separable_conv3d",
]


def _check_tensor(value: Any, name: str, ndim: int | None = None, optional: bool = False) -> None:
    import torch

    if value is None and optional:
        return
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"`{name}` must be a torch.Tensor. Received {name} of type {type(value).__name__}")
    if ndim is not None and value.dim() != ndim:
        raise ValueError(f"`{name}` must have {ndim} dimensions. Received {name}.shape={tuple(value.shape)}")


def _check_bias(bias: Any, channels: int, name: str) -> None:
    _check_tensor(bias, name, ndim=1, optional=True)
    if bias is not None and bias.shape[0] != channels:
        raise ValueError(f"`{name}` must have shape ({channels},). Received {name}.shape={tuple(bias.shape)}")


def _check_depthwise_weight(x: Tensor, weight: Any, name: str) -> None:
    _check_tensor(weight, name, ndim=x.dim())
    channels = x.shape[1]
    if weight.shape[1] != 1 or weight.shape[0] % channels != 0:
        raise ValueError(
            f"`{name}` must have shape (C * depth_multiplier, 1, *kernel_size) with C={channels} input channels. "
            f"Received {name}.shape={tuple(weight.shape)}"
        )


def _check_pointwise_weight(x: Tensor, weight: Any, name: str) -> None:
    _check_tensor(weight, name, ndim=x.dim())
    if weight.shape[1] != x.shape[1] or any(k != 1 for k in weight.shape[2:]):
        raise ValueError(
            f"`{name}` must have shape (C_out, {x.shape[1]}, {', '.join('1' * (x.dim() - 2))}) for an input with "
            f"{x.shape[1]} channels. Received {name}.shape={tuple(weight.shape)}"
        )


def _flat(pads: tuple[tuple[int, int], ...]) -> list[int]:
    return [p for pair in pads for p in pair]


def _in_layout(op: Any, x: Any, data_format: str, n: int, *args: Any) -> Tensor:
    """Run the channels-first ``op`` on ``x`` given in ``data_format`` and return the result in that layout."""
    check_data_format(data_format)
    _check_tensor(x, "x", ndim=n + 2)
    channels_last = data_format == "channels_last"
    out = op(x.movedim(-1, 1) if channels_last else x, *args, n=n)  # (N, C, *spatial)
    return out.movedim(1, -1) if channels_last else out


def _depthwise(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: Any,
    padding: Any,
    dilation: Any,
    padding_mode: str,
    backend: str | None,
    n: int,
    names: tuple[str, str] = ("weight", "bias"),
) -> Tensor:
    from dsconv.nn import _ops

    _check_tensor(x, "x", ndim=n + 2)
    _check_depthwise_weight(x, weight, names[0])
    _check_bias(bias, weight.shape[0], names[1])
    check_choice(padding_mode, PADDING_MODES, "padding_mode")
    check_backend(backend)
    kernel_size = tuple(weight.shape[2:])
    strides = to_tuple(stride, n, "stride")
    dilations = to_tuple(dilation, n, "dilation")
    size = tuple(x.shape[2:])
    pads = resolve_padding(padding, size, kernel_size, strides, dilations)
    conv_output_size(size, kernel_size, strides, dilations, pads)  # raises a clear error when it does not fit
    return _ops.depthwise_conv(
        x, weight, bias, list(strides), "explicit", _flat(pads), list(dilations), padding_mode, backend, x.shape[1]
    )


def _pointwise(x: Tensor, weight: Tensor, bias: Tensor | None, n: int, names: tuple[str, str] = ("weight", "bias")) -> Tensor:
    from dsconv.nn import _ops

    _check_tensor(x, "x", ndim=n + 2)
    _check_pointwise_weight(x, weight, names[0])
    _check_bias(bias, weight.shape[0], names[1])
    return _ops.pointwise_conv(x, weight, bias)


def _separable(
    x: Tensor,
    dw_weight: Tensor,
    pw_weight: Tensor,
    dw_bias: Tensor | None,
    pw_bias: Tensor | None,
    stride: Any,
    padding: Any,
    dilation: Any,
    padding_mode: str,
    order: str,
    backend: str | None,
    n: int,
) -> Tensor:
    check_choice(order, ORDERS, "order")
    dw_names = ("dw_weight", "dw_bias")
    pw_names = ("pw_weight", "pw_bias")
    if order == "dw_pw":
        y = _depthwise(x, dw_weight, dw_bias, stride, padding, dilation, padding_mode, backend, n, dw_names)
        return _pointwise(y, pw_weight, pw_bias, n, pw_names)
    y = _pointwise(x, pw_weight, pw_bias, n, pw_names)
    return _depthwise(y, dw_weight, dw_bias, stride, padding, dilation, padding_mode, backend, n, dw_names)


def depthwise_conv1d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    *,
    padding_mode: str = "zeros",
    data_format: str = "channels_first",
    backend: str | None = None,
) -> Tensor:
    return _in_layout(_depthwise, x, data_format, 1, weight, bias, stride, padding, dilation, padding_mode, backend)


def depthwise_conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    *,
    padding_mode: str = "zeros",
    data_format: str = "channels_first",
    backend: str | None = None,
) -> Tensor:
    return _in_layout(_depthwise, x, data_format, 2, weight, bias, stride, padding, dilation, padding_mode, backend)


def depthwise_conv3d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    *,
    padding_mode: str = "zeros",
    data_format: str = "channels_first",
    backend: str | None = None,
) -> Tensor:
    return _in_layout(_depthwise, x, data_format, 3, weight, bias, stride, padding, dilation, padding_mode, backend)


def pointwise_conv1d(
    x: Tensor, weight: Tensor, bias: Tensor | None = None, *, data_format: str = "channels_first"
) -> Tensor:
    return _in_layout(_pointwise, x, data_format, 1, weight, bias)


def pointwise_conv2d(
    x: Tensor, weight: Tensor, bias: Tensor | None = None, *, data_format: str = "channels_first"
) -> Tensor:
    return _in_layout(_pointwise, x, data_format, 2, weight, bias)


def pointwise_conv3d(
    x: Tensor, weight: Tensor, bias: Tensor | None = None, *, data_format: str = "channels_first"
) -> Tensor:
    return _in_layout(_pointwise, x, data_format, 3, weight, bias)


def separable_conv1d(
    x: Tensor,
    dw_weight: Tensor,
    pw_weight: Tensor,
    dw_bias: Tensor | None = None,
    pw_bias: Tensor | None = None,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    *,
    padding_mode: str = "zeros",
    order: str = "dw_pw",
    data_format: str = "channels_first",
    backend: str | None = None,
) -> Tensor:
    args = (dw_weight, pw_weight, dw_bias, pw_bias, stride, padding, dilation, padding_mode, order, backend)
    return _in_layout(_separable, x, data_format, 1, *args)


def separable_conv2d(
    x: Tensor,
    dw_weight: Tensor,
    pw_weight: Tensor,
    dw_bias: Tensor | None = None,
    pw_bias: Tensor | None = None,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    *,
    padding_mode: str = "zeros",
    order: str = "dw_pw",
    data_format: str = "channels_first",
    backend: str | None = None,
) -> Tensor:
    args = (dw_weight, pw_weight, dw_bias, pw_bias, stride, padding, dilation, padding_mode, order, backend)
    return _in_layout(_separable, x, data_format, 2, *args)


def separable_conv3d(
    x: Tensor,
    dw_weight: Tensor,
    pw_weight: Tensor,
    dw_bias: Tensor | None = None,
    pw_bias: Tensor | None = None,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    *,
    padding_mode: str = "zeros",
    order: str = "dw_pw",
    data_format: str = "channels_first",
    backend: str | None = None,
) -> Tensor:
    args = (dw_weight, pw_weight, dw_bias, pw_bias, stride, padding, dilation, padding_mode, order, backend)
    return _in_layout(_separable, x, data_format, 3, *args)


_DEPTHWISE_DOC = """{n}D depthwise convolution: every input channel convolved with its own ``M`` filters.

    Args:
        x: input ``(N, C, {sp})``.
        weight: ``(C * M, 1, {k})``; output channel ``c * M + j`` comes from input channel ``c``.
        bias: optional ``(C * M,)``.
        stride, dilation: int or tuple of {n} positive ints.
        padding: any form of ``dsconv.functional.shapes`` (int, tuple, pairs, "valid", "same"{causal}).
        padding_mode: "zeros", "reflect", "replicate" or "circular".
        data_format: "channels_first" (``x`` is ``(N, C, {sp})``) or "channels_last" (``(N, {sp}, C)``, and so
            is the output); weights keep their layout.
        backend: "torch", "dsconv" or None (the default of ``dsconv.nn.backend``).

    Shape:
        ``(N, C, {sp}) -> (N, C * M, {out})``, ``out = floor((n + before + after - d * (k - 1) - 1) / s) + 1``.

    Returns:
        The output tensor.
    """

_POINTWISE_DOC = """{n}D pointwise (1x1) convolution: a per-position linear map across channels.

    Args:
        x: input ``(N, C_in, {sp})``.
        weight: ``(C_out, C_in, {ones})``.
        bias: optional ``(C_out,)``.
        data_format: "channels_first" or "channels_last" (``x`` and the output are ``(N, {sp}, C)``).

    Shape:
        ``(N, C_in, {sp}) -> (N, C_out, {sp})``.

    Returns:
        The output tensor.
    """

_SEPARABLE_DOC = """{n}D depthwise-separable convolution composed from the depthwise and pointwise ops.

    Args:
        x: input ``(N, C_in, {sp})``.
        dw_weight: depthwise weight ``(C * M, 1, {k})`` where ``C`` is the depthwise op's input channels
            (``C_in`` for "dw_pw", ``C_out / M`` for "pw_dw").
        pw_weight: pointwise weight ``(C_out, C_in * M, {ones})`` ("dw_pw") or ``(C_out / M, C_in, {ones})`` ("pw_dw").
        dw_bias, pw_bias: optional biases of the two ops.
        stride, padding, dilation, padding_mode: of the depthwise op (see ``depthwise_conv{n}d``).
        order: "dw_pw" (depthwise then pointwise) or "pw_dw" (pointwise then depthwise, BSConv-U).
        data_format: "channels_first" or "channels_last" (``x`` and the output are ``(N, {sp}, C)``).
        backend: backend of the depthwise op.

    Shape:
        ``(N, C_in, {sp}) -> (N, C_out, {out})`` with the depthwise op's output size.

    Returns:
        The output tensor.
    """


def _set_docs() -> None:
    for n in (1, 2, 3):
        spatial = {1: "L", 2: "H, W", 3: "D, H, W"}[n]
        fmt = {
            "n": n,
            "sp": spatial,
            "k": {1: "k", 2: "kH, kW", 3: "kD, kH, kW"}[n],
            "out": {1: "L_out", 2: "H_out, W_out", 3: "D_out, H_out, W_out"}[n],
            "ones": ", ".join("1" * n),
            "causal": ', "causal"' if n == 1 else "",
        }
        globals()[f"depthwise_conv{n}d"].__doc__ = _DEPTHWISE_DOC.format(**fmt)
        globals()[f"pointwise_conv{n}d"].__doc__ = _POINTWISE_DOC.format(**fmt)
        globals()[f"separable_conv{n}d"].__doc__ = _SEPARABLE_DOC.format(**fmt)


_set_docs()
