"""Inference modules that :func:`dsconv.kernels.optimize.optimize` puts into a model.

- :class:`FusedSeparable2d`: depthwise (+ folded BN) -> activation -> pointwise (+ folded BN) -> activation:
  by default the depthwise stage on the whole input then one oneDNN product, or tile by tile by
  :class:`dsconv.kernels.fused.FusedSeparableParams` with ``torch.addmm`` or NumPy's BLAS;
- :class:`KernelDepthwise2d`: a depthwise convolution (+ folded BN) -> activation on the Numba kernel;
- :class:`ConvAct2d`: any other convolution (+ folded BN) -> activation on oneDNN, weight packed once.

All take and return ``(N, C, H, W)`` tensors and work in place on ``channels_last`` memory (a
``channels_last`` input is read without a copy and the result is ``channels_last``); other inputs are
converted. They are inference-only: the result carries no gradient.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from dsconv._validation import check_choice
from dsconv.functional.shapes import PaddingArg, normalize_padding
from dsconv.kernels import _cl, _memory
from dsconv.kernels.depthwise import cl_input, cl_weight, problem_for
from dsconv.kernels.fused import FusedSeparableParams, _np_matmul

_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}
MATMULS = ("auto", "onednn", "torch", "numpy")
# oneDNN post-ops for the pointwise activation (name, scalars)
_ONEDNN_ACT = {"none": ("none", []), "relu": ("relu", []), "relu6": ("hardtanh", [0.0, 6.0])}


def onednn_available() -> bool:
    """Whether this PyTorch build has oneDNN's CPU linear with fused post-ops (``matmul="onednn"``)."""
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


def resolve_matmul(matmul: str) -> str:
    """Check ``matmul`` (one of :data:`MATMULS`) and resolve ``"auto"``: ``"onednn"`` where this PyTorch build
    has it, else ``"torch"``."""
    check_choice(matmul, MATMULS, "matmul")
    if matmul == "auto":
        return "onednn" if onednn_available() else "torch"
    if matmul == "onednn" and not onednn_available():
        raise ValueError("`matmul`='onednn' needs a PyTorch build with oneDNN (torch.backends.mkldnn); "
                         "use 'torch' or 'numpy'")
    return matmul


def _nhwc(x: torch.Tensor) -> np.ndarray:
    """``(N, C, H, W)`` tensor -> ``(N, H, W, C)`` array, without a copy for channels-last float tensors."""
    x = x.detach()
    if x.is_contiguous(memory_format=torch.channels_last) and x.dtype in _DTYPES:
        return x.numpy().transpose(0, 2, 3, 1)  # a C-contiguous view: cheaper than PyTorch's permute + contiguous
    return x.permute(0, 2, 3, 1).contiguous().numpy()


def _to_tensor(a: np.ndarray) -> torch.Tensor:
    """``(N, H, W, C)`` array -> ``(N, C, H, W)`` channels-last tensor sharing its memory."""
    return torch.from_numpy(a).permute(0, 3, 1, 2)


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
            activation fused (float32 only; other dtypes use ``"torch"``); it cannot write into a slice of the
            output, so it runs the depthwise stage on the whole input first and returns oneDNN's result.
            ``"torch"`` (``torch.addmm`` then the activation, PyTorch's BLAS and thread pool) and ``"numpy"``
            (NumPy's BLAS, then bias and activation in one Numba pass) run tile by tile into the output.
            ``"auto"`` (the default): ``"onednn"`` where PyTorch has it, else ``"torch"``. The attribute
            ``matmul`` holds the resolved choice. See :func:`dsconv.kernels.optimize.optimize` for measurements.

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
                (n, h, w, c), self.dw_weight.numpy(), self.pw_weight.numpy(), self.dw_bias.numpy(),
                self.pw_bias.numpy(), self.stride, self.padding, self.dilation,
                act_dw=self.act_dw, act_pw=self.act_pw, dtype=dtype,
            )
        return self._cache[key]

    def _onednn_weight(self, rows: int) -> torch.Tensor:
        """The pointwise weight packed by oneDNN for products with ``rows`` rows (cached per row count)."""
        key = ("onednn", rows)
        if key not in self._cache:
            w = self.pw_weight.reshape(self.pw_weight.shape[0], -1).float().contiguous()
            self._cache[key] = torch.ops.mkldnn._reorder_linear_weight(w, rows)
        return self._cache[key]

    def _plan(self, x: torch.Tensor) -> tuple:
        """What a forward of ``x``'s shape and dtype needs, prepared once: the kernel operands and, on the
        oneDNN path, the packed weight, the bias, the post-op and the ``(N, H_out, W_out, C_out)`` shape."""
        dtype = np.dtype(_DTYPES[x.dtype])
        params = self._params(tuple(x.shape), dtype)
        if self.matmul != "onednn" or dtype != np.float32:
            return params, None
        p = params.problem
        rows = p.batch * p.out_size[1] * p.out_size[2]
        attr, scalars = _ONEDNN_ACT[self.act_pw]
        shape = (p.batch, p.out_size[1], p.out_size[2], self.pw_weight.shape[0])
        return params, (self._onednn_weight(rows), self.pw_bias.float(), attr, scalars, shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        key = ("plan", x.shape, x.dtype)
        plan = self._cache.get(key)
        if plan is None:
            plan = self._cache[key] = self._plan(x)
        params, onednn = plan
        if onednn is not None:
            weight, bias, attr, scalars, shape = onednn
            a = params.depthwise(_nhwc(x))  # (N * H_out * W_out, C * M)
            y = torch.ops.mkldnn._linear_pointwise(torch.from_numpy(a), weight, bias, attr, scalars, "")
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
        dtype = np.dtype(_DTYPES[x.dtype])
        key = (tuple(x.shape), dtype)
        if key not in self._cache:
            w, p = problem_for(tuple(x.shape), self.weight.numpy(), self.stride, self.padding, self.dilation)
            self._cache[key] = (p, cl_weight(w, p, dtype), _memory.contiguous(self.bias.numpy(), dtype))
        p, w_cl, b = self._cache[key]
        out = _memory.empty((p.batch, 1, p.out_size[1], p.out_size[2] * p.out_channels), dtype)
        _cl.forward_act(cl_input(_nhwc(x), p, dtype), w_cl, b, out, p.stride, p.pads, p.dilation, _cl.ACT_CODES[self.act])
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
        """``(pointwise, packed weight, bias, post-op, scalars)`` for float32 inputs of ``x``'s shape."""
        attr, scalars = _ONEDNN_ACT[self.act]
        n, c, h, w = x.shape
        if self.pointwise:
            packed = torch.ops.mkldnn._reorder_linear_weight(self.weight.reshape(-1, c).float(), n * h * w)
        else:
            packed = torch.ops.mkldnn._reorder_convolution_weight(
                self.weight.float(), self.padding, self.stride, self.dilation, self.groups, list(x.shape))
        return self.pointwise, packed, self.bias.float(), attr, scalars

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c_in = self.weight.shape[1] * self.groups
        if x.dim() != 4 or x.shape[1] != c_in:
            raise ValueError(f"`x` must have shape (N, {c_in}, H, W). Received x.shape={tuple(x.shape)}")
        if x.dtype != torch.float32:
            y = torch.nn.functional.conv2d(x, self.weight.to(x.dtype), self.bias.to(x.dtype), self.stride, self.padding,
                                           self.dilation, self.groups)
            return y.relu_() if self.act == "relu" else y.clamp_(0.0, 6.0) if self.act == "relu6" else y
        key = ("plan", x.shape)
        plan = self._cache.get(key)
        if plan is None:
            plan = self._cache[key] = self._plan(x)
        pointwise, packed, bias, attr, scalars = plan
        if pointwise:
            n, c, h, w = x.shape
            rows = x.permute(0, 2, 3, 1).reshape(n * h * w, c)  # a view for channels_last input
            y = torch.ops.mkldnn._linear_pointwise(rows, packed, bias, attr, scalars, "")
            return y.view(n, h, w, -1).permute(0, 3, 1, 2)
        x = x.contiguous(memory_format=torch.channels_last)
        return torch.ops.mkldnn._convolution_pointwise(x, packed, bias, self.padding, self.stride, self.dilation,
                                                       self.groups, attr, scalars, "")
