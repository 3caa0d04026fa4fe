"""The model zoo's published cost figures next to what ``dsconv.cost.profile`` measures.

One call (or ``dsconv zoo --published``) recomputes every row of :data:`dsconv.models._published.PUBLISHED`
from the models themselves, so the README's zoo table is reproducible and never typed in by hand.
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ZooFigure:
    """One published figure and the figure the zoo's model gives under the paper's convention."""

    model: str
    kwargs: dict[str, Any]
    quantity: str
    published: float
    measured: float
    reproduced: bool
    source: str
    note: str


@functools.lru_cache(maxsize=None)
def _profile(name: str, kwargs: tuple[tuple[str, Any], ...], count_bn: bool, fold_bn: bool) -> Any:
    from dsconv.cost.profile import profile
    from dsconv.models import create_model

    model = create_model(name, **dict(kwargs))
    return profile(model, model.default_input_size, count_bn=count_bn, fold_bn=fold_bn)


def measure_published(entry: Any) -> float:
    """The figure the registered model gives for one :class:`~dsconv.models._published.Published` row.

    MACs are conv + fully-connected multiply-adds; parameters are counted with or without batch norm as the
    row's ``count_bn`` says; Hello Edge's ``kws_memory`` / ``kws_ops`` come from a profile with batch norm
    folded (see :func:`dsconv.models._published.hello_edge_figures`).
    """
    from dsconv.models._published import hello_edge_figures

    key = tuple(sorted(entry.kwargs.items()))
    if entry.quantity.startswith("kws_"):
        prof = _profile(entry.model, key, True, True)
        from dsconv.models import create_model

        model = create_model(entry.model, **entry.kwargs)
        memory, ops = hello_edge_figures(prof, model.default_input_size, model.head.fc.out_features)
        return float(memory if entry.quantity == "kws_memory" else ops)
    # MACs do not depend on count_bn: share the profile with the params row where there is one.
    prof = _profile(entry.model, key, entry.count_bn or entry.quantity == "macs", False)
    return float(prof.macs if entry.quantity == "macs" else prof.params)


def zoo_figures(pattern: str = "*") -> list[ZooFigure]:
    """Measure every published row whose model name matches the glob ``pattern``."""
    import fnmatch

    from dsconv.models._published import PUBLISHED

    rows = []
    for entry in PUBLISHED:
        if not fnmatch.fnmatch(entry.model, pattern):
            continue
        measured = measure_published(entry)
        rows.append(ZooFigure(entry.model, dict(entry.kwargs), entry.quantity, entry.value, measured,
                              entry.matches(measured), entry.source, entry.note))
    return rows


def _human(value: float, quantity: str) -> str:
    if quantity == "kws_memory":
        return f"{value / 1e3:.1f}K"
    if value >= 1e9:
        return f"{value / 1e9:.3g}G" if quantity == "macs" else f"{value / 1e9:.2f}G"
    return f"{value / 1e6:.4g}M"


def zoo_markdown(rows: list[ZooFigure]) -> str:
    """A Markdown table: model, arguments, quantity, paper, ours, reproduced, note."""
    lines = ["| model | args | figure | paper | dsconv | reproduced | note |", "|---|---|---|---|---|---|---|"]
    names = {"macs": "MACs", "params": "params", "kws_memory": "memory (B)", "kws_ops": "ops"}
    for row in rows:
        args = ", ".join(f"{k}={v}" for k, v in row.kwargs.items())
        lines.append(
            f"| {row.model} | {args} | {names.get(row.quantity, row.quantity)} | {_human(row.published, row.quantity)} "
            f"| {_human(row.measured, row.quantity)} | {'yes' if row.reproduced else '**no**'} | {row.note} |"
        )
    return "\n".join(lines) + "\n"


def zoo_json(rows: list[ZooFigure]) -> str:
    """The rows as a JSON list."""
    return json.dumps([asdict(row) for row in rows], indent=2) + "\n"
