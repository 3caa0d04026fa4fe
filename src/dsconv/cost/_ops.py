"""Cost rules for the ATen ops a forward pass runs (used by :mod:`dsconv.cost.profile`).

Each rule maps one op call to an :class:`OpCost`: its MACs (convolutions and matrix products only),
its other FLOPs (element-wise work, normalisation, pooling, reductions), the bytes its tensors occupy,
and its kind. Ops that are known to cost nothing (views, creation, data movement) are ``movement``;
ops without a rule are ``None`` and are reported as unaccounted by the profiler, never dropped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from dsconv.cost.layers import classify_conv

aten = torch.ops.aten


@dataclass(frozen=True)
class OpCost:
    """The cost of one op call: ``kind`` is a conv kind, ``"fc"``, ``"attention"``, ``"other"`` or ``"movement"``."""

    op: str
    kind: str
    macs: int
    other_flops: int
    bytes: int
    output_shape: tuple[int, ...]


def tensors(value: Any) -> Iterator[torch.Tensor]:
    """Every tensor in a (nested) argument structure."""
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from tensors(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from tensors(item)


def tensor_bytes(args: Any, out: Any) -> int:
    """Bytes of every distinct tensor read or written by one op (each counted once)."""
    seen: dict[int, int] = {}
    for t in (*tensors(args), *tensors(out)):
        seen[id(t)] = t.numel() * t.element_size()
    return sum(seen.values())


def first_shape(out: Any) -> tuple[int, ...]:
    """Shape of the first tensor an op returned (``()`` when none)."""
    for t in tensors(out):
        return tuple(t.shape)
    return ()


def _conv(args: tuple, out: Any) -> tuple[str, int]:
    x, weight, transposed, groups = args[0], args[1], bool(args[6]), int(args[8])
    kernel = tuple(weight.shape[2:])
    if transposed:  # weight (C_in, C_out / groups, *k): every input element meets C_out / groups * k taps
        macs = x.numel() * weight.shape[1] * math.prod(kernel)
        return classify_conv(weight.shape[0], weight.shape[1] * groups, kernel, groups), macs
    macs = out.numel() * weight.shape[1] * math.prod(kernel)  # each output: C_in / groups * k taps
    return classify_conv(x.shape[1], weight.shape[0], kernel, groups), macs


def _mm(args: tuple, out: Any) -> tuple[str, int]:
    a = args[-2] if len(args) >= 3 else args[0]  # addmm / baddbmm carry the bias first
    return "fc", out.numel() * a.shape[-1]


def _mv(args: tuple, out: Any) -> tuple[str, int]:
    a = args[-2] if len(args) >= 3 else args[0]
    return "fc", a.numel()


def _attention(args: tuple, out: Any) -> tuple[str, int]:
    q, k, v = args[0], args[1], args[2]  # (B, H, L, E), (B, H, S, E), (B, H, S, Ev)
    batch_heads = math.prod(q.shape[:-2])
    return "attention", batch_heads * q.shape[-2] * k.shape[-2] * (q.shape[-1] + v.shape[-1])


_MAC_RULES: dict[Any, Callable[[tuple, Any], tuple[str, int]]] = {
    aten.convolution: _conv,
    aten._convolution: _conv,
    aten.mm: _mm,
    aten.addmm: _mm,
    aten.bmm: _mm,
    aten.baddbmm: _mm,
    aten.mv: _mv,
    aten.addmv: _mv,
    aten.dot: _mv,
    aten._scaled_dot_product_flash_attention_for_cpu: _attention,
    aten._scaled_dot_product_flash_attention: _attention,
    aten._scaled_dot_product_efficient_attention: _attention,
}

_BATCH_NORM = {
    aten.native_batch_norm, aten._native_batch_norm_legit_no_training, aten._native_batch_norm_legit,
    aten._native_batch_norm_legit_functional,
}
_NORM = {aten.native_layer_norm: 5, aten.native_group_norm: 5, **{op: 2 for op in _BATCH_NORM}}

_POOL = {
    aten.max_pool1d: "max", aten.max_pool2d: "max", aten.max_pool3d: "max",
    aten.max_pool2d_with_indices: "max", aten.max_pool3d_with_indices: "max",
    aten.avg_pool1d: "avg", aten.avg_pool2d: "avg", aten.avg_pool3d: "avg",
}
_ADAPTIVE_POOL = {
    aten.adaptive_avg_pool1d, aten.adaptive_avg_pool2d, aten._adaptive_avg_pool2d, aten.adaptive_avg_pool3d,
    aten._adaptive_avg_pool3d, aten.adaptive_max_pool1d, aten.adaptive_max_pool2d, aten.adaptive_max_pool3d,
}
# Element-wise ops that PyTorch does not tag `pointwise`, with their operations per output element.
_ELEMENTWISE = {
    aten.hardswish: 4, aten.hardsigmoid: 3, aten.silu: 4, aten.gelu: 8, aten.mish: 6, aten.elu: 3,
    aten.leaky_relu: 2, aten._prelu_kernel: 2, aten.softplus: 3, aten.hardtanh: 2, aten.relu: 1,
    aten.threshold: 1, aten._softmax: 3, aten._log_softmax: 3, aten.clamp: 2, aten.clamp_min: 1,
    aten.clamp_max: 1, aten.where: 1, aten.glu: 5, aten.relu6: 2,
    # Interpolation: a 1D lerp a + t (b - a) is 3 operations; bilinear takes 3 lerps, trilinear 7;
    # bicubic 5 four-tap cubic interpolations (4 multiplies, 3 adds each).
    aten.upsample_linear1d: 3, aten.upsample_bilinear2d: 9, aten.upsample_trilinear3d: 21,
    aten.upsample_bicubic2d: 35, aten._upsample_bilinear2d_aa: 9, aten._upsample_bicubic2d_aa: 35,
}
_MOVEMENT_NAMES = (
    "clone", "copy", "_to_copy", "cat", "stack", "contiguous", "empty", "empty_like", "empty_strided",
    "zeros", "zeros_like", "ones", "ones_like", "full", "full_like", "fill", "zero", "detach", "lift_fresh",
    "lift_fresh_copy", "alias", "_unsafe_view", "split", "split_with_sizes", "chunk", "unbind", "index_select",
    "gather", "index", "slice", "select", "constant_pad_nd", "reflection_pad1d", "reflection_pad2d",
    "reflection_pad3d", "replication_pad1d", "replication_pad2d", "replication_pad3d", "circular_pad",
    "flip", "roll", "repeat", "channel_shuffle", "native_channel_shuffle", "pixel_shuffle", "pixel_unshuffle",
    "arange", "randn", "rand", "scalar_tensor", "_local_scalar_dense", "embedding", "new_zeros", "new_empty",
    "new_ones", "new_full", "set_", "resize_", "masked_fill", "expand", "permute", "_reshape_alias",
    "as_strided", "unfold", "col2im", "im2col", "upsample_nearest1d", "upsample_nearest2d",
    "upsample_nearest3d", "_upsample_nearest_exact1d", "_upsample_nearest_exact2d", "_upsample_nearest_exact3d",
    "dropout", "native_dropout",
)
_MOVEMENT = {getattr(aten, name) for name in _MOVEMENT_NAMES if hasattr(aten, name)}


def op_cost(func: Any, args: tuple, out: Any) -> OpCost | None:
    """The cost of one op call, or ``None`` when there is no rule for ``func``."""
    packet = func.overloadpacket
    name = packet.__name__
    shape = first_shape(out)
    if packet in _MAC_RULES:
        first_out = next(tensors(out))
        kind, macs = _MAC_RULES[packet](args, first_out)
        return OpCost(name, kind, macs, 0, tensor_bytes(args, out), shape)
    if func.is_view or packet in _MOVEMENT:
        moved = 0 if func.is_view else tensor_bytes(args, out)
        return OpCost(name, "movement", 0, 0, moved, shape)
    flops = _other_flops(func, packet, args, out)
    if flops is None:
        return None
    return OpCost(name, "other", 0, flops, tensor_bytes(args, out), shape)


def _other_flops(func: Any, packet: Any, args: tuple, out: Any) -> int | None:
    first_out = next(tensors(out), None)
    out_numel = 0 if first_out is None else first_out.numel()
    if packet in _NORM:
        return _NORM[packet] * args[0].numel()
    if packet in _POOL:
        window = math.prod(_pool_kernel(args[1], args[0].dim() - 2))
        return out_numel * (window - 1 if _POOL[packet] == "max" else window)
    if packet in _ADAPTIVE_POOL:
        return args[0].numel()
    if packet in _ELEMENTWISE:
        return _ELEMENTWISE[packet] * out_numel
    if torch.Tag.pointwise in func.tags:
        return out_numel
    if torch.Tag.reduction in func.tags:
        return next(tensors(args)).numel()
    return None


def _pool_kernel(kernel: Any, n: int) -> tuple[int, ...]:
    if isinstance(kernel, int):
        return (kernel,) * n
    kernel = tuple(kernel)
    return kernel * n if len(kernel) == 1 else kernel
