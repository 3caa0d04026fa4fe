"""``dsconv.optimize(model)``: prepare a model for CPU inference with the dsconv kernels.

What it does, on a deep copy of the model in eval mode:

1. **Fused separable blocks.** Every ``dsconv.nn.SeparableConv2d`` (order ``"dw_pw"``) and
   ``dsconv.nn.blocks.DepthwiseSeparable``, and every run ``depthwise conv -> [BN] -> [act] -> 1x1 conv ->
   [BN] -> [act]`` of consecutive children of an ``nn.Sequential``, becomes a
   :class:`~dsconv.kernels.modules.FusedSeparable2d` with the batch norms folded in; so does the depthwise
   stage and linear projection of a ``dsconv.nn.blocks.InvertedResidual`` without squeeze-excite (MobileNetV2),
   whose ``conv_dw`` becomes the fused block and ``conv_pwl`` an Identity.
2. **Remaining depthwise convolutions** (``depthwise -> [BN] -> [act]`` in a Sequential) run on the Numba
   kernel (:class:`~dsconv.kernels.modules.KernelDepthwise2d`).
3. **Other convolutions**: with oneDNN in use (``matmul`` ``"auto"``, ``"onednn"`` or ``"mkl"``), every other
   ``Conv2d -> [BN] -> [act]`` run of Sequential children (integer zero padding) becomes a
   :class:`~dsconv.kernels.modules.ConvAct2d`: oneDNN with the weight packed once and the batch norm and
   activation fused. Otherwise batch norms are folded into the ``Conv2d`` of each ``Conv2d -> BatchNorm2d`` pair.
4. **Layout**: convolution weights and the model input are moved to ``channels_last``, the layout in which
   the fused blocks read and write without copies.
5. **Containers**: a plain ``nn.Sequential`` (no forward of its own, no hooks) left with one module and
   Identity placeholders is replaced by that module, which saves the container's and the placeholders'
   module calls (a few microseconds each, dozens per MobileNetV2 forward).

6. **bfloat16** (``dtype=torch.bfloat16``, or a model whose weights are bfloat16): batch norms are folded in
   float32, then the model computes in bfloat16. The depthwise kernel reads and writes bfloat16 with float32
   weights and accumulation; oneDNN's products and convolutions take the weights rounded once to bfloat16 (on
   CPUs with AMX or AVX-512 BF16 they run at several times the float32 rate; elsewhere the modules use
   PyTorch's bfloat16 operators); every other module's parameters and buffers become bfloat16. Inputs are
   cast to bfloat16 and outputs are bfloat16.

Activations that can be fused: ``nn.ReLU``, ``nn.ReLU6``, ``nn.Hardtanh(0, 6)``. Modules it does not know
(attention, residual blocks, custom layers) are left as they are, only their Sequential children are
visited, so the result computes the same function as the original in eval mode (up to float rounding).
The optimized copy is for inference: its parameters do not require gradients.

Pointwise product (``matmul``): by default (``"auto"``) ``"mkl"`` where PyTorch has MKL and oneDNN (its x86
builds): each fused block is one parallel call in which every worker computes a chunk of depthwise rows into
its own tile and multiplies it by the pointwise weight (packed once) with MKL on that worker, so the depthwise
output stays in the core that wrote it and the cores never pass from Numba's threads to oneDNN's inside a
block (:mod:`dsconv.kernels._fused_mkl`). Blocks with at most 144 channels and at least 6272 output pixels,
where that measured slower (the early blocks at batch 8), keep ``"onednn"``'s arrangement: the depthwise stage
on the whole input, then oneDNN's linear with the weight packed once and the bias and activation fused.
Measured against ``"onednn"`` on the MobileNetV1/V2 fused-block shapes and whole models in
``benchmarks/NOTES.md`` and ``benchmarks/RESULTS.md`` (``dsconv`` and ``dsconv_onednn`` columns). ``"torch"``
(``torch.addmm``) and ``"numpy"`` (NumPy's BLAS) run tile by tile, the depthwise output of one tile staying
in cache.

Threads: Numba's kernels and PyTorch's operators each have an OpenMP pool (two runtimes, ``benchmarks/NOTES.md``);
``matmul="numpy"`` adds NumPy's OpenBLAS threads, which by default spin for about 0.1 s after each product
and take the cores from the next block's Numba kernel. That variant therefore multiplies on one BLAS thread
unless ``OPENBLAS_THREAD_TIMEOUT`` (at most 8) makes idle BLAS threads sleep (:mod:`dsconv.kernels._blas`):
with no thread settings MobileNetV1 at batch 1 took 18.1 ms with it, against 171 ms before that change,
10.9 ms with ``"onednn"`` (then the default) and 11.7 ms with ``"torch"`` (``benchmarks/matmul_default.py``,
each variant alone in a fresh process).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from dsconv.functional.shapes import normalize_padding
from dsconv.kernels.fused import fold_batch_norm
from dsconv.kernels.modules import ConvAct2d, FusedSeparable2d, KernelDepthwise2d, _PreparedOperands, resolve_matmul

_SEPARABLE_BLOCKS = ("SeparableConv2d", "DepthwiseSeparable")


def _act_name(m: nn.Module) -> str | None:
    """The fused name of an activation module, or None if it cannot be fused."""
    if isinstance(m, nn.Identity):
        return "none"
    if isinstance(m, nn.ReLU):
        return "relu"
    if isinstance(m, nn.ReLU6) or (isinstance(m, nn.Hardtanh) and m.min_val == 0.0 and m.max_val == 6.0):
        return "relu6"
    return None


def _conv_geometry(m: nn.Module) -> tuple[Any, Any, Any] | None:
    """``(stride, padding, dilation)`` of a zero-padded 2-D convolution, padding in the reference's forms."""
    if getattr(m, "padding_mode", "zeros") != "zeros":
        return None
    padding = m.padding
    if isinstance(padding, tuple) and all(isinstance(p, int) for p in padding):
        padding = tuple((p, p) for p in padding)
    try:
        normalize_padding(padding, 2)
    except (TypeError, ValueError):
        return None
    return tuple(m.stride), padding, tuple(m.dilation)


def _is_depthwise(m: nn.Module) -> bool:
    if type(m).__name__ == "DepthwiseConv2d":
        return _conv_geometry(m) is not None
    return (
        isinstance(m, nn.Conv2d) and m.groups > 1 and m.groups == m.in_channels
        and m.out_channels % m.in_channels == 0 and _conv_geometry(m) is not None
    )


def _is_pointwise(m: nn.Module) -> bool:
    if type(m).__name__ == "PointwiseConv2d":
        return True
    return (
        isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1) and m.stride == (1, 1) and m.groups == 1
        and m.padding in ((0, 0), "valid") and m.padding_mode == "zeros"
    )


def _is_foldable_bn(m: nn.Module) -> bool:
    return isinstance(m, nn.BatchNorm2d) and m.track_running_stats and m.running_mean is not None


def _folded(conv: nn.Module, bn: nn.Module | None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(weight, bias)`` of ``conv`` with ``bn`` (or nothing) folded in, as float tensors."""
    weight = conv.weight.detach()
    bias = conv.bias.detach() if conv.bias is not None else torch.zeros(weight.shape[0], dtype=weight.dtype)
    if bn is None:
        return weight.clone(), bias.clone()
    w, b = fold_batch_norm(
        weight.numpy(), bias.numpy(), bn.running_mean.detach().numpy(), bn.running_var.detach().numpy(),
        None if bn.weight is None else bn.weight.detach().numpy(), None if bn.bias is None else bn.bias.detach().numpy(),
        bn.eps,
    )
    return torch.from_numpy(w), torch.from_numpy(b)


def _take(chain: list[nn.Module], i: int, test) -> tuple[nn.Module | None, int]:
    """``(chain[i], i + 1)`` if it passes ``test``, else ``(None, i)``."""
    if i < len(chain) and test(chain[i]):
        return chain[i], i + 1
    return None, i


def _match(chain: list[nn.Module], start: int, matmul: str) -> tuple[nn.Module | None, int]:
    """Match ``dw [bn] [act] [pw [bn] [act]]`` at ``chain[start]``: ``(replacement, end)`` or ``(None, start)``."""
    dw, i = _take(chain, start, _is_depthwise)
    if dw is None:
        return None, start
    bn_dw, i = _take(chain, i, _is_foldable_bn)
    act_dw, i = _take(chain, i, lambda m: _act_name(m) not in (None, "none"))
    dw_w, dw_b = _folded(dw, bn_dw)
    stride, padding, dilation = _conv_geometry(dw)
    act_dw_name = "none" if act_dw is None else _act_name(act_dw)
    pw, j = _take(chain, i, _is_pointwise)
    if pw is None:
        return KernelDepthwise2d(dw_w, dw_b, stride, padding, dilation, act_dw_name), i
    bn_pw, j = _take(chain, j, _is_foldable_bn)
    act_pw, j = _take(chain, j, lambda m: _act_name(m) not in (None, "none"))
    pw_w, pw_b = _folded(pw, bn_pw)
    act_pw_name = "none" if act_pw is None else _act_name(act_pw)
    return FusedSeparable2d(dw_w, dw_b, pw_w, pw_b, stride, padding, dilation, act_dw_name, act_pw_name, matmul), j


def _flatten(module: nn.Module) -> list[nn.Module]:
    """Children of nested Sequentials in forward order, without Identity (and eval-mode Dropout)."""
    if isinstance(module, nn.Sequential):
        return [m for child in module for m in _flatten(child)]
    if isinstance(module, (nn.Identity, nn.Dropout)):
        return []
    return [module]


def _separable_chain(module: nn.Module) -> list[nn.Module] | None:
    """The forward-order chain of a known separable block, or None."""
    name = type(module).__name__
    if name == "SeparableConv2d" and getattr(module, "order", "dw_pw") == "dw_pw":
        parts = ("conv_dw", "bn_dw", "act_dw", "conv_pw", "bn_pw", "act_pw")
        return [m for part in parts for m in _flatten(getattr(module, part))]
    if name == "DepthwiseSeparable" and isinstance(module.conv_dw, nn.Sequential):
        return _flatten(module.conv_dw) + _flatten(module.conv_pw)
    return None


def _fuse_block(module: nn.Module, matmul: str) -> nn.Module | None:
    chain = _separable_chain(module)
    if not chain:
        return None
    replacement, end = _match(chain, 0, matmul)
    return replacement if end == len(chain) and isinstance(replacement, FusedSeparable2d) else None


def _rewrite_sequential(seq: nn.Sequential, matmul: str) -> None:
    """Replace matched runs of children (and Conv2d -> BN pairs) in place; consumed children become Identity."""
    names = list(seq._modules)
    children = [seq._modules[n] for n in names]
    i = 0
    while i < len(children):
        replacement, end = _match(children, i, matmul)
        if replacement is None and matmul in ("onednn", "mkl"):
            replacement, end = _match_conv(children, i)
        if replacement is None and isinstance(children[i], nn.Conv2d) and i + 1 < len(children) and _is_foldable_bn(children[i + 1]):
            replacement, end = _fold_conv(children[i], children[i + 1]), i + 2
        if replacement is None:
            i += 1
            continue
        seq._modules[names[i]] = replacement
        for k in range(i + 1, end):
            seq._modules[names[k]] = nn.Identity()
        i = end


def _match_conv(chain: list[nn.Module], start: int) -> tuple[nn.Module | None, int]:
    """Match ``conv [bn] [act]`` for a zero-padded 2-D convolution with integer padding (or a
    ``dsconv.nn.PointwiseConv2d``): a :class:`ConvAct2d`."""
    conv = chain[start]
    if type(conv).__name__ == "PointwiseConv2d":
        geometry = ((1, 1), (0, 0), (1, 1), 1)
    elif isinstance(conv, nn.Conv2d) and conv.padding_mode == "zeros" and isinstance(conv.padding, tuple):
        geometry = (conv.stride, conv.padding, conv.dilation, conv.groups)
    else:
        return None, start
    bn, i = _take(chain, start + 1, _is_foldable_bn)
    act, i = _take(chain, i, lambda m: _act_name(m) not in (None, "none"))
    w, b = _folded(conv, bn)
    return ConvAct2d(w, b, *geometry, "none" if act is None else _act_name(act)), i


def _fold_conv(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    new = copy.deepcopy(conv)
    w, b = _folded(conv, bn)
    new.weight = nn.Parameter(w.to(conv.weight.dtype), requires_grad=False)
    new.bias = nn.Parameter(b.to(conv.weight.dtype), requires_grad=False)
    return new


def _fuse_inverted_residual(module: nn.Module, matmul: str) -> None:
    """In a ``dsconv.nn.blocks.InvertedResidual`` without squeeze-excite, fuse the depthwise stage and the
    linear projection: ``conv_dw`` becomes a :class:`FusedSeparable2d` and ``conv_pwl`` an ``nn.Identity``
    (the block's forward calls them in that order, with only the identity ``se`` in between)."""
    if not (isinstance(module.se, nn.Identity) and isinstance(module.conv_dw, nn.Sequential)
            and isinstance(module.conv_pwl, nn.Sequential)):
        return
    chain = _flatten(module.conv_dw) + _flatten(module.conv_pwl)
    replacement, end = _match(chain, 0, matmul)
    if end == len(chain) and isinstance(replacement, FusedSeparable2d):
        module.conv_dw, module.conv_pwl = replacement, nn.Identity()


def _sole_module(seq: nn.Sequential) -> nn.Module | None:
    """The one module a rewritten plain ``nn.Sequential`` still runs (the rest are Identity placeholders), or
    None: calling it directly skips the container's and the placeholders' module calls. Only for a Sequential
    whose forward is ``nn.Sequential``'s and that has no hooks of its own."""
    if type(seq).forward is not nn.Sequential.forward or seq._forward_hooks or seq._forward_pre_hooks:
        return None
    kept = [m for m in seq if not isinstance(m, nn.Identity)]
    return kept[0] if len(kept) == 1 else None


def _rewrite(module: nn.Module, matmul: str) -> None:
    if type(module).__name__ == "InvertedResidual":
        _fuse_inverted_residual(module, matmul)
    for name, child in list(module.named_children()):
        fused = _fuse_block(child, matmul)
        if fused is not None:
            module._modules[name] = fused
            continue
        if isinstance(child, nn.Sequential):
            _rewrite_sequential(child, matmul)
            sole = _sole_module(child)
            if sole is not None:
                module._modules[name] = sole
        _rewrite(module._modules[name], matmul)


_DTYPES = (torch.float32, torch.float64, torch.bfloat16)


def _channels_last_input(module: nn.Module, args: tuple) -> tuple:
    if args and isinstance(args[0], torch.Tensor) and args[0].dim() == 4:
        return (args[0].contiguous(memory_format=torch.channels_last), *args[1:])
    return args


class _InputTo:
    """Forward pre-hook: cast a floating first argument to ``dtype`` (and a 4-D one to ``channels_last``)."""

    def __init__(self, dtype: torch.dtype, channels_last: bool) -> None:
        self.dtype, self.channels_last = dtype, channels_last

    def __call__(self, module: nn.Module, args: tuple) -> tuple:
        if args and isinstance(args[0], torch.Tensor) and args[0].is_floating_point():
            args = (args[0].to(self.dtype), *args[1:])
        return _channels_last_input(module, args) if self.channels_last else args


def _to_bfloat16(model: nn.Module) -> None:
    """Cast the floating parameters and buffers of every module except the dsconv inference modules (which
    keep their float32 folded weights and round them where oneDNN needs bfloat16) to bfloat16, in place."""
    for m in model.modules():
        if isinstance(m, _PreparedOperands):
            continue
        for name, t in m._parameters.items():
            if t is not None and t.is_floating_point():
                m._parameters[name] = nn.Parameter(t.detach().to(torch.bfloat16), requires_grad=False)
        for name, t in m._buffers.items():
            if t is not None and t.is_floating_point():
                m._buffers[name] = t.to(torch.bfloat16)


def _target_dtype(model: nn.Module, dtype: torch.dtype | None) -> torch.dtype | None:
    """Check the model's floating dtypes and ``dtype``; the dtype to convert to (None: keep the model's)."""
    if dtype is not None and dtype not in _DTYPES:
        raise ValueError(f"`dtype` must be None, torch.float32, torch.float64 or torch.bfloat16. Received dtype={dtype}")
    found = set()
    for name, t in [*model.named_parameters(), *model.named_buffers()]:
        if t.is_floating_point() and t.dtype not in _DTYPES:
            raise TypeError(f"`model` must have float32, float64 or bfloat16 parameters and buffers (the optimized "
                            f"modules compute in those; convert with model.float()). Received {name} of dtype {t.dtype}")
        if t.is_floating_point():
            found.add(t.dtype)
    return dtype if dtype is not None else torch.bfloat16 if torch.bfloat16 in found else None


def optimize(model: nn.Module, *, channels_last: bool = True, matmul: str = "auto",
             dtype: torch.dtype | None = None) -> nn.Module:
    """Return an inference-ready copy of ``model`` running separable blocks on the fused dsconv kernels.

    Args:
        model: any ``torch.nn.Module`` (the original is not modified).
        channels_last: move convolution weights and the input to ``channels_last`` (recommended: the fused
            blocks read and write that layout without copies).
        matmul: the pointwise product of the fused blocks: ``"auto"`` (the default: ``"mkl"`` where PyTorch
            has MKL and oneDNN, else ``"onednn"`` where it has oneDNN, else ``"torch"``), ``"onednn"``,
            ``"mkl"``, ``"torch"`` or ``"numpy"`` (see above and :class:`~dsconv.kernels.modules.FusedSeparable2d`).
        dtype: what the optimized model computes in: None (the model's own; bfloat16 if it has bfloat16
            weights), ``torch.float32``, ``torch.float64`` or ``torch.bfloat16`` (item 6 above). When given,
            floating inputs are cast to it.

    Returns:
        A deep copy in eval mode, with the rewrites listed in the module docstring. It computes the same
        outputs as ``model.eval()`` up to float rounding (bfloat16's where it computes in bfloat16); its
        parameters do not require gradients.

    Raises:
        TypeError: ``model`` is not a module, or has floating parameters or buffers other than
            float32/float64/bfloat16 (a float16 model: run ``model.float()`` first).
        ValueError: an unknown ``matmul`` or ``dtype``.

    Example:
        >>> import torch, dsconv
        >>> net = dsconv.create_model("mobilenet_v1", width=0.25, num_classes=10).eval()
        >>> fast = dsconv.optimize(net)
        >>> x = torch.randn(1, 3, 64, 64)
        >>> bool(torch.allclose(fast(x), net(x), atol=1e-4))
        True
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"`model` must be a torch.nn.Module. Received model of type {type(model).__name__}")
    target = _target_dtype(model, dtype)
    matmul = resolve_matmul(matmul)
    optimized = copy.deepcopy(model).eval()
    if target is not None:  # bfloat16: fold the batch norms in float32, cast the rest afterwards
        optimized = optimized.to(torch.float32 if target == torch.bfloat16 else target)
    fused = _fuse_block(optimized, matmul)
    if fused is not None:
        optimized = fused
    elif isinstance(optimized, nn.Sequential):
        _rewrite_sequential(optimized, matmul)
    _rewrite(optimized, matmul)
    if target == torch.bfloat16:
        _to_bfloat16(optimized)
    for p in optimized.parameters():
        p.requires_grad_(False)
    if channels_last:
        optimized = optimized.to(memory_format=torch.channels_last)
    if target is not None:
        optimized.register_forward_pre_hook(_InputTo(target, channels_last))
    elif channels_last:
        optimized.register_forward_pre_hook(_channels_last_input)
    return optimized
