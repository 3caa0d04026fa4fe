"""Turning a trace (:mod:`dsconv.cost._trace`) into the rows of a :class:`~dsconv.cost.profile.Profile`.

Conv and matrix-product ops get one row each; the other ops of one module call share one ``"other"``
row. Parameters sit on the row of the first op that read them; parameters that no visible op read get
an ``"unseen"`` row on their module and an :class:`~dsconv.cost.profile.Unaccounted` entry.
"""

from __future__ import annotations

from typing import Any

from dsconv.cost.profile import _MAC_KINDS, ProfileRow, Unaccounted

_UNREAD = "module ran, but no visible op read its parameters (a kernel outside PyTorch's dispatcher?)"
_NOT_CALLED = "module never called in this forward pass; its parameters are counted here"
_NO_RULE = "op without a cost rule: its cost is not in the totals"


def build_rows(tracer: Any, model: Any, conventions: dict[str, Any]) -> tuple[list[ProfileRow], list[Unaccounted]]:
    """Rows (in execution order) and unaccounted entries of one trace under ``conventions``."""
    rows: list[ProfileRow] = []
    other_rows: dict[int, ProfileRow] = {}
    fold = conventions["fold_bn"]
    for record in tracer.records:
        frame = tracer.frames[record.frame]
        folded = fold and record.folded_into is not None
        cost = record.cost
        if cost.kind in _MAC_KINDS:
            row = ProfileRow(frame.name, frame.type, frame.call, cost.op, cost.kind, cost.output_shape,
                             macs=cost.macs, bytes=cost.bytes)
            rows.append(row)
            if fold and conventions["count_bias"]:
                row.params += record.fold_bias
        else:
            row = other_rows.get(record.frame)
            if row is None:
                row = other_rows[record.frame] = ProfileRow(frame.name, frame.type, frame.call, "", "other", ())
                rows.append(row)
            name = f"{cost.op} (folded)" if folded else cost.op
            row.op = name if not row.op else row.op if name in row.op.split(", ") else f"{row.op}, {name}"
            row.output_shape = cost.output_shape
            if not folded:
                row.other_flops += cost.other_flops
                row.bytes += cost.bytes
        for param in record.params:
            row.params += _counted(param, tracer.param_roles[id(param)], folded, conventions)
    unseen_rows, unseen = _unseen_params(tracer, model, conventions)
    return rows + unseen_rows, _no_rule(tracer) + unseen


def _counted(param: Any, role: str, folded: bool, conventions: dict[str, Any]) -> int:
    if role == "bn" and (not conventions["count_bn"] or folded):
        return 0
    if role == "bias" and not conventions["count_bias"]:
        return 0
    return param.numel()


def _no_rule(tracer: Any) -> list[Unaccounted]:
    found: dict[tuple[str, str, str], int] = {}
    for (frame_index, op), count in tracer.unaccounted.items():
        frame = tracer.frames[frame_index]
        key = (frame.name, frame.type, op)
        found[key] = found.get(key, 0) + count
    return [Unaccounted(name, type_, op, count, _NO_RULE) for (name, type_, op), count in found.items()]


def _unseen_params(tracer: Any, model: Any, conventions: dict[str, Any]) -> tuple[list[ProfileRow], list[Unaccounted]]:
    """Rows and entries for parameters that no traced op read, on the module that owns them."""
    import torch

    rows, entries = [], []
    seen = {id(p) for p in _all_seen(tracer)}
    owned: set[int] = set()
    for name, module in model.named_modules():
        params = [(pname, p) for pname, p in module.named_parameters(recurse=False)
                  if id(p) not in seen and id(p) not in owned]
        if not params:
            continue
        owned.update(id(p) for _, p in params)
        is_norm = isinstance(module, torch.nn.modules.batchnorm._NormBase)
        count = sum(_counted(p, "bn" if is_norm else "bias" if pname.endswith("bias") else "weight", False,
                             conventions) for pname, p in params)
        type_ = type(module).__name__
        rows.append(ProfileRow(name, type_, 1, "(parameters)", "unseen", (), params=count))
        called = name in tracer.calls or not name
        entries.append(Unaccounted(name, type_, "(parameters)", len(params), _UNREAD if called else _NOT_CALLED))
    return rows, entries


def _all_seen(tracer: Any) -> list[Any]:
    return [p for record in tracer.records for p in record.params]
