"""Rendering cost results: JSON dictionaries, CSV, Markdown and rich tables. Formatting only."""

from __future__ import annotations

import csv
import io
from typing import Any

__all__ = [
    "profile_to_dict", "profile_to_csv", "profile_to_markdown", "print_profile_rich",
    "comparison_to_markdown", "roofline_to_markdown", "human",
]

_COLUMNS = ("layer", "type", "kind", "op", "output shape", "params")


def human(value: float) -> str:
    """``1234567 -> '1.23M'``: three significant digits with a k/M/G/T suffix."""
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _unit(prof: Any) -> tuple[str, int]:
    """Column title and multiplier for the chosen unit (MACs, or FLOPs = 2 x MACs)."""
    return ("FLOPs", 2) if prof.conventions.get("unit") == "flops" else ("MACs", 1)


def profile_to_dict(prof: Any) -> dict[str, Any]:
    """The whole profile as JSON-ready objects."""
    return {
        "model": prof.model, "input_size": list(prof.input_size), "batch_size": prof.batch_size,
        "conventions": dict(prof.conventions),
        "totals": {"params": prof.params, "macs": prof.macs, "flops": prof.flops,
                   "other_flops": prof.other_flops, "bytes": prof.bytes},
        "rows": [
            {"layer": r.name, "call": r.call, "type": r.type, "kind": r.kind, "op": r.op,
             "output_shape": list(r.output_shape), "params": r.params, "macs": r.macs, "flops": r.flops,
             "other_flops": r.other_flops, "bytes": r.bytes, "share": r.share}
            for r in prof.rows
        ],
        "by_kind": {k: {"layers": t.layers, "params": t.params, "macs": t.macs, "flops": t.flops,
                        "macs_share": t.macs_share, "params_share": t.params_share}
                    for k, t in prof.by_kind().items()},
        "unaccounted": [{"layer": u.name, "type": u.type, "op": u.op, "count": u.count, "reason": u.reason}
                        for u in prof.unaccounted],
    }


def profile_to_csv(prof: Any) -> str:
    """One line per row plus a ``TOTAL`` line; counts are exact integers."""
    title, mult = _unit(prof)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["layer", "call", "type", "kind", "op", "output_shape", "params", title.lower(),
                     "other_flops", "bytes", "share"])
    for r in prof.rows:
        shape = "x".join(str(d) for d in r.output_shape)
        writer.writerow([r.name, r.call, r.type, r.kind, r.op, shape, r.params, r.macs * mult, r.other_flops,
                         r.bytes, f"{r.share:.6f}"])
    writer.writerow(["TOTAL", "", prof.model, "", "", "", prof.params, prof.macs * mult, prof.other_flops,
                     prof.bytes, "1.000000" if prof.macs else "0.000000"])
    return buffer.getvalue()


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _row_cells(prof: Any) -> tuple[list[str], list[list[str]]]:
    title, mult = _unit(prof)
    header = [*_COLUMNS, title, "share", "other FLOPs"]
    cells = [[r.label, r.type, r.kind, r.op, "x".join(map(str, r.output_shape)), f"{r.params:,}",
              f"{r.macs * mult:,}", f"{r.share:.2%}", f"{r.other_flops:,}"] for r in prof.rows]
    cells.append(["**total**", prof.model, "", "", "", f"{prof.params:,}", f"{prof.macs * mult:,}",
                  "100.00%" if prof.macs else "0.00%", f"{prof.other_flops:,}"])
    return header, cells


def _kind_cells(prof: Any) -> tuple[list[str], list[list[str]]]:
    from dsconv.cost.profile import KIND_LABELS

    title, mult = _unit(prof)
    header = ["kind", "layers", "params", "params %", title, f"{title} %"]
    cells = [[KIND_LABELS[k], str(t.layers), f"{t.params:,}", f"{t.params_share:.2%}", f"{t.macs * mult:,}",
              f"{t.macs_share:.2%}"] for k, t in prof.by_kind().items()]
    return header, cells


def _heading(prof: Any) -> str:
    title, mult = _unit(prof)
    conv = ", ".join(f"{k}={v}" for k, v in prof.conventions.items())
    return (f"{prof.model} on input (batch {prof.batch_size}, {', '.join(map(str, prof.input_size))}): "
            f"{human(prof.params)} params, {human(prof.macs * mult)} {title} ({conv})")


def profile_to_markdown(prof: Any) -> str:
    """Markdown: heading line, per-layer table, breakdown by kind, unaccounted ops."""
    parts = [f"**{_heading(prof)}**", "", _table(*_row_cells(prof)), "", "By kind:", "", _table(*_kind_cells(prof))]
    if prof.unaccounted:
        parts += ["", "Not accounted for:", ""]
        parts += [f"- `{u.name or '(model)'}` ({u.type}): `{u.op}` x{u.count}: {u.reason}" for u in prof.unaccounted]
    return "\n".join(parts) + "\n"


def print_profile_rich(prof: Any, console: Any = None) -> None:
    """The per-layer and by-kind tables drawn with rich (the op and other-FLOPs columns are left to
    :func:`profile_to_markdown`, to fit a terminal)."""
    from rich.console import Console
    from rich.table import Table

    if console is None:
        console = Console()
        if not console.is_terminal:  # piped output: wide enough for qualified names, no wrapping
            console.width = max(console.width, 150)
    header, cells = _row_cells(prof)
    keep = [i for i, name in enumerate(header) if name not in ("op", "other FLOPs")]
    tables = ((_heading(prof), [header[i] for i in keep], [[row[i] for i in keep] for row in cells]),
              ("By kind", *_kind_cells(prof)))
    for title, names, rows in tables:
        table = Table(title=title)
        for i, name in enumerate(names):
            table.add_column(name, justify="left" if i < 3 or name == "output shape" else "right", overflow="fold")
        for row in rows:
            table.add_row(*(cell.replace("**", "") for cell in row))
        console.print(table)
    for u in prof.unaccounted:
        console.print(f"not accounted for: {u.name or '(model)'} ({u.type}) {u.op} x{u.count}: {u.reason}",
                      style="yellow", markup=False, highlight=False)


def comparison_to_markdown(comparison: Any) -> str:
    """Standard vs separable: params, MACs, FLOPs, bytes, intensity, and the seed's ratio."""
    std, sep = comparison.standard, comparison.separable
    rows = []
    for label, a, b in (("params", std.params, sep.params), ("MACs", std.macs, sep.macs),
                        ("FLOPs", std.flops, sep.flops), ("bytes moved", std.bytes_total, sep.bytes_total)):
        rows.append([label, f"{a:,}", f"{b:,}", f"{b / a:.4f}"])
    rows.append(["FLOPs per byte", f"{std.intensity:.2f}", f"{sep.intensity:.2f}", f"{sep.intensity / std.intensity:.4f}"])
    text = _table(["", "standard", "separable", "separable / standard"], rows)
    shape_in = "x".join(map(str, std.input_shape))
    shape_out = "x".join(map(str, std.output_shape))
    lines = [f"Convolution {shape_in} -> {shape_out}, kernel {'x'.join(map(str, comparison.kernel_size))}", "", text]
    if comparison.formula_ratio is not None:
        lines += ["", f"Seed formula 1/C_out + 1/k^2 = {comparison.formula_ratio:.4f}; savings rho = "
                      f"{comparison.formula_savings:.1%} (reduction {1 / comparison.formula_ratio:.2f}x)"]
    return "\n".join(lines) + "\n"


def roofline_to_markdown(result: Any, top: int | None = None) -> str:
    """The roofline summary, time share per kind, and the slowest layers (``top`` of them, all if None)."""
    from dsconv.cost.profile import KIND_LABELS

    shares = result.time_share()
    kinds = [[KIND_LABELS.get(k, k), f"{shares[k]:.2%}", f"{result.macs_share.get(k, 0.0):.2%}"] for k in shares]
    ranked = sorted(result.rows, key=lambda r: r.time, reverse=True)[:top]
    layers = [[r.label, r.kind, f"{r.intensity:.2f}", r.bound, f"{r.time * 1e6:.2f}"] for r in ranked]
    return "\n".join([
        result.summary(), "", _table(["kind", "time %", "MACs %"], kinds), "",
        _table(["layer", "kind", "FLOPs/byte", "bound", "time (us)"], layers),
    ]) + "\n"
