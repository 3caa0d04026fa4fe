"""Measure this machine's roofs: DRAM and cache bandwidth (parallel copy) and matrix-product FLOP/s."""

from __future__ import annotations

import datetime
import platform

import numba as nb
import numpy as np
from numba import njit, prange

from dsconv.kernels.bench.report import cpu_model
from dsconv.kernels.bench.timing import interleaved


@njit(parallel=True, cache=True, nogil=True)
def _copy(src, dst, reps):  # pragma: no cover
    """``reps`` copies of ``src`` into ``dst`` (flat float32) in one parallel region: each task copies its own
    slice ``reps`` times, so a cache-sized slice stays in the copying core's cache."""
    n = src.shape[0]
    chunks = 64
    for k in prange(chunks):
        lo, hi = k * n // chunks, (k + 1) * n // chunks
        for _ in range(reps):
            dst[lo:hi] = src[lo:hi]


@njit(parallel=True, cache=True, nogil=True)
def _empty_region(a):  # pragma: no cover
    """A parallel region with one trivial task per thread: what any parallel kernel call costs at least."""
    for k in prange(a.shape[0]):
        a[k] += 1.0


def launch_floor(repeats: int = 2000) -> float:
    """Median seconds of one call from Python of an empty Numba parallel region (one task per thread).

    No parallel kernel call returns faster; it depends on the OpenMP wait policy in force (sleeping workers
    must be woken), so it is measured in the same process as the timings it qualifies.
    """
    a = np.zeros(nb.get_num_threads())
    return interleaved({"empty": lambda: _empty_region(a)}, repeats=repeats, warmup=20)["empty"]


def copy_bandwidth(nbytes: int, repeats: int) -> float:
    """GB/s of a parallel copy of ``nbytes`` (counting read + write), median of ``repeats``."""
    n = max(1024, nbytes // 4)
    src = np.random.default_rng(0).random(n, dtype=np.float32)
    dst = np.empty_like(src)
    reps = max(1, int(64e6 // (2 * nbytes)))  # amortise the call overhead for small (cache-resident) sizes
    t = interleaved({"copy": lambda: _copy(src, dst, reps)}, repeats=repeats)["copy"]
    return 2 * 4 * n * reps / t / 1e9


def matmul_gflops(n: int, repeats: int) -> float:
    """GFLOP/s of an ``n x n`` fp32 matrix product with PyTorch (2 n^3 FLOPs)."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    out = torch.empty(n, n)
    t = interleaved({"mm": lambda: torch.mm(a, b, out=out)}, repeats=repeats)["mm"]
    return 2 * n**3 / t / 1e9


def measure_machine(*, quick: bool = False):
    """Measure the roofs and return a :class:`dsconv.cost.roofline.Machine`.

    Args:
        quick: small sizes and few repeats (a smoke run, not a measurement).

    Returns:
        ``Machine(dram_gbs, peak_gflops, cache_gbs, name, source)``.
    """
    import torch

    from dsconv.cost.roofline import Machine

    repeats = 3 if quick else 15
    dram = copy_bandwidth(32 << 20 if quick else 512 << 20, repeats)
    cache = copy_bandwidth(256 << 10, repeats)  # 2 x 256 KiB per call: resident in L2
    peak = matmul_gflops(256 if quick else 2048, repeats)
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    source = (
        f"dsconv bench --machine{' --quick' if quick else ''} ({when}): parallel copy of "
        f"{'32 MiB' if quick else '512 MiB'} (DRAM) and 256 KiB (cache), torch.mm {256 if quick else 2048}^2 fp32; "
        f"{nb.get_num_threads()} Numba threads, {torch.get_num_threads()} torch threads"
    )
    name = f"{platform.node() or 'machine'} ({cpu_model()})"
    return Machine(dram_gbs=_round(dram), peak_gflops=_round(peak), cache_gbs=_round(cache), name=name, source=source)


def _round(value: float) -> float:
    """Three significant digits (a loaded machine can measure below 0.1)."""
    return float(f"{value:.3g}")
