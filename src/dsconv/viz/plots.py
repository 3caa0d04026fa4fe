"""Plots of experiment results. Each function draws only what a result dict holds and writes one PNG.

Args are the result (as returned by the experiment's ``run``) and the output path; every function
returns the path it wrote. Matplotlib runs on the Agg backend (no display).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dsconv.viz._mpl import color, pyplot, require, save

__all__ = [
    "plot_cost_bars",
    "plot_learning_curves",
    "plot_ratio_bars",
    "plot_shift_losses",
    "plot_spectra",
    "plot_variant_accuracy",
]

PathLike = str | os.PathLike[str]


def plot_learning_curves(result: dict[str, Any], path: PathLike) -> Path:
    """Test accuracy against training-set size, mean with a +/- 1 std band and every seed as a dot.

    Args:
        result: a ``sample_efficiency`` result (``sizes``, ``models[kind]["accuracy"]``, ``chance``).
        path: the PNG to write.

    Returns:
        ``path``.
    """
    require(result, ("sizes", "models"))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    sizes = np.asarray(result["sizes"], dtype=float)
    for kind, entry in result["models"].items():
        mean = np.array([a["mean"] for a in entry["accuracy"]])
        std = np.array([a["std"] for a in entry["accuracy"]])
        label = f"{kind} ({entry.get('params', '?')} params)"
        ax.plot(sizes, mean, "o-", color=color(kind), label=label)
        ax.fill_between(sizes, mean - std, mean + std, color=color(kind), alpha=0.2)
        for n, acc in zip(sizes, entry["accuracy"]):
            ax.scatter([n] * len(acc["values"]), acc["values"], s=8, color=color(kind), alpha=0.5)
    if "chance" in result:
        ax.axhline(result["chance"], color="grey", ls=":", label="majority class")
    ax.set(xscale="log", xlabel="training-set size", ylabel="test accuracy",
           title="Gratings and rings: accuracy vs samples (mean, +/-1 std, seeds)")
    ax.set_xticks(sizes, [str(int(n)) for n in sizes])
    ax.minorticks_off()
    ax.legend(fontsize=8)
    return save(fig, path)


def plot_shift_losses(result: dict[str, Any], path: PathLike) -> Path:
    """Training-loss curves (mean and min-max band over seeds) with the analytic rank-1 floor.

    Args:
        result: a ``shift_task`` result (``models[kind]["curve_mean"|"curve_min"|"curve_max"]``, ``floor``,
            ``steps``).
        path: the PNG to write.

    Returns:
        ``path``.
    """
    require(result, ("models", "floor", "steps"))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for kind, entry in result["models"].items():
        mean = np.maximum(np.asarray(entry["curve_mean"]), 1e-16)
        steps = np.linspace(1, result["steps"], len(mean))
        ax.plot(steps, mean, color=color(kind), label=kind)
        low, high = (np.maximum(np.asarray(entry[k]), 1e-16) for k in ("curve_min", "curve_max"))
        ax.fill_between(steps, low, high, color=color(kind), alpha=0.2)
    ax.axhline(result["floor"], color="black", ls="--", label=f"analytic rank-1 floor = {result['floor']:.3g}")
    ax.set(yscale="log", xlabel="Adam step", ylabel="training MSE",
           title="Shift task: loss curves (mean, min-max over seeds)")
    ax.legend(fontsize=8)
    return save(fig, path)


def plot_spectra(spectra: Mapping[str, Sequence[float]], path: PathLike, *, title: str = "Kernel-slice spectra") -> Path:
    """Singular values of kernel slices, one line per named kernel (a rank-1 slice has one non-zero).

    Args:
        spectra: name -> singular values (largest first), e.g. ``result["spectra"]`` of ``shift_task``.
        path: the PNG to write.
        title: the axes title.

    Returns:
        ``path``.
    """
    if not isinstance(spectra, Mapping) or not spectra:
        raise ValueError(f"`spectra` must be a non-empty mapping of name -> singular values. Received spectra={spectra!r}")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    for name, values in spectra.items():
        vals = np.maximum(np.asarray(values, dtype=float), 1e-12)
        ax.plot(np.arange(1, len(vals) + 1), vals, "o-", color=color(name), label=name)
    ax.set(yscale="log", xlabel="singular value index", ylabel="singular value", title=title)
    ax.set_xticks(range(1, max(len(v) for v in spectra.values()) + 1))
    ax.legend(fontsize=8)
    return save(fig, path)


def plot_variant_accuracy(result: dict[str, Any], path: PathLike) -> Path:
    """Accuracy per variant: bars of the mean, +/- 1 std error bars and every seed as a dot.

    Args:
        result: an ``early_late`` result (``variants[name]["accuracy"]``, ``chance``).
        path: the PNG to write.

    Returns:
        ``path``.
    """
    require(result, ("variants",))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    names = list(result["variants"])
    for i, name in enumerate(names):
        acc = result["variants"][name]["accuracy"]
        ax.bar(i, acc["mean"], yerr=acc["std"], color=color(name), alpha=0.7, capsize=4)
        ax.scatter([i] * len(acc["values"]), acc["values"], color="black", s=10, zorder=3)
    if "chance" in result:
        ax.axhline(result["chance"], color="grey", ls=":", label="chance")
        ax.legend(fontsize=8)
    ax.set_xticks(range(len(names)), [n.replace("_", "\n") for n in names])
    ax.set(ylabel="test accuracy", ylim=(0, 1), title="Early vs late separable layers")
    return save(fig, path)


def plot_ratio_bars(result: dict[str, Any], path: PathLike) -> Path:
    """Per layer: FLOP ratio, roofline ratio and measured time ratio (separable / standard), and throughput.

    Args:
        result: a ``flops_vs_wallclock`` result (``layers`` with ``flop_ratio``, ``roofline_ratio``,
            ``measured_ratio`` (min-max bars from ``measured_ratio_rounds`` when present), optional
            ``measured_ratio_dsconv``, ``gflops``).
        path: the PNG to write.

    Returns:
        ``path``.
    """
    require(result, ("layers",))
    plt = pyplot()
    rows = result["layers"]
    labels = [f"{r['c_in']}>{r['c_out']}\n{r['size']}px s{r['stride']}" for r in rows]
    series = [("flop_ratio", "FLOPs: 1/C_out + 1/k^2"), ("roofline_ratio", "roofline bound"),
              ("measured_ratio", "measured (torch)"), ("measured_ratio_dsconv", "measured (dsconv dw)")]
    series = [(k, lab) for k, lab in series if all(k in r for r in rows)]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9.0, 7.0))
    x = np.arange(len(rows))
    width = 0.8 / len(series)
    for j, (key, label) in enumerate(series):
        values = np.array([r[key] for r in rows])
        yerr = None
        if key == "measured_ratio" and all("measured_ratio_rounds" in r for r in rows):  # min-max over rounds
            low = np.array([r["measured_ratio_rounds"]["min"] for r in rows])
            high = np.array([r["measured_ratio_rounds"]["max"] for r in rows])
            yerr = np.vstack([np.maximum(values - low, 0), np.maximum(high - values, 0)])
        ax1.bar(x + (j - (len(series) - 1) / 2) * width, values, width, label=label, yerr=yerr, capsize=2)
    ax1.axhline(1.0, color="black", lw=0.8)
    ax1.set(yscale="log", ylabel="separable / standard", title="Cost ratio per MobileNet v1 layer shape")
    ax1.set_xticks(x, labels, fontsize=7)
    ax1.legend(fontsize=7)
    for j, op in enumerate(("dense", "depthwise", "pointwise")):
        ax2.bar(x + (j - 1) * 0.27, [r["gflops"][op] for r in rows], 0.27, label=op)
    ax2.set(yscale="log", ylabel="achieved GFLOP/s", title="Throughput: depthwise is memory-bound")
    ax2.set_xticks(x, labels, fontsize=7)
    ax2.legend(fontsize=7)
    return save(fig, path)


def plot_cost_bars(result: dict[str, Any], path: PathLike) -> Path:
    """Recomputed vs published MACs and parameters for every row of the MobileNet tables.

    Args:
        result: a ``mobilenet_tables`` result (``rows`` with ``table``, ``label``, ``macs_m``, ``params_m``,
            ``published_macs_m``, ``published_params_m``).
        path: the PNG to write.

    Returns:
        ``path``.
    """
    require(result, ("rows",))
    plt = pyplot()
    rows = result["rows"]
    labels = [f"T{r['table']}: {r['label']}" for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10.0, 0.35 * len(rows) + 1.6))
    y = np.arange(len(rows))
    for ax, key, unit in ((axes[0], "macs_m", "million mult-adds"), (axes[1], "params_m", "million parameters")):
        ax.barh(y - 0.2, [r[key] for r in rows], 0.4, label="recomputed (dsconv.cost)", color="#1f77b4")
        ax.barh(y + 0.2, [r[f"published_{key}"] for r in rows], 0.4, label="published (paper)", color="#bbbbbb")
        ax.set(xscale="log", xlabel=unit)
        ax.set_yticks(y, labels if ax is axes[0] else [""] * len(rows), fontsize=7)
        ax.invert_yaxis()
    axes[0].legend(fontsize=7)
    fig.suptitle("MobileNet v1, Tables 4, 6, 7: recomputed vs published")
    return save(fig, path)
