"""Tracing one forward pass: every ATen op, attributed to the innermost module that ran it.

A ``TorchDispatchMode`` sees each op after PyTorch's composite ops have been decomposed
(``F.linear`` arrives as ``addmm``, ``F.conv2d`` as ``convolution``), including ops called from
``forward`` bodies (functional calls) and ops of modules called twice. Forward pre/post hooks keep a
stack of module calls, so an op belongs to the module on top of the stack when it runs.

Parameters are attributed to the first op that reads them (directly or through a view or a cast), so a
shared module's weights are counted once while its MACs are counted at every call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from dsconv.cost._ops import OpCost, op_cost, tensors


@dataclass
class OpRecord:
    """One costed op call inside one module call."""

    frame: int
    cost: OpCost
    params: list[torch.nn.Parameter] = field(default_factory=list)
    folded_into: int | None = None  # for batch norm: the index of the conv record it folds into
    fold_bias: int = 0  # for a bias-free conv with a batch norm folded in: the bias it gains


@dataclass
class Frame:
    """One call of one module."""

    name: str
    type: str
    call: int


class Tracer(TorchDispatchMode):
    """Records :class:`OpRecord` s and unaccounted ops while a model runs (see the module docstring)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model
        self.frames: list[Frame] = [Frame("", type(model).__name__, 1)]
        self.stack: list[int] = [0]
        self.records: list[OpRecord] = []
        self.unaccounted: dict[tuple[int, str], int] = {}
        self.param_roles: dict[int, str] = {}  # id(param) -> "weight" | "bias" | "bn"
        self._seen_params: set[int] = set()
        self._aliases: dict[int, tuple[torch.Tensor, torch.nn.Parameter]] = {}
        self._conv_outputs: dict[int, tuple[torch.Tensor, int]] = {}
        self.calls: dict[str, int] = {}  # qualified name -> calls so far
        self._handles: list[Any] = []

    # -- module stack -------------------------------------------------------------------------------
    def attach(self) -> None:
        """Register the forward hooks on every (distinct) sub-module."""
        for name, module in self.model.named_modules():
            if name:
                self._handles.append(module.register_forward_pre_hook(self._pre_hook(name)))
                self._handles.append(module.register_forward_hook(self._post_hook(name)))

    def detach(self) -> None:
        """Remove every hook (also after a failed forward)."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _pre_hook(self, name: str) -> Any:
        def hook(module: torch.nn.Module, args: Any) -> None:
            self.calls[name] = self.calls.get(name, 0) + 1
            self.frames.append(Frame(name, type(module).__name__, self.calls[name]))
            self.stack.append(len(self.frames) - 1)

        return hook

    def _post_hook(self, name: str) -> Any:
        def hook(module: torch.nn.Module, args: Any, output: Any) -> None:
            # Pop up to this module's frame (a child that raised inside a caught exception left its own).
            while len(self.stack) > 1:
                if self.frames[self.stack.pop()].name == name:
                    break

        return hook

    def innermost(self) -> Frame:
        """The module call running now (the root when no sub-module is)."""
        return self.frames[self.stack[-1]]

    # -- ops -------------------------------------------------------------------------------------------
    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # PyTorch wraps a mode's __torch_dispatch__ in torch._dynamo.disable unless this says False; that
        # import costs seconds on the first profile, and nothing here compiles (PyTorch's documented opt-out).
        return False

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        self._record(func, args, kwargs, out)
        return out

    def _record(self, func: Any, args: tuple, kwargs: dict, out: Any) -> None:
        cost = op_cost(func, args, out)
        frame = self.stack[-1]
        if cost is None:
            key = (frame, func.overloadpacket.__name__)
            self.unaccounted[key] = self.unaccounted.get(key, 0) + 1
            return
        if cost.kind == "movement":
            self._track_aliases(args, out)
            if cost.bytes == 0:
                return
        if func._schema.is_mutable:  # an in-place op changed a conv output: a batch norm after it cannot fold
            for t in tensors(args):
                self._conv_outputs.pop(t.data_ptr(), None)
        record = OpRecord(frame, cost, self._new_params(func, (*args, *kwargs.values())))
        self.records.append(record)
        if cost.kind not in ("fc", "attention", "other", "movement"):
            result = next(tensors(out))
            self._conv_outputs[result.data_ptr()] = (result, len(self.records) - 1, args[2] is not None)
            if len(self._conv_outputs) > _FOLD_WINDOW:  # hold few activations alive: a foldable norm comes soon
                del self._conv_outputs[next(iter(self._conv_outputs))]
        elif func.overloadpacket.__name__ in _BATCH_NORM_NAMES:
            self._fold(record, args[0])

    def _fold(self, record: OpRecord, x: torch.Tensor) -> None:
        """Mark a batch norm whose input is a conv output (unchanged since) as foldable into that conv."""
        source = self._conv_outputs.pop(x.data_ptr(), None)
        if source is None or source[0].shape != x.shape:
            return
        record.folded_into = source[1]
        if not source[2]:
            self.records[source[1]].fold_bias = x.shape[1]

    def _param_of(self, t: torch.Tensor) -> torch.nn.Parameter | None:
        if isinstance(t, torch.nn.Parameter):
            return t
        alias = self._aliases.get(id(t))
        return alias[1] if alias is not None and alias[0] is t else None

    def _track_aliases(self, args: tuple, out: Any) -> None:
        """Views and casts of a parameter (``weight.t()``, ``weight.to(half)``) stand for the parameter."""
        sources = [p for p in map(self._param_of, tensors(args)) if p is not None]
        if len(sources) == 1:
            for t in tensors(out):
                self._aliases[id(t)] = (t, sources[0])

    def _new_params(self, func: Any, args: tuple) -> list[torch.nn.Parameter]:
        """Parameters this op reads for the first time, with their role recorded."""
        found = []
        for position, arg in enumerate(args):
            for t in tensors(arg):  # nested too: torch.cat([w1, w2]) reads both
                param = self._param_of(t)
                if param is None or id(param) in self._seen_params:
                    continue
                self._seen_params.add(id(param))
                self.param_roles[id(param)] = _role(func.overloadpacket.__name__, position)
                found.append(param)
        return found


_FOLD_WINDOW = 16  # recent conv outputs a batch norm may fold into (branches interleave a few)
_BATCH_NORM_NAMES = {
    "native_batch_norm", "_native_batch_norm_legit_no_training", "_native_batch_norm_legit",
    "_native_batch_norm_legit_functional",
}
_BIAS_POSITION = {"convolution": 2, "_convolution": 2, "addmm": 0, "baddbmm": 0, "addmv": 0}


def _role(op: str, position: int) -> str:
    if op in _BATCH_NORM_NAMES or op in ("native_layer_norm", "native_group_norm"):
        return "bn" if op in _BATCH_NORM_NAMES else "norm"
    if _BIAS_POSITION.get(op) == position or op in ("add", "add_"):
        return "bias"
    return "weight"
