"""Measure this machine's roofs: DRAM and cache bandwidth (parallel copy) and matrix-product FLOP/s."""

from __future__ import annotations

import datetime
import platform

import numba as nb
import numpy as np
from numba import njit, prange

from dsconv.kernels._codegen import _wide_vectors
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


@njit(cache=True, nogil=True, fastmath=True)
def _sum(a, lo, hi):  # pragma: no cover
    """``a[lo:hi].sum()`` (unsigned indices, so that the loop vectorises; 512-bit vectors where the CPU has
    them)."""
    _wide_vectors()
    s = np.float32(0.0)
    for i in range(nb.uint64(lo), nb.uint64(hi)):
        s += a[i]
    return s


@njit(cache=True, nogil=True, fastmath=True)
def _fill(a, lo, hi, value):  # pragma: no cover
    """``a[lo:hi] = value`` (unsigned indices, so that the loop vectorises; 512-bit vectors)."""
    _wide_vectors()
    for i in range(nb.uint64(lo), nb.uint64(hi)):
        a[i] = value


@njit(cache=True, nogil=True, fastmath=True)
def _move(dst, d0, src, s0, n):  # pragma: no cover
    """``dst[d0:d0 + n] = src[s0:s0 + n]`` (unsigned indices, 512-bit vectors)."""
    _wide_vectors()
    for i in range(nb.uint64(n)):
        dst[nb.uint64(d0) + i] = src[nb.uint64(s0) + i]


@njit(parallel=True, cache=True, nogil=True, fastmath=True)
def _stream(a, b, dst, chunks):  # pragma: no cover
    """Read every element of ``a`` and ``b`` and write every element of ``dst`` (flat float32) in ``chunks``
    parallel tasks. Each task copies the start of its share of ``a`` into its share of ``dst`` (as far as both
    go), sums the rest of its shares of ``a`` and ``b``, and fills the rest of its share of ``dst`` with the
    sum, so that every byte is moved once and no read can be skipped."""
    na, nb_, nd = a.shape[0], b.shape[0], dst.shape[0]
    for k in prange(chunks):
        a0, a1 = k * na // chunks, (k + 1) * na // chunks
        d0, d1 = k * nd // chunks, (k + 1) * nd // chunks
        m = min(a1 - a0, d1 - d0)
        _move(dst, d0, a, a0, m)
        s = _sum(a, a0 + m, a1) + _sum(b, k * nb_ // chunks, (k + 1) * nb_ // chunks)
        _fill(dst, d0 + m, d1, s)


def stream(a: np.ndarray, b: np.ndarray, dst: np.ndarray):
    """A zero-argument callable that reads all of ``a`` and ``b`` and writes all of ``dst`` (C-contiguous
    float32 arrays of any shape, used in place) in one parallel call of 64 tasks, as a layer reads its input
    and weights and writes its output.

    Timed among a layer's implementations, on the layer's own input arrays, its median is the *stream roof*:
    what this machine takes to move the layer's bytes, from where they are at that point of the rounds (L2,
    the last-level cache or DRAM), launch cost included. The machine file's two levels (L2 and DRAM) miss
    the last-level cache between them, which on this VM holds tens of MiB at about twice DRAM's bandwidth
    (the machine section's copy curve; ``benchmarks/NOTES.md``).
    """
    for name, v in (("a", a), ("b", b), ("dst", dst)):
        if not (v.dtype == np.float32 and v.flags.c_contiguous):
            raise ValueError(f"`{name}` must be a C-contiguous float32 array (it is read or written in place). "
                             f"Received dtype={v.dtype}, contiguous={v.flags.c_contiguous}")
    flat_a, flat_b, out = a.reshape(-1), b.reshape(-1), dst.reshape(-1)
    return lambda: _stream(flat_a, flat_b, out, 64)


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


CURVE_MIB = (0.5, 2, 4, 8, 16, 32, 64, 128, 256)  # footprints (source + destination) of the bandwidth curve


def bandwidth_curve(footprints_mib: tuple[float, ...] = CURVE_MIB, repeats: int = 9) -> dict[float, float]:
    """GB/s of a parallel copy per footprint (source + destination, MiB): where the caches end. The machine
    file keeps two levels (a 256 KiB copy for the cache, 512 MiB for DRAM); this shows the levels between."""
    return {mib: copy_bandwidth(int(mib * (1 << 20)) // 2, repeats) for mib in footprints_mib}


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
