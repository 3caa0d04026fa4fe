"""Write benchmark results: one JSON and one Markdown section per run, a plot, and ``RESULTS.md``.

``RESULTS.md`` is assembled from the sections present in ``<out_dir>/results/`` so that re-running one
sub-command refreshes its section and keeps the others.
"""

from __future__ import annotations

import json
import math
import os
import platform
from pathlib import Path

from dsconv._io import atomic_path, atomic_write_text

SECTIONS = ("machine", "layers", "backward", "separable", "models", "scaling")


def cpu_model() -> str:
    """The CPU's model name, family and model numbers (``/proc/cpuinfo`` on Linux) and logical CPU count:
    shared VMs move between hosts, and a generic name like "Intel(R) Xeon(R) Processor" hides which."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
            if not line.strip():
                break  # the first processor's block is enough
    except OSError:
        pass
    name = fields.get("model name") or platform.processor() or platform.machine()
    if "cpu family" in fields and "model" in fields:
        name += f" (family {fields['cpu family']} model {fields['model']})"
    return f"{name}, {os.cpu_count()} logical CPUs"


def environment(threads: int, allocator: str) -> dict:
    """Versions, threads, allocator: what every section records."""
    import numba
    import numpy
    import torch

    try:
        import onnxruntime

        ort_version = onnxruntime.__version__
    except ImportError:  # pragma: no cover - onnxruntime is part of the [all] install
        ort_version = "not installed"
    return {
        "machine": f"{platform.node()} ({cpu_model()})",
        "python": platform.python_version(), "numpy": numpy.__version__, "numba": numba.__version__,
        "torch": torch.__version__, "onnxruntime": ort_version, "threads": threads, "dtype": "float32",
        "allocator": allocator, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY") or "unset (spinning)",
        # NumPy's OpenBLAS threads spin for 2**timeout cycles after each call (default 28): see benchmarks/NOTES.md
        "OPENBLAS_THREAD_TIMEOUT": os.environ.get("OPENBLAS_THREAD_TIMEOUT") or "unset (28)",
    }


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def _ms(t: float) -> str:
    return f"{t * 1e3:.3f}"


def layer_table(rows: list[dict], title: str, launch_floor_s: float | None = None) -> str:
    """Markdown table of layer rows (time, GB/s, GFLOP/s, % of roof, speed-ups) with geometric means."""
    impls = list(rows[0]["times_s"]) if rows else []
    stream = bool(rows) and all("pct_of_stream_roof" in r for r in rows)
    head = ["net", "N", "C", "C_out", "HxW", "s", *[f"{k} ms" for k in impls], "dsconv GB/s", "dsconv GFLOP/s",
            *[f"{k} % roof" for k in impls], *(["stream roof ms", "dsconv % stream roof"] if stream else []),
            *[f"x vs {k}" for k in impls if k != "dsconv"]]
    lines = [f"### {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        t = r["times_s"]["dsconv"]
        cells = [r["family"].replace("mobilenet_", ""), r["batch"], r["channels"], r["out_channels"],
                 f"{r['size']}x{r['size']}", r["stride"], *[_ms(r["times_s"][k]) for k in impls],
                 f"{r['nbytes'] / t / 1e9:.1f}", f"{r['flops'] / t / 1e9:.1f}",
                 *[f"{r['pct_of_roof'][k]:.0f}" for k in impls],
                 *([_ms(r["stream_roof_s"]), f"{r['pct_of_stream_roof']['dsconv']:.0f}"] if stream else []),
                 *[f"{r['speedup'][k]:.2f}" for k in impls if k != "dsconv"]]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    lines += ["", "Geometric means of dsconv's speed-up (medians): " + ", ".join(
        f"vs {k} **{geomean([r['speedup'][k] for r in rows]):.2f}x**" for k in impls if k != "dsconv")]
    lines.append("Same from each implementation's best (minimum) time, less disturbed by other processes: " + ", ".join(
        f"vs {k} **{geomean([r['speedup_best'][k] for r in rows]):.2f}x**" for k in impls if k != "dsconv"))
    lines.append("Geometric mean of dsconv's share of the roofline: "
                 f"**{geomean([r['pct_of_roof']['dsconv'] for r in rows]):.0f}%**; rows at or above 60%: "
                 f"{sum(r['pct_of_roof']['dsconv'] >= 60 for r in rows)} of {len(rows)}.")
    if stream:
        lines.append(stream_line(rows))
    if {"torch_nchw", "torch_cl"} <= set(impls):
        lines.append(fastest_torch_line(rows))
    if launch_floor_s is not None:
        lines.append(floor_line(rows, launch_floor_s))
    return "\n".join(lines) + "\n"


def stream_line(rows: list[dict]) -> str:
    """dsconv's share of the stream roof (the same-traffic stream timed in the same rounds, or the FLOP time
    at peak): geometric mean, and the rows at or above 60%, overall and per batch size."""
    def count(sel: list[dict]) -> str:
        return f"{sum(r['pct_of_stream_roof']['dsconv'] >= 60 for r in sel)} of {len(sel)}"

    per_batch = ", ".join(f"batch {b}: {count([r for r in rows if r['batch'] == b])}"
                          for b in sorted({r["batch"] for r in rows}))
    return ("Against the stream roof (a parallel call moving the row's bytes, timed in the same rounds): dsconv's "
            f"share **{geomean([r['pct_of_stream_roof']['dsconv'] for r in rows]):.0f}%** (geometric mean); "
            f"rows at or above 60%: {count(rows)} ({per_batch}).")


def fastest_torch_line(rows: list[dict]) -> str:
    """dsconv against the faster of PyTorch's two layouts on each row (the fastest unfused PyTorch sequence):
    geometric mean per batch size and overall, and how many rows fall below 1.2x and 1x."""
    ratios = {id(r): min(r["times_s"]["torch_nchw"], r["times_s"]["torch_cl"]) / r["times_s"]["dsconv"] for r in rows}
    per_batch = ", ".join(f"batch {b} {geomean([ratios[id(r)] for r in rows if r['batch'] == b]):.2f}x"
                          for b in sorted({r["batch"] for r in rows}))
    values = list(ratios.values())
    return (f"Against the faster PyTorch layout of each row (medians): **{geomean(values):.2f}x** ({per_batch}); "
            f"{sum(v < 1.2 for v in values)} of {len(values)} rows below 1.2x, {sum(v < 1 for v in values)} below 1x.")


def floor_line(rows: list[dict], floor_s: float) -> str:
    """Which rows no single parallel call can bring to 60% of the roof: those whose roofline time is below
    60% of ``floor_s``, the time of an empty parallel call measured in the same run."""
    out_of_reach = [r for r in rows if r["roof_s"] < 0.6 * floor_s]
    rest = [r for r in rows if r["roof_s"] >= 0.6 * floor_s]
    return (f"Launch floor in this run (an empty 2-thread Numba parallel call from Python, median): "
            f"{floor_s * 1e6:.1f} us. {len(out_of_reach)} of {len(rows)} rows have a roofline time below 60% of it, "
            f"so no implementation that makes one such call can reach 60% of their roof; of the other {len(rest)}, "
            f"{sum(r['pct_of_roof']['dsconv'] >= 60 for r in rest)} are at or above 60%.")


def model_table(rows: list[dict], title: str) -> str:
    impls = list(rows[0]["times_s"]) if rows else []
    bf16 = any(r.get("max_abs_diff_bf16") is not None for r in rows)
    head = ["model", "N", "res", "width", *[f"{k} ms" for k in impls], *[f"x vs {k}" for k in impls if k != "dsconv"],
            *[f"x vs {k} (best)" for k in impls if k != "dsconv"], "max abs diff (max abs y)",
            *(["max abs diff bf16: dsconv (PyTorch)"] if bf16 else [])]
    lines = [f"### {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["model"], r["batch"], r["resolution"], r["width"], *[_ms(r["times_s"][k]) for k in impls],
                 *[f"{r['speedup'][k]:.2f}" for k in impls if k != "dsconv"],
                 *[f"{r['speedup_best'][k]:.2f}" for k in impls if k != "dsconv"], f"{r['max_abs_diff']:.1e} ({r.get('max_abs_output', float('nan')):.1e})"]
        if bf16:
            cells.append("-" if r.get("max_abs_diff_bf16") is None
                         else f"{r['max_abs_diff_bf16']:.1e} ({r['max_abs_diff_torch_bf16']:.1e})")
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def bf16_lines(rows: list[dict]) -> str:
    """Per row with bfloat16 columns: ``dsconv_bf16``'s speed-up over PyTorch's bfloat16 model and over
    every float32 implementation (the float32 figures above are the issue's; these compute in bfloat16)."""
    rows = [r for r in rows if "dsconv_bf16" in r["times_s"]]
    if not rows:
        return ""
    lines = ["", "bfloat16 (`dsconv.optimize(model, dtype=torch.bfloat16)`; outputs differ from float32 by the "
                 "last column above, PyTorch's bfloat16 model's difference in brackets). Speed-up of dsconv_bf16:", ""]
    for r in rows:
        t = r["times_s"]
        others = {"torch_eager_bf16_cl": "torch_eager_bf16_cl", "dsconv": "dsconv (float32)",
                  "onnxruntime": "onnxruntime (float32)"}
        lines.append(f"- {r['model']} N={r['batch']}: {_ms(t['dsconv_bf16'])} ms; "
                     + ", ".join(f"{t[k] / t['dsconv_bf16']:.2f}x vs {name}" for k, name in others.items() if k in t))
    return "\n".join(lines) + "\n"


def env_line(env: dict) -> str:
    return ("Environment: " + ", ".join(f"{k} {v}" for k, v in env.items()) + ".\n")


def write_section(out_dir: Path, name: str, markdown: str, data: dict) -> Path:
    """Store one section's Markdown and JSON under ``out_dir/results`` and rebuild ``RESULTS.md``."""
    folder = out_dir / "results"
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / f"{name}.md", markdown)
    atomic_write_text(folder / f"{name}.json", json.dumps(data, indent=1) + "\n")
    return write_results(out_dir)


def write_results(out_dir: Path) -> Path:
    parts = [(out_dir / "results" / f"{s}.md") for s in SECTIONS]
    header = (out_dir / "HEADER.md").read_text(encoding="utf-8") if (out_dir / "HEADER.md").is_file() else "# dsconv benchmarks\n"
    body = "\n".join(p.read_text(encoding="utf-8") for p in parts if p.is_file())
    return atomic_write_text(out_dir / "RESULTS.md", header + "\n" + body)


def plot_layers(rows: list[dict], path: Path, title: str) -> Path:
    """Bar chart of dsconv's speed-up over each implementation per layer shape (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    impls = [k for k in rows[0]["times_s"] if k != "dsconv"]
    labels = [f"{r['family'][-2:]} N{r['batch']} {r['channels']}@{r['size']} s{r['stride']}" for r in rows]
    fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(rows)), 4))
    width = 0.8 / len(impls)
    for i, k in enumerate(impls):
        ax.bar([j + i * width for j in range(len(rows))], [r["speedup"][k] for r in rows], width, label=f"vs {k}")
    ax.axhline(1.0, color="black", lw=0.8)
    ax.set_yscale("log")
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(rows))], labels, rotation=90, fontsize=7)
    ax.set_ylabel("dsconv speed-up (x)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path


def plot_scaling(rows: list[dict], path: Path) -> Path:
    """Model time vs batch, resolution and width for each implementation (three panels)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
    panels = (("batch", lambda r: r["resolution"] == 224 and r["width"] == 1.0),
              ("resolution", lambda r: r["batch"] == 1 and r["width"] == 1.0),
              ("width", lambda r: r["batch"] == 1 and r["resolution"] == 224))
    for ax, (key, keep) in zip(axes, panels):
        sel = sorted([r for r in rows if keep(r)], key=lambda r: r[key]) or sorted(rows, key=lambda r: r[key])
        for impl in sel[0]["times_s"] if sel else []:
            ax.plot([r[key] for r in sel], [r["times_s"][impl] * 1e3 for r in sel], marker="o", label=impl)
        ax.set_xlabel(key)
        ax.set_ylabel("ms per forward")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path
