"""The PyTorch bridge: depthwise convolution on torch tensors through the Numba kernels, with autograd.

:func:`supports` says whether a call can run on the kernels (CPU, float32/float64, a depthwise weight, a
geometry with a non-empty output); :func:`depthwise_conv_torch` runs it and raises ``ValueError`` with that
reason otherwise, so a caller that checked ``supports`` first never gets a silently wrong result.
The result's memory format follows the input's: a ``channels_last`` (or ``channels_last_3d``) tensor is used
in place by the channels-last kernels and gives a ``channels_last`` result; any other tensor gives a contiguous
result, and runs on the channels-first kernels (:mod:`dsconv.kernels._cf` forward,
:mod:`dsconv.kernels._cf_grad` backward) when its output rows are 12 or more wide and its dtype is float32 or
float64; otherwise it is transposed to channels-last and back (:mod:`dsconv.kernels._layout`). float64 runs
natively in the kernels (so ``torch.autograd.gradcheck`` checks the kernels themselves). bfloat16 tensors are
read as their bit patterns (``dsconv.kernels._bf16``): the kernels accumulate in float32 with float32 weights
and round each output once, as PyTorch's CPU convolution does; gradients are computed in float32 and rounded to
bfloat16 at the end. float16 is not supported (``supports`` says so and the nn layers fall back to
PyTorch). Double backward is not supported.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from dsconv._validation import to_tuple
from dsconv.functional.shapes import Pads, effective_kernel_size
from dsconv.kernels import _cf, _cf_grad, _cl, _memory
from dsconv.kernels._layout import to_channels_first, to_channels_last
from dsconv.kernels.depthwise import Problem, cl_input, cl_weight, gradients_cl, make_problem

_DTYPES = (torch.float32, torch.float64, torch.bfloat16)
# tensor dtype -> (NumPy dtype of the data the kernels read, NumPy dtype they compute and accumulate in)
_NP_DTYPES = {torch.float32: (np.dtype(np.float32), np.dtype(np.float32)),
              torch.float64: (np.dtype(np.float64), np.dtype(np.float64)),
              torch.bfloat16: (np.dtype(np.uint16), np.dtype(np.float32))}
_CL_FORMATS = {4: torch.channels_last, 5: torch.channels_last_3d}


def _normalize(x: torch.Tensor, stride: Any, pads: Any, dilation: Any) -> tuple[tuple[int, ...], Pads, tuple[int, ...]]:
    n = x.dim() - 2
    stride_t = to_tuple(stride, n, "stride")
    dilation_t = to_tuple(dilation, n, "dilation")
    if isinstance(pads, int) and not isinstance(pads, bool):
        pads = ((pads, pads),) * n
    pads_t = tuple((int(a), int(b)) for a, b in pads)
    if len(pads_t) != n or any(a < 0 or b < 0 for a, b in pads_t):
        raise ValueError(f"`pads` must be {n} non-negative (before, after) pairs. Received pads={pads!r}")
    return stride_t, pads_t, dilation_t


def supports(
    x: torch.Tensor, weight: torch.Tensor, stride: int | Sequence[int], pads: Pads, dilation: int | Sequence[int]
) -> tuple[bool, str]:
    """Whether :func:`depthwise_conv_torch` can compute this call, and if not, why.

    Args:
        x: input ``(N, C, *spatial)`` with 1 to 3 spatial dimensions.
        weight: depthwise weight ``(C * M, 1, *kernel_size)``.
        stride, dilation: int or tuple per spatial dimension.
        pads: explicit ``((before, after), ...)`` pairs (from ``dsconv.functional.shapes.resolve_padding``).

    Returns:
        ``(True, "")`` or ``(False, reason)``.
    """
    if not isinstance(x, torch.Tensor) or not isinstance(weight, torch.Tensor):
        return False, "`x` and `weight` must be torch tensors"
    if x.device.type != "cpu" or weight.device.type != "cpu":
        return False, f"the kernels run on CPU only; got x on {x.device}, weight on {weight.device}"
    if x.dtype not in _DTYPES or weight.dtype != x.dtype:
        return False, ("the kernels support float32, float64 and bfloat16 with matching dtypes; "
                       f"got x.dtype={x.dtype}, weight.dtype={weight.dtype}")
    if x.dim() not in (3, 4, 5):
        return False, f"`x` must have 1 to 3 spatial dimensions; got x.dim()={x.dim()}"
    n = x.dim() - 2
    if weight.dim() != n + 2 or weight.shape[1] != 1 or weight.shape[0] % max(x.shape[1], 1) != 0:
        return False, f"`weight` must be a depthwise weight (C * M, 1, *k) for C={x.shape[1]}; got {tuple(weight.shape)}"
    if x.numel() == 0 or weight.numel() == 0:
        return False, "empty tensors are not supported"
    try:
        stride_t, pads_t, dilation_t = _normalize(x, stride, pads, dilation)
    except (TypeError, ValueError) as exc:
        return False, str(exc)
    for size, k, d, (before, after) in zip(x.shape[2:], weight.shape[2:], dilation_t, pads_t):
        if effective_kernel_size(k, d) > size + before + after:
            return False, f"the dilated kernel is larger than the padded input ({tuple(x.shape)}, pads={pads_t})"
    return True, ""


def _problem(x_shape, weight_shape, stride, pads, dilation) -> Problem:
    out_size = tuple(
        (size + b + a - effective_kernel_size(k, d)) // s + 1
        for size, k, s, d, (b, a) in zip(x_shape[2:], weight_shape[2:], stride, dilation, pads)
    )
    return make_problem(tuple(x_shape), tuple(weight_shape[2:]), weight_shape[0] // x_shape[1], stride, pads, dilation, out_size)


def _is_channels_last(x: torch.Tensor) -> bool:
    fmt = _CL_FORMATS.get(x.dim())
    return fmt is not None and not x.is_contiguous() and x.is_contiguous(memory_format=fmt)


def _to_cl_numpy(t: torch.Tensor) -> np.ndarray:
    """A tensor's data as C-contiguous ``(N, *spatial, C)`` NumPy (a view when already channels-last, else
    transposed by :func:`dsconv.kernels._layout.to_channels_last`); bfloat16 as its ``uint16`` bit patterns."""
    return to_channels_last(_numpy(t.detach()))


def _numpy(t: torch.Tensor) -> np.ndarray:
    """A tensor's memory as NumPy; bfloat16 as its ``uint16`` bit patterns."""
    return t.view(torch.int16).numpy().view(np.uint16) if t.dtype == torch.bfloat16 else t.numpy()


def _tensor(a: np.ndarray) -> torch.Tensor:
    """A tensor sharing ``a``'s memory; ``uint16`` arrays are bfloat16 bit patterns."""
    return torch.from_numpy(a.view(np.int16)).view(torch.bfloat16) if a.dtype == np.uint16 else torch.from_numpy(a)


def _from_cl_numpy(a: np.ndarray, p: Problem, channels: int, spatial: tuple[int, ...], keep: bool) -> torch.Tensor:
    """``(N, *spatial, C)`` data as an ``(N, C, *spatial)`` tensor: channels-last if ``keep``, else contiguous."""
    a = a.reshape(p.batch, *spatial, channels)
    if keep:
        t = _tensor(a)
        return t.permute(0, t.dim() - 1, *range(1, t.dim() - 1))
    return _tensor(to_channels_first(a))


class DepthwiseConvFunction(torch.autograd.Function):
    """``torch.autograd.Function`` running the depthwise forward and both gradients on the Numba kernels."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, pads, dilation):  # type: ignore[override]
        p = _problem(x.shape, weight.shape, stride, pads, dilation)
        data, dtype = _NP_DTYPES[x.dtype]
        b = _memory.zeros(p.out_channels, dtype) if bias is None else _memory.contiguous(_float(bias), dtype)
        n = x.dim() - 2
        channels_last = _is_channels_last(x)
        ctx.save_for_backward(x, weight)
        ctx.meta = (p, channels_last, bias is not None, n)
        if not channels_last and _cf.prefers_forward(p, data):
            return torch.from_numpy(_cf.forward_problem(_numpy(x.detach()), _float(weight), b, p, dtype))
        out = _empty_cl(p, data)
        _cl.forward(*_cl_args(x, weight, p), b, out, p.stride, p.pads, p.dilation)
        return _from_cl_numpy(out, p, p.out_channels, p.out_size[3 - n:], channels_last)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):  # type: ignore[override]
        x, weight = ctx.saved_tensors
        p, channels_last, has_bias, n = ctx.meta
        need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        grads = _backward(grad_out, x, weight, p, n, need_x, need_w, channels_last)
        grad_bias = grad_out.sum(dim=(0, *range(2, grad_out.dim()))) if has_bias and ctx.needs_input_grad[2] else None
        return grads[0], grads[1], grad_bias, None, None, None


def _float(t: torch.Tensor) -> np.ndarray:
    """A weight or bias as NumPy in the kernels' compute dtype (bfloat16 widened to float32, exactly)."""
    t = t.detach()
    return (t.float() if t.dtype == torch.bfloat16 else t).numpy()


def _cl_args(x: torch.Tensor, weight: torch.Tensor, p: Problem) -> tuple[np.ndarray, np.ndarray]:
    data, dtype = _NP_DTYPES[x.dtype]
    return cl_input(_to_cl_numpy(x.detach()), p, data), cl_weight(_float(weight), p, dtype)


def _empty_cl(p: Problem, dtype: np.dtype) -> np.ndarray:
    return _memory.empty((p.batch, p.out_size[0], p.out_size[1], p.out_size[2] * p.out_channels), dtype)


def _backward(grad_out, x, weight, p: Problem, n: int, need_x: bool, need_w: bool, channels_last: bool):
    """Both gradients in the compute dtype (float32 for bfloat16), returned in ``x``'s dtype."""
    data, dtype = _NP_DTYPES[x.dtype]
    if not channels_last and _cf.prefers(p, data):
        gx, gw = _cf_grad.gradients_problem(_numpy(grad_out.to(x.dtype)), _numpy(x.detach()), _float(weight), p,
                                            dtype, need_x, need_w)
        return (None if gx is None else torch.from_numpy(gx)), (None if gw is None else torch.from_numpy(gw))
    g = _to_cl_numpy(grad_out.to(x.dtype)).reshape(p.batch, p.out_size[0], p.out_size[1], -1)
    x_cl, w_cl = _cl_args(x, weight, p)
    grad_x = grad_w = None
    gx, gw = gradients_cl(g, x_cl, w_cl, p, need_x, need_w)
    if gx is not None:
        gx = gx.reshape(p.batch, *p.spatial, p.channels, p.multiplier).sum(axis=-1)
        grad_x = _from_cl_numpy(_memory.contiguous(gx, gx.dtype), p, p.channels, p.spatial[3 - n:], channels_last)
        grad_x = grad_x.to(x.dtype)
    if gw is not None:
        gw = gw.reshape(*p.kernel, p.out_channels).transpose(3, 0, 1, 2)
        grad_w = torch.from_numpy(_memory.contiguous(gw, gw.dtype).reshape(weight.shape)).to(weight.dtype)
    return grad_x, grad_w


def depthwise_conv_torch(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int | Sequence[int] = 1,
    pads: Pads | int = 0,
    dilation: int | Sequence[int] = 1,
) -> torch.Tensor:
    """Depthwise convolution of torch tensors on the Numba kernels, differentiable in ``x``, ``weight``, ``bias``.

    Args:
        x: ``(N, C, *spatial)`` with 1 to 3 spatial dimensions, CPU, float32, float64 or bfloat16; a
            ``channels_last`` tensor runs the channels-last kernel and gives a ``channels_last`` result.
        weight: ``(C * M, 1, *kernel_size)``, same dtype.
        bias: optional ``(C * M,)``.
        stride, dilation: int or tuple per spatial dimension.
        pads: explicit ``((before, after), ...)`` pairs (or one int for every side).

    Shape:
        ``out = floor((n + before + after - d * (k - 1) - 1) / s) + 1`` per spatial dimension.

    Returns:
        ``(N, C * M, *out)``, equal to ``torch.nn.functional.conv{n}d(F.pad(x, pads), weight, bias, stride,
        dilation=dilation, groups=C)`` up to rounding.

    Raises:
        ValueError: when :func:`supports` returns ``False`` (the message gives its reason).

    Example:
        >>> import torch
        >>> x = torch.randn(1, 4, 8, 8)
        >>> depthwise_conv_torch(x, torch.randn(4, 1, 3, 3), None, 1, ((1, 1), (1, 1)), 1).shape
        torch.Size([1, 4, 8, 8])
    """
    ok, reason = supports(x, weight, stride, pads, dilation)
    if not ok:
        raise ValueError(f"`x`/`weight` cannot run on the dsconv kernels: {reason}. Received x.shape={tuple(x.shape) if isinstance(x, torch.Tensor) else x!r}")
    stride_t, pads_t, dilation_t = _normalize(x, stride, pads, dilation)
    if bias is not None and (bias.dtype != x.dtype or tuple(bias.shape) != (weight.shape[0],)):
        raise ValueError(f"`bias` must be a ({weight.shape[0]},) tensor of dtype {x.dtype}. Received bias.shape={tuple(bias.shape)}")
    return DepthwiseConvFunction.apply(x, weight, bias, stride_t, pads_t, dilation_t)
