"""Fast depthwise convolution on NumPy arrays: the reference's signatures, Numba kernels underneath.

Same arguments, checks and results as :mod:`dsconv.functional.depthwise` (the specification), computed by
the parallel channels-last kernels of :mod:`dsconv.kernels._cl`. A ``channels_first`` array whose output
rows are 12 or more wide runs on the channels-first kernels instead (:mod:`dsconv.kernels._cf` forward,
:mod:`dsconv.kernels._cf_grad` backward: padded rows, vectorised along them); narrower ones are transposed to
channels-last and back (:mod:`dsconv.kernels._layout`). 1-D and 2-D problems run on the 3-D kernels with
unit leading dimensions, so one compiled kernel per dtype serves every dimensionality.

Dtypes: float32 and float64 run natively; float16 is computed in float32 and returned as float16 (NumPy has
no native half arithmetic on CPU). The result dtype is ``np.result_type(x, weight)`` like the reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dsconv.functional import _core
from dsconv.functional._core import DataFormat, IntOrTuple
from dsconv.functional.depthwise import check_depthwise_weight
from dsconv.functional.shapes import PaddingArg, Pads
from dsconv.kernels import _cf, _cf_grad, _cl, _memory
from dsconv.kernels._layout import to_channels_first, to_channels_last

Gradients = tuple[np.ndarray, np.ndarray, np.ndarray]
_NATIVE = (np.dtype(np.float32), np.dtype(np.float64))


@dataclass(frozen=True)
class Problem:
    """One depthwise convolution's resolved geometry, lifted to three spatial dimensions."""

    batch: int
    channels: int
    multiplier: int
    spatial: tuple[int, int, int]
    kernel: tuple[int, int, int]
    out_size: tuple[int, int, int]
    stride: tuple[int, int, int]
    pads: tuple[int, int, int]  # before-pads; the output size fixes the after-pads
    dilation: tuple[int, int, int]
    n: int  # the caller's number of spatial dimensions

    @property
    def out_channels(self) -> int:
        return self.channels * self.multiplier


def _lift(values: tuple[int, ...], fill: int) -> tuple[int, int, int]:
    """Prepend ``fill`` so a 1-D or 2-D tuple becomes 3-D."""
    return tuple([fill] * (3 - len(values)) + list(values))  # type: ignore[return-value]


def make_problem(
    x_cf_shape: tuple[int, ...], kernel: tuple[int, ...], multiplier: int, stride: tuple[int, ...],
    pads: Pads, dilation: tuple[int, ...], out_size: tuple[int, ...],
) -> Problem:
    """Build a :class:`Problem` from resolved channels-first geometry."""
    return Problem(
        batch=x_cf_shape[0], channels=x_cf_shape[1], multiplier=multiplier,
        spatial=_lift(tuple(x_cf_shape[2:]), 1), kernel=_lift(tuple(kernel), 1),
        out_size=_lift(tuple(out_size), 1), stride=_lift(tuple(stride), 1),
        pads=_lift(tuple(p[0] for p in pads), 0), dilation=_lift(tuple(dilation), 1), n=len(kernel),
    )


def compute_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype the kernels run in: float32/float64 natively, anything narrower in float32."""
    return dtype if dtype in _NATIVE else np.dtype(np.float32)


def problem_for(
    x_cf_shape: tuple[int, ...], weight: np.ndarray, stride: IntOrTuple, padding: PaddingArg,
    dilation: IntOrTuple, weight_name: str = "weight",
) -> tuple[np.ndarray, Problem]:
    """Validate ``weight`` for a channels-first input shape and resolve the geometry: ``(weight, problem)``."""
    n = len(x_cf_shape) - 2
    weight = check_depthwise_weight(weight, x_cf_shape[1], n, weight_name)
    stride_t, pads, dilation_t, out_size = _core.geometry(tuple(x_cf_shape[2:]), weight.shape[2:], stride, padding, dilation)
    multiplier = weight.shape[0] // x_cf_shape[1]
    return weight, make_problem(tuple(x_cf_shape), weight.shape[2:], multiplier, stride_t, pads, dilation_t, out_size)


def _prepare(x, weight, stride, padding, dilation, data_format, n, names=("x", "weight")):
    x_cf = _core.check_input(x, n, data_format, names[0])
    weight, p = problem_for(x_cf.shape, weight, stride, padding, dilation, names[1])
    return x_cf, weight, p


# ----------------------------------------------------------------------------------------------- layouts
def cl_weight(weight: np.ndarray, p: Problem, dtype: np.dtype) -> np.ndarray:
    """``(C*M, 1, *k)`` -> ``(kd, kh, kw*C*M)``: tap ``j`` of row ``(i_d, i_h)`` holds all channels."""
    w = weight.reshape(p.out_channels, *p.kernel).transpose(1, 2, 3, 0)  # (kd, kh, kw, CM)
    return _memory.contiguous(w, dtype).reshape(p.kernel[0], p.kernel[1], -1)


def cl_input(x: np.ndarray, p: Problem, dtype: np.dtype) -> np.ndarray:
    """Channels-last ``(N, *spatial, C)`` -> ``(N, D, H, W*C*M)``, channels repeated for a multiplier > 1."""
    if p.multiplier > 1:
        rep = _memory.empty((*x.shape, p.multiplier), dtype)
        rep[...] = x[..., None]  # channel c*M + j holds input channel c
        x = rep
    else:
        x = _memory.contiguous(x, dtype)
    return x.reshape(p.batch, p.spatial[0], p.spatial[1], -1)


def _bias(bias: np.ndarray | None, p: Problem, dtype: np.dtype) -> np.ndarray:
    if bias is None:
        return _memory.zeros(p.out_channels, dtype)
    return _memory.contiguous(bias, dtype)


# ----------------------------------------------------------------------------------------------- forward
def forward_cl(x: np.ndarray, w_cl: np.ndarray, b: np.ndarray, p: Problem, out: np.ndarray | None = None) -> np.ndarray:
    """Run the channels-last kernel on prepared arrays; returns ``(N, Do, Ho, Wo*C*M)`` (``out`` if given)."""
    if out is None:
        out = _memory.empty((p.batch, p.out_size[0], p.out_size[1], p.out_size[2] * p.out_channels), w_cl.dtype)
    _cl.forward(x, w_cl, b, out, p.stride, p.pads, p.dilation)
    return out


def depthwise_conv_nd(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, stride: IntOrTuple, padding: PaddingArg,
    dilation: IntOrTuple, data_format: DataFormat, n: int,
) -> np.ndarray:
    """Validate like the reference, then run the kernel for the caller's layout."""
    x_cf, weight, p = _prepare(x, weight, stride, padding, dilation, data_format, n)
    out_dtype = np.result_type(x, weight)
    bias = _core.check_bias(bias, weight.shape[0], out_dtype)
    dtype = compute_dtype(out_dtype)
    b = _bias(bias, p, dtype)
    if data_format == "channels_first" and _cf.prefers_forward(p, dtype):
        return _cf.forward_problem(x_cf, weight, b, p, dtype).astype(out_dtype, copy=False)
    x_cl = x if data_format == "channels_last" else to_channels_last(x_cf)  # (N, *spatial, C)
    out = forward_cl(cl_input(x_cl, p, dtype), cl_weight(weight, p, dtype), b, p)
    out = out.reshape(p.batch, *p.out_size[3 - n:], p.out_channels)
    if data_format == "channels_first":
        out = to_channels_first(out)
    return out.astype(out_dtype, copy=False)


# ---------------------------------------------------------------------------------------------- backward
def _flipped(w_cl: np.ndarray, p: Problem) -> tuple[np.ndarray, tuple[int, int, int]]:
    """The stride-1 input gradient's forward operands: the reversed kernel and its before-pads."""
    kd, kh, kw = p.kernel
    flipped = _memory.empty(w_cl.shape, w_cl.dtype)
    flipped.reshape(kd, kh, kw, -1)[...] = w_cl.reshape(kd, kh, kw, -1)[::-1, ::-1, ::-1]
    pads = tuple(d * (k - 1) - pad for k, d, pad in zip(p.kernel, p.dilation, p.pads))
    return flipped, pads  # type: ignore[return-value]


def input_gradient_cl(g: np.ndarray, w_cl: np.ndarray, gx: np.ndarray, p: Problem) -> np.ndarray:
    """Input gradient into ``gx`` ``(N, D, H, W*C*M)`` from ``g`` ``(N, Do, Ho, Wo*C*M)``.

    At stride 1 the input gradient is a forward depthwise convolution of ``g`` with the flipped kernel and
    before-padding ``d * (k - 1) - pad`` (negative values are fine: they shift the window), so it runs on the
    vectorised forward kernel; other strides use the gather kernel.
    """
    if p.stride != (1, 1, 1):
        _cl.backward_input(g, w_cl, gx, p.out_channels, p.stride, p.pads, p.dilation)
        return gx
    flipped, pads = _flipped(w_cl, p)
    _cl.forward(g, flipped, _memory.zeros(p.out_channels, gx.dtype), gx, (1, 1, 1), pads, p.dilation)
    return gx


def gradients_cl(g: np.ndarray, x: np.ndarray, w_cl: np.ndarray, p: Problem, need_x: bool = True,
                 need_w: bool = True) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Channels-last gradients on prepared arrays (``x`` already repeated for ``M > 1``): the ones asked for.

    ``g`` ``(N, Do, Ho, Wo*C*M)``, ``x`` ``(N, D, H, W*C*M)`` (float32/float64, or bfloat16 bits as ``uint16``,
    computed in float32), ``w_cl`` ``(kd, kh, kw*C*M)``. Both gradients come from one kernel
    (:func:`dsconv.kernels._cl.backward_both`), which reads ``g`` once for the two.

    Returns:
        ``(grad_x_rep (N, D, H, W*C*M) or None, grad_w (kd, kh, kw*C*M) or None)``.
    """
    dtype = w_cl.dtype
    gx = _memory.empty(x.shape, dtype) if need_x else None
    partial = None
    if need_w:
        partial = _memory.empty((_cl.partial_slots(p.batch * p.out_size[0] * p.out_size[1]), *w_cl.shape), dtype)
    if gx is not None and partial is not None:
        flipped, pads = _flipped(w_cl, p) if p.stride == (1, 1, 1) else (w_cl, p.pads)
        _cl.backward_both(g, x, w_cl, flipped, _memory.zeros(p.out_channels, dtype), gx, partial, p.out_channels,
                          p.stride, p.pads, p.dilation, pads)
    elif gx is not None:
        input_gradient_cl(g, w_cl, gx, p)
    elif partial is not None:
        _cl.backward_weight(g, x, partial, p.out_channels, p.stride, p.pads, p.dilation)
    if partial is None:
        return gx, None
    gw = _memory.empty(w_cl.shape, dtype)
    _cl.sum_slots(partial, gw)
    return gx, gw


def depthwise_conv_nd_backward(
    grad_out: np.ndarray, x: np.ndarray, weight: np.ndarray, stride: IntOrTuple, padding: PaddingArg,
    dilation: IntOrTuple, data_format: DataFormat, n: int,
) -> Gradients:
    """Validate like the reference, then compute ``(grad_x, grad_weight, grad_bias)`` with the kernels."""
    x_cf, weight, p = _prepare(x, weight, stride, padding, dilation, data_format, n)
    g_cf = _core.check_grad_out(grad_out, (p.batch, p.out_channels, *p.out_size[3 - n:]), data_format)
    out_dtype = np.result_type(grad_out, x, weight)
    dtype = compute_dtype(out_dtype)
    if data_format == "channels_first" and _cf.prefers(p, dtype):
        gx, grad_w = _cf_grad.gradients_problem(g_cf, x_cf, weight, p, dtype)
        grad_bias = g_cf.sum(axis=(0, *range(2, g_cf.ndim)), dtype=dtype)
        return tuple(a.astype(out_dtype, copy=False) for a in (gx, grad_w, grad_bias))  # type: ignore[return-value]
    g_cl = to_channels_last(g_cf)  # (N, *out, C*M): the caller's array when it is channels_last
    g = _memory.contiguous(g_cl, dtype).reshape(p.batch, p.out_size[0], p.out_size[1], -1)
    gx_rep, gw = gradients_cl(g, cl_input(to_channels_last(x_cf), p, dtype), cl_weight(weight, p, dtype), p)
    if p.multiplier > 1:
        gx_rep = gx_rep.reshape(p.batch, *p.spatial, p.channels, p.multiplier).sum(axis=-1)  # (N, D, H, W, C)
    gx = gx_rep.reshape(p.batch, *p.spatial[3 - n:], p.channels)
    if data_format == "channels_first":
        gx = to_channels_first(gx)
    gw = gw.reshape(*p.kernel, p.out_channels).transpose(3, 0, 1, 2)
    grad_bias = g.reshape(-1, p.out_channels).sum(axis=0)
    gx = _memory.contiguous(gx, gx.dtype)
    grad_w = _memory.contiguous(gw, gw.dtype).reshape(weight.shape)
    return tuple(a.astype(out_dtype, copy=False) for a in (gx, grad_w, grad_bias))  # type: ignore[return-value]


# ------------------------------------------------------------------------------------------ public ops
_DOC = """{n}D depthwise convolution with the Numba kernels; arguments and result as
    :func:`dsconv.functional.depthwise_conv{n}d` (the reference).

    Args:
        x: ``{cf}`` (channels_first) or ``{cl}`` (channels_last); float32/float64 (float16 runs in float32).
        weight: ``(C * M, 1, *kernel_size)``; output channel ``c * M + j`` filters input channel ``c``.
        bias: optional ``(C * M,)``.
        stride, dilation: positive int or {n}-tuple.
        padding: int, {n}-tuple, {n} ``(before, after)`` pairs, ``"valid"``, ``"same"``{causal}.
        data_format: ``"channels_first"`` or ``"channels_last"`` (weights keep their layout).

    Shape:
        per spatial dimension ``out = floor((n + before + after - d * (k - 1) - 1) / s) + 1``.

    Returns:
        The output in the caller's layout, dtype ``np.result_type(x, weight)``.

    Example:
        >>> from dsconv.kernels import depthwise_conv{n}d
        >>> depthwise_conv{n}d(np.ones({ex_shape}, np.float32), np.ones({w_shape}, np.float32)).shape
        {ex_out}
    """

_BACKWARD_DOC = """Gradients of :func:`depthwise_conv{n}d` with the Numba kernels; arguments and results as
    :func:`dsconv.functional.depthwise_conv{n}d_backward`.

    Args:
        grad_out: gradient of the output, the forward output's shape and layout.
        x, weight, stride, padding, dilation, data_format: as in the forward call.

    Returns:
        ``(grad_x, grad_weight, grad_bias)`` shaped like ``x``, ``weight`` and ``(C * M,)``.
    """


def depthwise_conv1d(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, stride: IntOrTuple = 1,
    padding: PaddingArg = 0, dilation: IntOrTuple = 1, *, data_format: DataFormat = "channels_first",
) -> np.ndarray:
    return depthwise_conv_nd(x, weight, bias, stride, padding, dilation, data_format, 1)


def depthwise_conv2d(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, stride: IntOrTuple = 1,
    padding: PaddingArg = 0, dilation: IntOrTuple = 1, *, data_format: DataFormat = "channels_first",
) -> np.ndarray:
    return depthwise_conv_nd(x, weight, bias, stride, padding, dilation, data_format, 2)


def depthwise_conv3d(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, stride: IntOrTuple = 1,
    padding: PaddingArg = 0, dilation: IntOrTuple = 1, *, data_format: DataFormat = "channels_first",
) -> np.ndarray:
    return depthwise_conv_nd(x, weight, bias, stride, padding, dilation, data_format, 3)


def depthwise_conv1d_backward(
    grad_out: np.ndarray, x: np.ndarray, weight: np.ndarray, stride: IntOrTuple = 1, padding: PaddingArg = 0,
    dilation: IntOrTuple = 1, *, data_format: DataFormat = "channels_first",
) -> Gradients:
    return depthwise_conv_nd_backward(grad_out, x, weight, stride, padding, dilation, data_format, 1)


def depthwise_conv2d_backward(
    grad_out: np.ndarray, x: np.ndarray, weight: np.ndarray, stride: IntOrTuple = 1, padding: PaddingArg = 0,
    dilation: IntOrTuple = 1, *, data_format: DataFormat = "channels_first",
) -> Gradients:
    return depthwise_conv_nd_backward(grad_out, x, weight, stride, padding, dilation, data_format, 2)


def depthwise_conv3d_backward(
    grad_out: np.ndarray, x: np.ndarray, weight: np.ndarray, stride: IntOrTuple = 1, padding: PaddingArg = 0,
    dilation: IntOrTuple = 1, *, data_format: DataFormat = "channels_first",
) -> Gradients:
    return depthwise_conv_nd_backward(grad_out, x, weight, stride, padding, dilation, data_format, 3)


_EXAMPLES = {
    1: ("(N, C, L)", "(N, L, C)", "(1, 2, 8)", "(2, 1, 3)", "(1, 2, 6)", ' or ``"causal"``'),
    2: ("(N, C, H, W)", "(N, H, W, C)", "(1, 2, 5, 5)", "(4, 1, 3, 3)", "(1, 4, 3, 3)", ""),
    3: ("(N, C, D, H, W)", "(N, D, H, W, C)", "(1, 2, 4, 4, 4)", "(2, 1, 3, 3, 3)", "(1, 2, 2, 2, 2)", ""),
}
for _n, (_cfs, _cls, _ex, _w, _out, _causal) in _EXAMPLES.items():
    globals()[f"depthwise_conv{_n}d"].__doc__ = _DOC.format(
        n=_n, cf=_cfs, cl=_cls, ex_shape=_ex, w_shape=_w, ex_out=_out, causal=_causal
    )
    globals()[f"depthwise_conv{_n}d_backward"].__doc__ = _BACKWARD_DOC.format(n=_n)
