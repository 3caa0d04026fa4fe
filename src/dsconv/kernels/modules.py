"""Inference modules that :func:`dsconv.kernels.optimize.optimize` puts into a model.

- :class:`FusedSeparable2d`: depthwise (+ folded BN) -> activation -> pointwise (+ folded BN) -> activation:
  by default one parallel call per block, each worker's rows through the depthwise kernel and MKL's packed
  product (:mod:`dsconv.kernels._fused_mkl`); or the depthwise stage on the whole input then one oneDNN
  product; or tile by tile by :class:`dsconv.kernels.fused.FusedSeparableParams` with ``torch.addmm`` or
  NumPy's BLAS;
- :class:`KernelDepthwise2d`: a depthwise convolution (+ folded BN) -> activation on the Numba kernel;
- :class:`ConvAct2d`: any other convolution (+ folded BN) -> activation on oneDNN, weight packed once.

All take and return ``(N, C, H, W)`` tensors and work in place on ``channels_last`` memory (a
``channels_last`` input is read without a copy and the result is ``channels_last``); other inputs are
converted. They are inference-only: the result carries no gradient.

Dtypes: float32 and float64 inputs compute in their dtype; bfloat16 inputs give bfloat16 results: the
depthwise kernel reads the bfloat16 input, accumulates in float32 with float32 weights and rounds each output
once; the products and convolutions take the weights rounded to bfloat16 and accumulate in float32, on oneDNN
where it runs bfloat16 (on CPUs with AMX or AVX-512 BF16 at several times the float32 rate), else with
PyTorch's own bfloat16 operators.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import torch
from torch import nn

from dsconv._validation import check_choice
from dsconv.functional.shapes import PaddingArg, normalize_padding
from dsconv.kernels import _cl, _fused_mkl, _memory, _mkl
from dsconv.kernels._layout import _PIXEL_CHANNELS, to_channels_last
from dsconv.kernels.autograd import _float, _numpy, _tensor
from dsconv.kernels.depthwise import cl_input, cl_weight, problem_for
from dsconv.kernels.fused import FusedSeparableParams, _np_matmul

# the NumPy dtype each supported input dtype runs as (bfloat16: its bit patterns, ``uint16``)
_DTYPES = {torch.float32: np.dtype(np.float32), torch.float64: np.dtype(np.float64),
           torch.bfloat16: np.dtype(np.uint16)}
_BITS = np.dtype(np.uint16)
MATMULS = ("auto", "onednn", "mkl", "torch", "numpy")
# oneDNN post-ops for the pointwise activation (name, scalars)
_ONEDNN_ACT = {"none": ("none", []), "relu": ("relu", []), "relu6": ("hardtanh", [0.0, 6.0])}


def onednn_available() -> bool:
    """Whether this PyTorch build has oneDNN's CPU linear with fused post-ops (``matmul="onednn"``)."""
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


def bf16_available() -> bool:
    """Whether oneDNN here runs bfloat16 products and convolutions (the CPU has AVX-512 BF16, AMX or the
    AVX-512 oneDNN emulates them with); without it the modules' bfloat16 paths use PyTorch's own operators."""
    return onednn_available() and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def _activate(y: torch.Tensor, act: str) -> torch.Tensor:
    """``act`` (``"none"``, ``"relu"``, ``"relu6"``) applied to ``y`` in place."""
    return y.relu_() if act == "relu" else y.clamp_(0.0, 6.0) if act == "relu6" else y


def resolve_matmul(matmul: str) -> str:
    """Check ``matmul`` (one of :data:`MATMULS`) and resolve ``"auto"``: ``"mkl"`` where this PyTorch build has
    MKL and oneDNN (x86), else ``"onednn"`` where it has oneDNN, else ``"torch"``."""
    check_choice(matmul, MATMULS, "matmul")
    if matmul == "auto":
        if onednn_available():
            return "mkl" if _mkl.available() else "onednn"
        return "torch"
    if matmul == "onednn" and not onednn_available():
        raise ValueError("`matmul`='onednn' needs a PyTorch build with oneDNN (torch.backends.mkldnn); "
                         "use 'torch' or 'numpy'")
    if matmul == "mkl" and not (_mkl.available() and onednn_available()):
        raise ValueError("`matmul`='mkl' needs a PyTorch build with MKL and oneDNN (the x86 builds); "
                         "use 'onednn', 'torch' or 'numpy'")
    return matmul


def _input_dtype(x: torch.Tensor, module: str) -> np.dtype:
    """The NumPy dtype ``x`` runs as, or a TypeError naming what ``module`` supports."""
    dtype = _DTYPES.get(x.dtype)
    if dtype is None:
        raise TypeError(f"`x` of {module} must be float32, float64 or bfloat16. Received x.dtype={x.dtype}")
    return dtype


def _nhwc(x: torch.Tensor) -> np.ndarray:
    """``(N, C, H, W)`` tensor -> C-contiguous ``(N, H, W, C)`` array, without a copy for channels-last tensors
    (bfloat16 as ``uint16`` bits); other tensors are transposed by :func:`dsconv.kernels._layout.to_channels_last`."""
    x = x.detach()
    if x.is_contiguous(memory_format=torch.channels_last):
        return _numpy(x).transpose(0, 2, 3, 1)  # a C-contiguous view
    return to_channels_last(_numpy(x))


def _empty_output(x: torch.Tensor, weight: torch.Tensor, stride: Any, padding: PaddingArg, dilation: Any,
                  channels: int) -> torch.Tensor:
    """The ``(0, channels, H_out, W_out)`` channels-last result of a depthwise stage with ``weight`` on an
    input ``x`` with no elements (an empty batch), without running a kernel."""
    _, p = problem_for(tuple(x.shape), _float(weight), stride, padding, dilation)
    return torch.empty((x.shape[0], channels, p.out_size[1], p.out_size[2]), dtype=x.dtype).contiguous(
        memory_format=torch.channels_last)


def _to_tensor(a: np.ndarray) -> torch.Tensor:
    """``(N, H, W, C)`` array (``uint16``: bfloat16 bits) -> ``(N, C, H, W)`` channels-last tensor sharing its
    memory."""
    return _tensor(a).permute(0, 3, 1, 2)


def _torch_mm(a: np.ndarray, b: np.ndarray, bias: np.ndarray, out: np.ndarray, act: int) -> None:
    """``out = act(a @ b + bias)`` with PyTorch's BLAS on the arrays' memory (no copies); the activation runs in
    PyTorch's thread pool too, so the pool is not switched in between."""
    t = torch.addmm(torch.from_numpy(bias), torch.from_numpy(a), torch.from_numpy(b), out=torch.from_numpy(out))
    if act == 1:
        t.relu_()
    elif act == 2:
        t.clamp_(0.0, 6.0)


class _PreparedOperands(nn.Module):
    """A module that prepares operands per input shape on first use (kernel layouts, oneDNN-packed weights) and
    keeps them in ``self._cache``. Copies and pickles leave the cache out: packed oneDNN tensors have no storage
    to copy, and the copy prepares its own on first use."""

    def __init__(self) -> None:
        super().__init__()
        self._cache: dict[tuple, Any] = {}

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_cache"] = {}
        return state


class FusedSeparable2d(_PreparedOperands):
    """Fused inference separable block; weights are folded copies, not parameters.

    Args:
        dw_weight: ``(C * M, 1, k_h, k_w)``; dw_bias: ``(C * M,)`` (folded batch norm).
        pw_weight: ``(C_out, C * M, 1, 1)``; pw_bias: ``(C_out,)``.
        stride, padding, dilation: of the depthwise convolution (any padding form of the reference).
        act_dw, act_pw: ``"none"``, ``"relu"`` or ``"relu6"``.
        matmul: the pointwise product. ``"onednn"``: oneDNN's linear with the weight packed once and bias and
            activation fused (float32 and bfloat16; float64 uses ``"torch"``); it cannot write into a slice of
            the output, so it runs the depthwise stage on the whole input first and returns oneDNN's result.
            ``"mkl"``: one parallel call per block (:mod:`dsconv.kernels._fused_mkl`): each worker computes a
            chunk of depthwise rows into its tile and multiplies it with MKL's packed product on that worker,
            float32 (bfloat16 inputs take the ``"onednn"`` path, float64 ``"torch"``); blocks with few channels
            and many pixels, where that measured slower, keep the ``"onednn"`` product
            (:func:`dsconv.kernels._fused_mkl.prefers_two_stages`).
            ``"torch"`` (``torch.addmm`` then the activation, PyTorch's BLAS and thread pool) and ``"numpy"``
            (NumPy's BLAS, then bias and activation in one Numba pass) run tile by tile into the output.
            ``"auto"`` (the default): ``"mkl"`` where PyTorch has MKL and oneDNN, else ``"onednn"`` where it
            has oneDNN, else ``"torch"``. The attribute ``matmul`` holds the resolved choice. See
            :func:`dsconv.kernels.optimize.optimize` for measurements.

    Shape:
        ``(N, C, H, W)`` -> ``(N, C_out, H_out, W_out)``, as the depthwise geometry gives.
    """

    def __init__(
        self, dw_weight: torch.Tensor, dw_bias: torch.Tensor, pw_weight: torch.Tensor, pw_bias: torch.Tensor,
        stride: Any, padding: PaddingArg, dilation: Any, act_dw: str, act_pw: str, matmul: str = "auto",
    ) -> None:
        super().__init__()
        self.matmul = resolve_matmul(matmul)
        self.register_buffer("dw_weight", dw_weight.detach().clone())
        self.register_buffer("dw_bias", dw_bias.detach().clone())
        self.register_buffer("pw_weight", pw_weight.detach().clone())
        self.register_buffer("pw_bias", pw_bias.detach().clone())
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.act_dw, self.act_pw = act_dw, act_pw

    def extra_repr(self) -> str:
        c_out, cm = self.pw_weight.shape[:2]
        return f"{cm} -> {c_out}, kernel={tuple(self.dw_weight.shape[2:])}, stride={self.stride}, act=({self.act_dw}, {self.act_pw})"

    def _params(self, shape: tuple[int, ...], dtype: np.dtype) -> FusedSeparableParams:
        key = (shape, dtype)
        if key not in self._cache:
            n, c, h, w = shape
            self._cache[key] = FusedSeparableParams.prepare(
                (n, h, w, c), _float(self.dw_weight), _float(self.pw_weight), _float(self.dw_bias),
                _float(self.pw_bias), self.stride, self.padding, self.dilation,
                act_dw=self.act_dw, act_pw=self.act_pw, dtype=dtype,
            )
        return self._cache[key]

    def _product(self, params: FusedSeparableParams, dtype: torch.dtype, packed: bool) -> tuple:
        """The pointwise product of one input shape in ``dtype`` (float32 or bfloat16): ``(weight, bias, post-op,
        scalars, (N, H_out, W_out, C_out), packed)``, the weight packed by oneDNN for the product's row count
        when ``packed``, else ``(C_out, C * M)`` for ``F.linear``."""
        p = params.problem
        rows = p.batch * p.out_size[1] * p.out_size[2]
        attr, scalars = _ONEDNN_ACT[self.act_pw]
        shape = (p.batch, p.out_size[1], p.out_size[2], self.pw_weight.shape[0])
        w = self.pw_weight.reshape(self.pw_weight.shape[0], -1).to(dtype).contiguous()
        if packed:
            w = torch.ops.mkldnn._reorder_linear_weight(w, rows)
        return w, self.pw_bias.to(dtype), attr, scalars, shape, packed

    def _plan(self, x: torch.Tensor) -> tuple:
        """What a forward of ``x``'s shape and dtype needs, prepared once: the kernel operands and either the
        product's operands (:meth:`_product`: oneDNN, or any bfloat16 input), a one-region plan
        (``matmul="mkl"``), or None (the tiled products)."""
        dtype = _input_dtype(x, "FusedSeparable2d")
        if dtype == _BITS:  # depthwise kernel into bfloat16, then oneDNN's bfloat16 product (or F.linear)
            params = self._params(tuple(x.shape), np.dtype(np.float32))
            return params, self._product(params, x.dtype, self.matmul in ("onednn", "mkl") and bf16_available())
        params = self._params(tuple(x.shape), dtype)
        if dtype != np.float32 or self.matmul not in ("onednn", "mkl"):
            return params, None
        p = params.problem
        pixels = p.batch * p.out_size[1] * p.out_size[2]
        if self.matmul == "mkl" and not _fused_mkl.prefers_two_stages(p.out_channels, pixels):
            return params, _fused_mkl.OneRegionPlan.prepare(p, params.w_cl, params.dw_bias, params.pw_t,
                                                            numba.get_num_threads())
        return params, self._product(params, x.dtype, True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        key = ("plan", x.shape, x.dtype)
        plan = self._cache.get(key)
        if plan is None:
            if x.numel() == 0:  # an empty batch: nothing to compute
                _input_dtype(x, "FusedSeparable2d")
                return _empty_output(x, self.dw_weight, self.stride, self.padding, self.dilation,
                                     self.pw_weight.shape[0])
            plan = self._cache[key] = self._plan(x)
        params, product = plan
        if isinstance(product, _fused_mkl.OneRegionPlan):
            p = params.problem
            y = product.run(cl_input(_nhwc(x), p, np.dtype(np.float32)), params.w_cl, params.dw_bias, params.pw_bias,
                            _cl.ACT_CODES[self.act_dw], _cl.ACT_CODES[self.act_pw])
            return torch.from_numpy(y).view(p.batch, p.out_size[1], p.out_size[2], -1).permute(0, 3, 1, 2)
        if product is not None:
            weight, bias, attr, scalars, shape, packed = product
            a = _tensor(params.depthwise(_nhwc(x)))  # (N * H_out * W_out, C * M)
            if packed:
                y = torch.ops.mkldnn._linear_pointwise(a, weight, bias, attr, scalars, "")
            else:
                y = _activate(torch.nn.functional.linear(a, weight, bias), self.act_pw)
            return y.view(shape).permute(0, 3, 1, 2)
        return _to_tensor(params.run(_nhwc(x), matmul=_np_matmul if self.matmul == "numpy" else _torch_mm))


class KernelDepthwise2d(_PreparedOperands):
    """Inference depthwise convolution (+ folded BN) -> activation on the channels-last Numba kernel.

    Args:
        weight: ``(C * M, 1, k_h, k_w)``; bias: ``(C * M,)``.
        stride, padding, dilation: as in :func:`dsconv.kernels.depthwise_conv2d`.
        act: ``"none"``, ``"relu"`` or ``"relu6"``.

    Shape:
        ``(N, C, H, W)`` -> ``(N, C * M, H_out, W_out)``.
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, stride: Any, padding: PaddingArg, dilation: Any, act: str) -> None:
        super().__init__()
        self.register_buffer("weight", weight.detach().clone())
        self.register_buffer("bias", bias.detach().clone())
        self.stride, self.padding, self.dilation, self.act = stride, padding, dilation, act
        normalize_padding(padding, 2)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, kernel={tuple(self.weight.shape[2:])}, stride={self.stride}, act={self.act}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = _input_dtype(x, "KernelDepthwise2d")
        if x.numel() == 0:  # an empty batch: nothing to compute
            return _empty_output(x, self.weight, self.stride, self.padding, self.dilation, self.weight.shape[0])
        compute = np.dtype(np.float32) if dtype == _BITS else dtype
        key = (tuple(x.shape), compute)
        if key not in self._cache:
            w, p = problem_for(tuple(x.shape), _float(self.weight), self.stride, self.padding, self.dilation)
            self._cache[key] = (p, cl_weight(w, p, compute), _memory.contiguous(_float(self.bias), compute))
        p, w_cl, b = self._cache[key]
        out = _memory.empty((p.batch, 1, p.out_size[1], p.out_size[2] * p.out_channels), dtype)
        kernel = _cl.forward_act_bf16 if dtype == _BITS else _cl.forward_act
        kernel(cl_input(_nhwc(x), p, dtype), w_cl, b, out, p.stride, p.pads, p.dilation, _cl.ACT_CODES[self.act])
        return _to_tensor(out.reshape(p.batch, p.out_size[1], p.out_size[2], p.out_channels))


class ConvAct2d(_PreparedOperands):
    """Inference convolution (+ folded BN) -> activation on oneDNN through PyTorch, weight packed once per
    input shape and the bias and activation fused into the product (what ``dsconv.optimize`` makes of the
    non-separable convolutions, e.g. a stem or an expansion 1x1 convolution, when oneDNN is in use).

    A 1x1 convolution with stride 1 and no padding runs as oneDNN's linear on the ``channels_last`` rows (no
    copy); any other convolution as oneDNN's convolution. float64 inputs run ``F.conv2d`` then the activation.

    Args:
        weight: ``(C_out, C_in / groups, k_h, k_w)``; bias: ``(C_out,)`` (folded batch norm).
        stride, padding, dilation: int pairs, as ``nn.Conv2d`` keeps them (symmetric zero padding).
        groups: as in ``nn.Conv2d``.
        act: ``"none"``, ``"relu"`` or ``"relu6"``.

    Shape:
        ``(N, C_in, H, W)`` -> ``(N, C_out, H_out, W_out)``, ``channels_last``.
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, stride: tuple[int, int], padding: tuple[int, int],
                 dilation: tuple[int, int], groups: int, act: str) -> None:
        super().__init__()
        check_choice(act, tuple(_ONEDNN_ACT), "act")
        if not onednn_available():
            raise ValueError("ConvAct2d needs a PyTorch build with oneDNN (torch.backends.mkldnn)")
        self.register_buffer("weight", weight.detach().clone())
        self.register_buffer("bias", bias.detach().clone())
        self.stride, self.padding, self.dilation = list(stride), list(padding), list(dilation)
        self.groups, self.act = groups, act
        self.pointwise = (tuple(weight.shape[2:]) == (1, 1) and self.stride == [1, 1] and self.padding == [0, 0]
                          and groups == 1)

    def extra_repr(self) -> str:
        c_out, c_in = self.weight.shape[:2]
        return (f"{c_in * self.groups} -> {c_out}, kernel={tuple(self.weight.shape[2:])}, stride={tuple(self.stride)}, "
                f"act={self.act}{', pointwise' if self.pointwise else ''}")

    def _plan(self, x: torch.Tensor) -> tuple:
        """``(pointwise, packed weight, bias, post-op, scalars)`` for float32 or bfloat16 inputs of ``x``'s
        shape and dtype."""
        attr, scalars = _ONEDNN_ACT[self.act]
        n, c, h, w = x.shape
        weight = self.weight.to(x.dtype)
        if self.pointwise:
            packed = torch.ops.mkldnn._reorder_linear_weight(weight.reshape(-1, c).contiguous(), n * h * w)
        else:
            packed = torch.ops.mkldnn._reorder_convolution_weight(
                weight, self.padding, self.stride, self.dilation, self.groups, list(x.shape))
        return self.pointwise, packed, self.bias.to(x.dtype), attr, scalars

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c_in = self.weight.shape[1] * self.groups
        if x.dim() != 4 or x.shape[1] != c_in:
            raise ValueError(f"`x` must have shape (N, {c_in}, H, W). Received x.shape={tuple(x.shape)}")
        if not (x.dtype == torch.float32 or (x.dtype == torch.bfloat16 and bf16_available())):
            y = torch.nn.functional.conv2d(x, self.weight.to(x.dtype), self.bias.to(x.dtype), self.stride, self.padding,
                                           self.dilation, self.groups)
            return _activate(y, self.act)
        key = ("plan", x.shape, x.dtype)
        plan = self._cache.get(key)
        if plan is None:
            plan = self._cache[key] = self._plan(x)
        pointwise, packed, bias, attr, scalars = plan
        if pointwise:
            n, c, h, w = x.shape
            if x.numel() == 0:  # an empty batch: oneDNN's linear cannot view zero rows back
                return torch.empty((n, self.weight.shape[0], h, w), dtype=x.dtype).contiguous(
                    memory_format=torch.channels_last)
            rows = x.permute(0, 2, 3, 1).reshape(n * h * w, c)  # a view for channels_last input
            y = torch.ops.mkldnn._linear_pointwise(rows, packed, bias, attr, scalars, "")
            return y.view(n, h, w, -1).permute(0, 3, 1, 2)
        if x.shape[1] in _PIXEL_CHANNELS and not x.is_contiguous(memory_format=torch.channels_last):
            # an image's 2-4 planes: dsconv's pixel loop, in parallel so that the convolution finds the workers
            # awake (see to_channels_last)
            x = _to_tensor(to_channels_last(_numpy(x.detach()), wake=True))
        else:
            # PyTorch's transposition: dsconv's tiles (faster alone, benchmarks/layout.py) made this convolution
            # 3-7% slower at batch 1, where oneDNN's workers then start after Numba's (1.15-1.55x faster at batch 8)
            x = x.contiguous(memory_format=torch.channels_last)
        return torch.ops.mkldnn._convolution_pointwise(x, packed, bias, self.padding, self.stride, self.dilation,
                                                       self.groups, attr, scalars, "")
