"""The fused separable block for inference: depthwise -> bias -> activation -> pointwise -> bias -> activation,
computed tile by tile so the depthwise output never leaves the cache.

A band of output rows of the depthwise convolution (or several whole images, when they fit) is computed by
the channels-last Numba kernel into a reused tile (``tile_bytes``, sized to stay in cache), each row clamped
by the depthwise activation as it is written, and multiplied by the pointwise weight with one matrix product
(BLAS ``np.dot`` followed by one parallel bias + activation pass, or any ``matmul`` the caller passes, e.g.
``torch.addmm`` on shared memory) straight into the output rows. NumPy's product runs on one BLAS thread
unless ``OPENBLAS_THREAD_TIMEOUT`` makes idle BLAS threads sleep (:mod:`dsconv.kernels._blas`). Batch norms
are folded into the weights and biases beforehand (:func:`fold_batch_norm`); :mod:`dsconv.kernels.optimize`
does that for whole models.

The result equals the unfused composition ``act_pw(pointwise(act_dw(depthwise(x))))`` (the reference
:func:`dsconv.functional.separable_conv2d` when both activations are ``None``) up to float rounding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dsconv._validation import check_choice, check_positive
from dsconv.functional import _core
from dsconv.functional._core import DataFormat, IntOrTuple
from dsconv.functional.shapes import PaddingArg
from dsconv.kernels import _cl, _memory
from dsconv.kernels._blas import blas_for_fused_products
from dsconv.kernels._layout import to_channels_first, to_channels_last
from dsconv.kernels.depthwise import Problem, _prepare, cl_input, cl_weight, compute_dtype, problem_for

ACTIVATIONS = ("none", "relu", "relu6")
# (a, b, bias, out, act): out = act(a @ b + bias), act a code of ``_cl.ACT_CODES`` (0 none, 1 ReLU, 2 ReLU6)
MatMul = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int], object]
# 4 MiB: measured about 10% faster than 1 MiB at batch 8 (the tile then lives in the large L3), same at batch 1
DEFAULT_TILE_BYTES = 4 << 20


def apply_activation(a: np.ndarray, name: str) -> np.ndarray:
    """Apply ``"relu"``, ``"relu6"`` or ``"none"`` to ``a`` in place and return it."""
    if name == "relu":
        np.maximum(a, 0, out=a)
    elif name == "relu6":
        np.clip(a, 0, 6, out=a)
    return a


def fold_batch_norm(
    weight: np.ndarray, bias: np.ndarray | None, mean: np.ndarray, var: np.ndarray,
    gamma: np.ndarray | None, beta: np.ndarray | None, eps: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Fold an inference batch norm that follows a convolution into its weight and bias.

    ``bn(conv(x)) = conv'(x)`` with ``scale = gamma / sqrt(var + eps)``, ``weight' = weight * scale`` (per output
    channel, the first weight axis) and ``bias' = (bias - mean) * scale + beta``.

    Returns:
        ``(folded_weight, folded_bias)``.
    """
    scale = (np.ones_like(mean) if gamma is None else gamma) / np.sqrt(var + eps)
    shift = np.zeros_like(mean) if beta is None else beta
    b = np.zeros_like(mean) if bias is None else bias
    folded_w = weight * scale.reshape(-1, *(1,) * (weight.ndim - 1))
    return folded_w.astype(weight.dtype), ((b - mean) * scale + shift).astype(weight.dtype)


@dataclass
class FusedSeparableParams:
    """Prepared operands of one fused block (weights in kernel layout), reusable across calls.

    Build with :meth:`prepare`; call :meth:`run` on channels-last ``(N, H, W, C)`` arrays.
    """

    problem: Problem
    w_cl: np.ndarray  # (1, kh, kw * C * M)
    dw_bias: np.ndarray  # (C * M,)
    pw_t: np.ndarray  # (C * M, C_out)
    pw_bias: np.ndarray  # (C_out,)
    act_dw: str
    act_pw: str
    rows_per_tile: int
    images_per_tile: int  # > 1 only when a whole image's depthwise output fits a tile: one bigger matrix product

    @classmethod
    def prepare(
        cls, input_shape: tuple[int, int, int, int], dw_weight: np.ndarray, pw_weight: np.ndarray,
        dw_bias: np.ndarray | None = None, pw_bias: np.ndarray | None = None, stride: IntOrTuple = 1,
        padding: PaddingArg = 0, dilation: IntOrTuple = 1, *, act_dw: str = "none", act_pw: str = "none",
        dtype: np.dtype | type = np.float32, tile_bytes: int = DEFAULT_TILE_BYTES,
    ) -> FusedSeparableParams:
        """Validate and lay out the operands for inputs of ``input_shape`` = ``(N, H, W, C)`` (channels_last)."""
        n, h, w, c = input_shape
        dw_weight, p = problem_for((n, c, h, w), dw_weight, stride, padding, dilation, "dw_weight")
        return cls._build(p, dw_weight, pw_weight, dw_bias, pw_bias, act_dw, act_pw, np.dtype(dtype), tile_bytes)

    @classmethod
    def _build(cls, p, dw_weight, pw_weight, dw_bias, pw_bias, act_dw, act_pw, dtype, tile_bytes):
        check_choice(act_dw, ACTIVATIONS, "act_dw")
        check_choice(act_pw, ACTIVATIONS, "act_pw")
        check_positive(tile_bytes, "tile_bytes")
        pw_weight = _core.check_weight(pw_weight, 2, "pw_weight")
        if pw_weight.shape[1:] != (p.out_channels, 1, 1):
            raise ValueError(
                f"`pw_weight` must have shape (C_out, {p.out_channels}, 1, 1). Received pw_weight.shape={pw_weight.shape}"
            )
        c_out = pw_weight.shape[0]
        dw_b = _core.check_bias(dw_bias, p.out_channels, dtype, "dw_bias")
        pw_b = _core.check_bias(pw_bias, c_out, dtype, "pw_bias")
        dtype = compute_dtype(dtype)
        row_bytes = p.out_size[2] * p.out_channels * dtype.itemsize
        rows = max(1, min(p.out_size[1], tile_bytes // row_bytes))
        images = max(1, min(p.batch, tile_bytes // (row_bytes * p.out_size[1]))) if rows == p.out_size[1] else 1
        return cls(
            problem=p,
            w_cl=cl_weight(dw_weight, p, dtype),
            dw_bias=_memory.zeros(p.out_channels, dtype) if dw_b is None else _memory.contiguous(dw_b, dtype),
            pw_t=_memory.contiguous(pw_weight.reshape(c_out, p.out_channels).T, dtype),
            pw_bias=_memory.zeros(c_out, dtype) if pw_b is None else _memory.contiguous(pw_b, dtype),
            act_dw=act_dw, act_pw=act_pw, rows_per_tile=rows, images_per_tile=images,
        )

    @property
    def out_channels(self) -> int:
        return self.pw_t.shape[1]

    def depthwise(self, x: np.ndarray) -> np.ndarray:
        """The depthwise stage alone (bias and activation applied) for the whole of channels-last ``x``
        ``(N, H, W, C)``, as ``(N * H_out * W_out, C * M)`` rows: the operand of one pointwise product.
        A ``uint16`` ``x`` holds bfloat16 bit patterns, and so does the result (float32 weights and
        accumulation, each output rounded once; the operands must have been prepared in float32)."""
        p = self.problem
        dtype = x.dtype if x.dtype == np.uint16 else self.w_cl.dtype
        t = _memory.empty((p.batch, 1, p.out_size[1], p.out_size[2] * p.out_channels), dtype)
        kernel = _cl.forward_act_bf16 if dtype == np.uint16 else _cl.forward_act
        kernel(cl_input(x, p, dtype), self.w_cl, self.dw_bias, t, p.stride, p.pads, p.dilation, _cl.ACT_CODES[self.act_dw])
        return t.reshape(-1, p.out_channels)

    def run(self, x: np.ndarray, out: np.ndarray | None = None, matmul: MatMul | None = None) -> np.ndarray:
        """Fused forward of channels-last ``x`` ``(N, H, W, C)`` into ``out`` ``(N, H_out, W_out, C_out)``."""
        p = self.problem
        dtype = self.w_cl.dtype
        x_cl = cl_input(x, p, dtype)  # (N, 1, H, W*C*M)
        ho, wo = p.out_size[1], p.out_size[2]
        if out is None:
            out = _memory.empty((p.batch, ho, wo, self.out_channels), dtype)
        mm = matmul or _np_matmul
        act_dw, act_pw = _cl.ACT_CODES[self.act_dw], _cl.ACT_CODES[self.act_pw]
        rows, images = self.rows_per_tile, self.images_per_tile
        tile = _memory.empty((images, 1, rows, wo * p.out_channels), dtype)
        for n in range(0, p.batch, images):
            k = min(images, p.batch - n)
            for oh0 in range(0, ho, rows):
                r = min(rows, ho - oh0)
                t = tile[:k, :, :r]  # (k, 1, r, Wo*CM): this band's depthwise output, stays in cache
                pads = (p.pads[0], p.pads[1] - oh0 * p.stride[1], p.pads[2])  # shift the band's window
                _cl.forward_act(x_cl[n:n + k], self.w_cl, self.dw_bias, t, p.stride, pads, p.dilation, act_dw)
                o = out[n:n + k, oh0:oh0 + r].reshape(k * r * wo, self.out_channels)  # contiguous rows
                mm(t.reshape(k * r * wo, p.out_channels), self.pw_t, self.pw_bias, o, act_pw)
        return out


def _np_matmul(a: np.ndarray, b: np.ndarray, bias: np.ndarray, out: np.ndarray, act: int) -> None:
    """``out = act(a @ b + bias)``: NumPy's BLAS (one thread where idle BLAS threads would spin, see
    :mod:`dsconv.kernels._blas`), then bias and activation in one parallel pass."""
    with blas_for_fused_products():
        np.dot(a, b, out=out)
    _cl.bias_act(out, bias, act, True)


def fused_separable_conv2d(
    x: np.ndarray,
    dw_weight: np.ndarray,
    pw_weight: np.ndarray,
    dw_bias: np.ndarray | None = None,
    pw_bias: np.ndarray | None = None,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    *,
    act_dw: str = "none",
    act_pw: str = "none",
    data_format: DataFormat = "channels_first",
    tile_bytes: int = DEFAULT_TILE_BYTES,
) -> np.ndarray:
    """Fused 2D separable convolution: ``act_pw(pw(act_dw(dw(x) + dw_bias)) + pw_bias)`` tile by tile.

    Args:
        x: ``(N, C, H, W)`` or ``(N, H, W, C)`` (``data_format``); float32 or float64.
        dw_weight: ``(C * M, 1, k_h, k_w)``; pw_weight: ``(C_out, C * M, 1, 1)``.
        dw_bias, pw_bias: optional ``(C * M,)`` and ``(C_out,)`` (folded batch norms go here).
        stride, padding, dilation: of the depthwise step, as in :func:`dsconv.functional.depthwise_conv2d`.
        act_dw, act_pw: ``"none"``, ``"relu"`` or ``"relu6"``.
        tile_bytes: size of the depthwise tile kept in cache.

    Shape:
        ``H_out = floor((H + top + bottom - d_h * (k_h - 1) - 1) / s_h) + 1``, likewise ``W_out``.

    Returns:
        ``(N, C_out, H_out, W_out)`` or ``(N, H_out, W_out, C_out)``; equals
        :func:`dsconv.functional.separable_conv2d` when both activations are ``"none"``.

    Example:
        >>> x = np.ones((1, 4, 6, 6), np.float32)
        >>> fused_separable_conv2d(x, np.ones((4, 1, 3, 3), np.float32), np.ones((8, 4, 1, 1), np.float32),
        ...                        padding="same", act_dw="relu6").shape
        (1, 8, 6, 6)
    """
    x_cf, dw_weight, p = _prepare(x, dw_weight, stride, padding, dilation, data_format, 2, ("x", "dw_weight"))
    out_dtype = np.result_type(x, dw_weight, pw_weight)
    params = FusedSeparableParams._build(p, dw_weight, pw_weight, dw_bias, pw_bias, act_dw, act_pw, out_dtype, tile_bytes)
    out = params.run(to_channels_last(x_cf))  # (N, H, W, C): the caller's array when it is channels_last
    if data_format == "channels_first":
        out = to_channels_first(out)
    return out.astype(out_dtype, copy=False)
