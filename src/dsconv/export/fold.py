"""Fold batch norm into the preceding convolution (and find conv -> BN -> activation triples) before export.

In eval mode ``BN(conv(x)) = conv'(x)`` with ``w' = w * g / sqrt(v + eps)`` per output channel and
``b' = (b - m) * g / sqrt(v + eps) + beta``. Folding removes one memory pass per layer; what remains
(a convolution followed by ReLU/ReLU6/hard-swish) is the pattern ONNX Runtime and int8 back ends fuse
into a single kernel. Pairs are found by running the model once with forward hooks: a ``BatchNorm``
whose input is exactly the output tensor of a convolution-like leaf module (a ``weight`` of 3+ dims
whose first dimension is the BN's channel count, depthwise and pointwise layers included). The
folded model is checked against the original and any fold that changes the output is undone.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

ACTIVATIONS = ("ReLU", "ReLU6", "Hardswish", "SiLU", "GELU", "Hardtanh", "LeakyReLU")


@dataclass
class FoldReport:
    """What ``fold_bn`` did: ``pairs`` of (conv, bn) names folded, ``fused`` (conv, bn, activation) triples."""

    pairs: list[tuple[str, str]] = field(default_factory=list)
    fused: list[tuple[str, str, str]] = field(default_factory=list)
    max_abs_diff: float = 0.0


def _is_conv_like(module: Any) -> bool:
    weight = getattr(module, "weight", None)
    return weight is not None and getattr(weight, "ndim", 0) >= 3 and not list(module.children())


def _trace_pairs(model: Any, example: Any) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """Run ``model`` once; return (conv, bn) pairs and ``{bn_name: activation_name}`` for BN outputs fed to an activation."""
    import torch

    producers: dict[int, str] = {}
    keep: list[Any] = []  # hold outputs so tensor ids stay unique during the pass
    pairs: list[tuple[str, str]] = []
    acts: dict[str, str] = {}
    names = {module: name for name, module in model.named_modules()}

    def hook(module: Any, inputs: tuple[Any, ...], output: Any) -> None:
        name = names[module]
        source = producers.get(id(inputs[0])) if inputs and isinstance(inputs[0], torch.Tensor) else None
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) and source is not None:
            conv = dict(model.named_modules())[source]
            if _is_conv_like(conv) and conv.weight.shape[0] == module.num_features:
                pairs.append((source, name))
        elif type(module).__name__ in ACTIVATIONS and source is not None:
            acts[source] = name
        if isinstance(output, torch.Tensor):
            keep.append(output)
            producers[id(output)] = name

    handles = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
    try:
        with torch.no_grad():
            model(example)
    finally:
        for handle in handles:
            handle.remove()
    return pairs, acts


def _fold_pair(model: Any, conv_name: str, bn_name: str) -> None:
    import torch

    modules = dict(model.named_modules())
    conv, bn = modules[conv_name], modules[bn_name]
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps) if bn.affine else 1.0 / torch.sqrt(bn.running_var + bn.eps)
    shift = bn.bias.detach() if bn.affine else torch.zeros_like(bn.running_mean)
    bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(bn.running_mean)
    shape = (-1,) + (1,) * (conv.weight.ndim - 1)
    with torch.no_grad():
        conv.weight.copy_(conv.weight * scale.reshape(shape))
        new_bias = (bias - bn.running_mean) * scale + shift
    conv.bias = torch.nn.Parameter(new_bias)
    parent_name, _, attr = bn_name.rpartition(".")
    setattr(modules[parent_name] if parent_name else model, attr, torch.nn.Identity())


def _fold_one_by_one(model: Any, pairs: list[tuple[str, str]], example: Any, reference: Any,
                     tolerance: float) -> tuple[Any, list[tuple[str, str]]]:
    accepted = []
    for conv_name, bn_name in pairs:
        trial = copy.deepcopy(model)
        _fold_pair(trial, conv_name, bn_name)
        if float((trial(example) - reference).abs().max()) <= tolerance:
            model = trial
            accepted.append((conv_name, bn_name))
    return model, accepted


def fold_bn(model: Any, example: Any, *, atol: float = 1e-4) -> tuple[Any, FoldReport]:
    """A copy of ``model`` (eval mode) with every conv -> BN pair folded into the convolution.

    Args:
        model: a ``torch.nn.Module``.
        example: an input tensor the model accepts (used to trace the pairs and to check the result).
        atol: the largest output change (relative to the output scale) a fold may cause.

    Returns:
        ``(folded_model, FoldReport)``.
    """
    import torch

    original = copy.deepcopy(model).eval()
    folded = copy.deepcopy(model).eval()
    pairs, acts = _trace_pairs(folded, example)
    report = FoldReport()
    with torch.no_grad():
        reference = original(example)
        tolerance = atol * max(1.0, float(reference.abs().max()))
        everything = copy.deepcopy(folded)
        for conv_name, bn_name in pairs:
            _fold_pair(everything, conv_name, bn_name)
        if float((everything(example) - reference).abs().max()) <= tolerance:
            folded, accepted = everything, pairs
        else:  # some conv output is also used elsewhere: keep only the folds that leave the output unchanged
            folded, accepted = _fold_one_by_one(folded, pairs, example, reference, tolerance)
        report.pairs = list(accepted)
        report.fused = [(c, b, acts[b]) for c, b in accepted if b in acts]
        report.max_abs_diff = float((folded(example) - reference).abs().max())
    return folded, report
