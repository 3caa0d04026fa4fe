"""FLOPs vs wall-clock: the theoretical separable/standard ratio beside the measured time ratio.

For every distinct layer shape of MobileNet v1 (Howard et al. 2017, Table 1), a dense 3x3 convolution
is timed against depthwise 3x3 + pointwise 1x1 (PyTorch's own kernels, and dsconv's depthwise kernel
when present), interleaved, with medians. The FLOP ratio is ``1/C_out + 1/k^2``; the measured ratio is
larger because the depthwise stage does few FLOPs per byte (memory-bound) while a dense convolution is
compute-bound: the roofline of :mod:`dsconv.cost.roofline` predicts how much.
"""

from __future__ import annotations

import contextlib
import dataclasses
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from dsconv._validation import check_positive
from dsconv.experiments._common import Progress, report, summary, torch_threads

NAME = "flops_vs_wallclock"
TITLE = "FLOPs vs wall-clock on MobileNet layer shapes"
DESCRIPTION = (
    "Per MobileNet v1 layer shape: the theoretical separable/standard cost ratio 1/C_out + 1/k^2 beside the "
    "measured time ratio on this machine (medians of interleaved runs) and the roofline prediction."
)
# MobileNet v1's depthwise-separable layers at 224 x 224: (C_in, C_out, stride, input side); the five
# identical 512 -> 512 layers at 14 x 14 are one shape here.
MOBILENET_V1_SHAPES = (
    (32, 64, 1, 112), (64, 128, 2, 112), (128, 128, 1, 56), (128, 256, 2, 56), (256, 256, 1, 28),
    (256, 512, 2, 28), (512, 512, 1, 14), (512, 1024, 2, 14), (1024, 1024, 1, 7),
)
KERNEL_SIZE = 3


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings (defaults: quick, at 128 x 128; full is the paper's 224 x 224)."""

    resolution: int = 128  # MobileNet input side (Table 7 lists 128); layer sides scale with it
    batch_size: int = 1
    repeats: int = 7  # interleaved timing rounds per layer; medians are reported
    warmup: int = 2
    dsconv_kernels: bool = True  # also time dsconv.kernels' depthwise when it supports the shape
    machine: str = "this-2core-zen4"  # a dsconv.cost.roofline preset for the prediction
    machine_cores: int = 2  # cores the preset's peak is for; the peak is scaled to `threads` of them
    threads: int = 1  # torch threads: tiny models run fastest on one, and timings stay comparable
    seed: int = 0

    @classmethod
    def full(cls) -> Config:
        """The paper's resolution, more rounds."""
        return cls(resolution=224, repeats=25, warmup=3)

    def __post_init__(self) -> None:
        for name in ("resolution", "batch_size", "repeats", "machine_cores"):
            check_positive(getattr(self, name), name)
        if self.resolution % 32:
            raise ValueError(f"`resolution` must be a multiple of 32 (MobileNet's total stride). "
                             f"Received resolution={self.resolution}")


def layer_shapes(resolution: int) -> list[dict[str, int]]:
    """MobileNet v1's separable layer shapes at ``resolution``: ``c_in, c_out, stride, size``."""
    return [{"c_in": c_in, "c_out": c_out, "stride": s, "size": size * resolution // 224}
            for c_in, c_out, s, size in MOBILENET_V1_SHAPES]


def _callables(shape: dict[str, int], cfg: Config) -> dict[str, Callable[[], Any]]:
    """The timed operations on one shape: dense, depthwise, pointwise (and dsconv's depthwise)."""
    import torch
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(cfg.seed)
    c_in, c_out, s = shape["c_in"], shape["c_out"], shape["stride"]
    x = torch.randn(cfg.batch_size, c_in, shape["size"], shape["size"], generator=gen)
    w_dense = torch.randn(c_out, c_in, KERNEL_SIZE, KERNEL_SIZE, generator=gen)
    w_dw = torch.randn(c_in, 1, KERNEL_SIZE, KERNEL_SIZE, generator=gen)
    w_pw = torch.randn(c_out, c_in, 1, 1, generator=gen)
    mid = F.conv2d(x, w_dw, stride=s, padding=1, groups=c_in)
    ops = {
        "dense": lambda: F.conv2d(x, w_dense, stride=s, padding=1),
        "depthwise": lambda: F.conv2d(x, w_dw, stride=s, padding=1, groups=c_in),
        "pointwise": lambda: F.conv2d(mid, w_pw),
    }
    dsconv_dw = _dsconv_depthwise(x, w_dw, s) if cfg.dsconv_kernels else None
    if dsconv_dw is not None:
        ops["depthwise_dsconv"] = dsconv_dw
    return ops


def _dsconv_depthwise(x: Any, w: Any, stride: int) -> Callable[[], Any] | None:
    """dsconv's depthwise kernel on this shape, or None when it is absent or does not support it."""
    try:
        from dsconv.kernels import depthwise_conv_torch, supports
    except (ImportError, AttributeError):
        return None
    args = ((stride, stride), ((1, 1), (1, 1)), (1, 1))
    ok, _ = supports(x, w, *args)
    return (lambda: depthwise_conv_torch(x, w, None, *args)) if ok else None


def scaled_machine(cfg: Config) -> Any:
    """The roofline preset with its compute peak scaled to the threads the timings use.

    One thread cannot use the other cores' FMA units; memory bandwidth is kept (one core can draw most
    of it), so the prediction stays a lower bound on time.
    """
    from dsconv.cost.roofline import Machine

    preset = Machine.preset(cfg.machine)
    share = min(cfg.threads, cfg.machine_cores) / cfg.machine_cores
    return dataclasses.replace(preset, name=f"{preset.name} ({min(cfg.threads, cfg.machine_cores)} of "
                               f"{cfg.machine_cores} cores)", peak_gflops=preset.peak_gflops * share,
                               source=f"{preset.source}; peak scaled by {share:g} for the threads used")


def time_layer(shape: dict[str, int], cfg: Config) -> dict[str, list[float]]:
    """Seconds per op and round; rounds interleave the ops (rotating their order) so drift hits all alike."""
    import torch

    ops = _callables(shape, cfg)
    names = list(ops)
    samples: dict[str, list[float]] = {n: [] for n in names}
    with torch.inference_mode():
        for _ in range(cfg.warmup):
            for name in names:
                ops[name]()
        for r in range(cfg.repeats):
            for name in names[r % len(names):] + names[: r % len(names)]:
                start = time.perf_counter()
                ops[name]()
                samples[name].append(time.perf_counter() - start)
    return samples


def _roofline(shape: dict[str, int], cfg: Config, machine: Any) -> dict[str, Any]:
    """Analytic FLOPs, bytes and roofline bound times of the dense, depthwise and pointwise layers."""
    from dsconv.cost.layers import conv_cost, depthwise_cost, pointwise_cost
    from dsconv.cost.roofline import layer_bound

    size = (shape["size"], shape["size"])
    common = {"stride": shape["stride"], "padding": 1, "bias": False, "batch_size": cfg.batch_size}
    dense = conv_cost(shape["c_in"], shape["c_out"], KERNEL_SIZE, size, **common)
    dw = depthwise_cost(shape["c_in"], KERNEL_SIZE, size, **common)
    pw = pointwise_cost(shape["c_in"], shape["c_out"], dw.output_shape[1:], bias=False, batch_size=cfg.batch_size)
    out = {}
    for name, cost in (("dense", dense), ("depthwise", dw), ("pointwise", pw)):
        bound = max(layer_bound(cost.flops, cost.bytes_total, machine))
        out[name] = {"flops": cost.flops, "bytes": cost.bytes_total, "intensity": cost.intensity,
                     "bound_s": bound}
    return out


def run(cfg: Config, progress: Progress = None) -> dict[str, Any]:
    """Time every layer shape and put measured, FLOP and roofline ratios side by side.

    Returns:
        ``{"layers": [{..., "flop_ratio", "measured_ratio", "roofline_ratio", "gflops": {...}}],
        "machine": {...}, "verdict": ...}``.
    """
    threads = check_positive(cfg.threads, "threads")
    with torch_threads(threads), numba_threads(threads):
        return _run(cfg, progress)


@contextlib.contextmanager
def numba_threads(threads: int) -> Iterator[None]:
    """Run dsconv's Numba kernels on ``threads`` threads too (if Numba is installed), as torch does.

    Otherwise a parallel kernel waits for a second thread that, on a busy 2-core machine, may not be
    scheduled for a whole time slice, and the comparison with torch is not like for like.
    """
    try:
        import numba
    except ImportError:
        yield
        return
    previous = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def _run(cfg: Config, progress: Progress) -> dict[str, Any]:
    import torch

    from dsconv.cost.formulas import cost_ratio

    machine = scaled_machine(cfg)
    shapes = layer_shapes(cfg.resolution)
    # Discarded pass: thread pools start, caches fill, and Numba compiles dsconv's kernel if present.
    for shape in shapes:
        time_layer(shape, dataclasses.replace(cfg, repeats=1, warmup=1))
    torch.set_num_threads(cfg.threads)  # Numba's threading layer may have changed torch's OpenMP count
    rows = []
    for i, shape in enumerate(shapes):
        report(progress, f"timing {shape['c_in']}->{shape['c_out']} at {shape['size']}px", i / len(shapes))
        samples = time_layer(shape, cfg)
        times = {name: statistics.median(v) for name, v in samples.items()}
        roof = _roofline(shape, cfg, machine)
        row = _row(shape, times, roof, cost_ratio(shape["c_out"], KERNEL_SIZE))
        # Spread: the ratio within each interleaved round, over the rounds.
        row["measured_ratio_rounds"] = summary([(d + p) / s for d, p, s in
                                                zip(samples["depthwise"], samples["pointwise"], samples["dense"])])
        rows.append(row)
    report(progress, "timing: done", 1.0)
    return {"resolution": cfg.resolution, "threads": torch.get_num_threads(), "torch": torch.__version__,
            "machine": dataclasses.asdict(machine), "ridge_point": machine.ridge_point(), "layers": rows,
            **_verdict(rows)}


def _row(shape: dict[str, int], times: dict[str, float], roof: dict[str, Any], flop_ratio: float) -> dict[str, Any]:
    sep = times["depthwise"] + times["pointwise"]
    row = {**shape, "kernel_size": KERNEL_SIZE, "times_s": times, "flop_ratio": float(flop_ratio),
           "measured_ratio": sep / times["dense"],
           "roofline_ratio": (roof["depthwise"]["bound_s"] + roof["pointwise"]["bound_s"]) / roof["dense"]["bound_s"],
           "depthwise_time_share": times["depthwise"] / sep,
           "depthwise_flop_share": roof["depthwise"]["flops"] / (roof["depthwise"]["flops"] + roof["pointwise"]["flops"]),
           "roofline": roof,
           "gflops": {k: roof[k]["flops"] / times[k] / 1e9 for k in ("dense", "depthwise", "pointwise")}}
    if "depthwise_dsconv" in times:
        row["measured_ratio_dsconv"] = (times["depthwise_dsconv"] + times["pointwise"]) / times["dense"]
    return row


def _verdict(rows: list[dict[str, Any]]) -> dict[str, Any]:
    med = statistics.median
    gaps = [r["measured_ratio"] / r["flop_ratio"] for r in rows]
    roof_gaps = [r["roofline_ratio"] / r["flop_ratio"] for r in rows]
    # How close each op gets to its own roofline bound (1.0 = at the roof).
    at_roof = {op: med(r["roofline"][op]["bound_s"] / r["times_s"][op] for r in rows)
               for op in ("dense", "depthwise", "pointwise")}
    slower = sum(g > 1 for g in gaps)
    holds = slower > len(rows) / 2
    claim = ("The measured separable/standard time ratio is larger than the FLOP ratio 1/C_out + 1/k^2, because "
             "depthwise layers are memory-bound.")
    gf = {op: med(r["gflops"][op] for r in rows) for op in ("dense", "depthwise", "pointwise")}
    why = ("The slow depthwise stage outweighs the rest, so the separable layer saves less time than FLOPs."
           if holds else
           "The dense 3x3 convolution is itself far from its roof while the pointwise GEMM is efficient; that "
           "outweighs the slow depthwise stage, so here the separable layer saves more time than FLOPs.")
    measured = (
        f"measured/FLOP ratio: median {med(gaps):.2f}x over {len(rows)} shapes (above 1 on {slower}); the roofline "
        f"predicts {med(roof_gaps):.2f}x. Depthwise takes a median {med(r['depthwise_time_share'] for r in rows):.0%} "
        f"of the separable time for {med(r['depthwise_flop_share'] for r in rows):.0%} of its FLOPs, at "
        f"{gf['depthwise']:.1f} GFLOP/s with {med(r['roofline']['depthwise']['intensity'] for r in rows):.2f} FLOP/byte "
        f"(below the ridge point: memory-bound), {at_roof['depthwise']:.0%} of its roofline bound. Dense runs at "
        f"{gf['dense']:.1f} GFLOP/s ({at_roof['dense']:.0%} of its bound), pointwise at {gf['pointwise']:.1f} "
        f"({at_roof['pointwise']:.0%}). {why}")
    return {"claim": claim, "measured": measured, "holds": bool(holds), "median_gap": float(med(gaps)),
            "median_roofline_gap": float(med(roof_gaps)), "fraction_of_roofline": at_roof,
            "verdict": ("HOLDS: " if holds else "DOES NOT HOLD: ") + measured}


def plot(result: dict[str, Any], out_dir: Path) -> list[Path]:
    """Theoretical, roofline and measured ratios per layer; throughput per op."""
    from dsconv.viz import plot_ratio_bars

    return [plot_ratio_bars(result, Path(out_dir) / "flops_vs_wallclock.png")]
