"""Fair timing: warm-up, interleaved implementations, medians, retained allocator memory.

Implementations are timed in rounds, one call of each per round in a rotating order, so that a burst of
load from other processes hits all of them alike; the median over rounds is reported and ratios are taken
within the run. glibc's default ``malloc`` returns large blocks to the OS, so every call that allocates its
output touches fresh pages (about 3 us per 4 KiB on the reference machine); :func:`retain_freed_memory`
asks glibc to keep freed memory instead, which is what a long-running inference server sees.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import statistics
import time
from collections.abc import Callable

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3


def retain_freed_memory() -> str:
    """Set glibc's mmap and trim thresholds to 1 GiB (freed memory is reused); returns the setting as text."""
    name = ctypes.util.find_library("c")
    if name is None:
        return "system allocator defaults (glibc not found)"
    libc = ctypes.CDLL(name)
    if not hasattr(libc, "mallopt"):
        return "system allocator defaults (no mallopt)"
    big = 1 << 30
    ok = libc.mallopt(M_MMAP_THRESHOLD, big) == 1 and libc.mallopt(M_TRIM_THRESHOLD, big) == 1
    return "glibc malloc, M_MMAP_THRESHOLD=M_TRIM_THRESHOLD=1 GiB (freed memory reused)" if ok else "glibc defaults"


def interleaved(fns: dict[str, Callable[[], object]], *, repeats: int, warmup: int = 2) -> dict[str, float]:
    """Median seconds per call of each function, timed in rotating interleaved rounds.

    Args:
        fns: name -> zero-argument callable.
        repeats: timed rounds (each calls every function once).
        warmup: untimed calls of each function first.

    Returns:
        name -> median seconds.
    """
    return {name: statistics.median(v) for name, v in samples(fns, repeats=repeats, warmup=warmup).items()}


def median_and_best(fns: dict[str, Callable[[], object]], *, repeats: int, warmup: int = 2) -> tuple[dict, dict]:
    """``(medians, minima)`` in seconds from one interleaved run (the minimum is the least load-disturbed)."""
    s = samples(fns, repeats=repeats, warmup=warmup)
    return {k: statistics.median(v) for k, v in s.items()}, {k: min(v) for k, v in s.items()}


def samples(fns: dict[str, Callable[[], object]], *, repeats: int, warmup: int = 2) -> dict[str, list[float]]:
    """Seconds of every timed call, per function, from rotating interleaved rounds."""
    names = list(fns)
    for name in names:
        for _ in range(warmup):
            fns[name]()
    out: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for k in range(len(names)):
            name = names[(r + k) % len(names)]
            t0 = time.perf_counter()
            fns[name]()
            out[name].append(time.perf_counter() - t0)
    return out


def consecutive_median(fn: Callable[[], object], *, calls: int = 30, warmup: int = 2) -> float:
    """Median seconds per call over ``calls`` consecutive calls of ``fn`` after ``warmup`` untimed ones (the
    steady state of one implementation alone, caches warm; what the scripts in ``benchmarks/`` use)."""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)
