"""Layout conversions between channels-first ``(N, C, *spatial)`` and channels-last ``(N, *spatial, C)`` arrays.

Both directions swap the last two axes of an ``(N, R, K)`` view, tile by tile in a parallel Numba loop (tiles
of about 4096 elements, whose rows read and columns written stay in L1; see :func:`tiles`). On this machine's
MobileNet shapes of 1.2 MB and more, PyTorch's ``contiguous(memory_format=...)`` took 1.1-1.9x longer and
NumPy's copy of the transposed view up to 5x (``benchmarks/layout.py``), and every channels-first tensor that
reaches the channels-last kernels is converted on the way in and its result on the way out.

Two to four channels (an RGB or RGBA image, a stereo signal) go through a per-pixel loop instead, whose
stores (to channels-last) or loads (back) of one pixel's channels are unrolled: one 3x224x224 image took 36 us
against 168 us for PyTorch's copy (``benchmarks/layout.py``; 21 us on one thread, 95 us for the tiles, in a
throwaway loop, ``benchmarks/NOTES.md``). It runs on one thread up to ``SERIAL_MAX`` elements, where a
parallel call would cost more than it saves.

Arrays of other dtypes than float32, float64 and 16-bit integers (bfloat16 bits), non-contiguous ones, and
small ones (where a parallel call costs more than the copy) are converted by NumPy.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba import njit, prange

from dsconv.kernels import _memory
from dsconv.kernels._cl import _OPTS
from dsconv.kernels._codegen import _restrict

U = nb.uint64
_KERNEL_DTYPES = frozenset(np.dtype(t) for t in (np.float32, np.float64, np.uint16, np.int16))
PARALLEL_MIN = 1 << 17  # elements: below this NumPy's copy is used (it measured as fast or faster there)
_FEW = 16  # fewer rows or columns than this: the inner loop runs along the rows read (see _tile)
_PIXEL_CHANNELS = (2, 3, 4)  # channel counts converted pixel by pixel (see _pixels)
SERIAL_MAX = 160_000  # elements: up to this the pixel loop runs on one thread (throwaway loop: 3x224x224 21 us on
# one thread against 28 us on two; 4x224x224 58 against 37)
_PIXEL_CHUNK = 16384  # pixels per task of the parallel pixel loop


@njit(**_OPTS)
def _tile(of, xf, base, R, K, r0, r1, k0, k1, few):  # pragma: no cover
    """``out[k, r] = x[r, k]`` for ``r0 <= r < r1``, ``k0 <= k < k1`` of one ``(R, K)`` matrix at ``base``:
    the inner loop over ``r`` (contiguous stores, strided loads), or with ``few`` (fewer than 16 rows or
    columns) over ``k``: contiguous loads, and stores either ``R`` elements apart within a few cache lines or
    into ``K`` streams that each advance by one element per row."""
    _restrict()
    uR, uK = U(R), U(K)
    if few:
        for r in range(U(r0), U(r1)):
            xb = base + r * uK
            for k in range(U(k0), U(k1)):
                of[base + k * uR + r] = xf[xb + k]
        return
    for k in range(U(k0), U(k1)):
        ob = base + k * uR
        for r in range(U(r0), U(r1)):
            of[ob + r] = xf[base + r * uK + k]


@njit(parallel=True, **_OPTS)
def swap_last_two(x, out, tile_rows, tile_cols, few):  # pragma: no cover
    """``out[n, k, r] = x[n, r, k]``; x ``(N, R, K)`` and out ``(N, K, R)``, both C-contiguous; tiles of
    ``tile_rows x tile_cols``, loop order ``few`` (:func:`_tile`)."""
    N, R, K = x.shape
    xf, of = x.reshape(-1), out.reshape(-1)
    nr = (R + tile_rows - 1) // tile_rows
    nk = (K + tile_cols - 1) // tile_cols
    for t in prange(N * nr * nk):
        n = t // (nr * nk)
        i = (t - n * nr * nk) // nk
        j = t - n * nr * nk - i * nk
        r0, k0 = i * tile_rows, j * tile_cols
        _tile(of, xf, U(n * R * K), R, K, r0, min(R, r0 + tile_rows), k0, min(K, k0 + tile_cols), few)


@njit(inline="always", **_OPTS)
def _pixels(of, xf, base, C, K, k0, k1, to_last):  # pragma: no cover
    """Pixels ``k0 <= k < k1`` of one image at ``base`` with ``C`` (2 to 4) channels and ``K`` pixels: with
    ``to_last`` ``out[k, c] = x[c, k]`` (planes to pixels), else ``out[c, k] = x[k, c]``. Each case names its
    channel count, so that LLVM sees one pixel's channels as a group of adjacent elements and vectorises."""
    _restrict()
    uK = U(K)
    if C == 3:
        for k in range(U(k0), U(k1)):
            p = base + U(3) * k
            if to_last:
                of[p] = xf[base + k]
                of[p + U(1)] = xf[base + uK + k]
                of[p + U(2)] = xf[base + U(2) * uK + k]
            else:
                of[base + k] = xf[p]
                of[base + uK + k] = xf[p + U(1)]
                of[base + U(2) * uK + k] = xf[p + U(2)]
    elif C == 2:
        for k in range(U(k0), U(k1)):
            p = base + U(2) * k
            if to_last:
                of[p] = xf[base + k]
                of[p + U(1)] = xf[base + uK + k]
            else:
                of[base + k] = xf[p]
                of[base + uK + k] = xf[p + U(1)]
    else:
        for k in range(U(k0), U(k1)):
            p = base + U(4) * k
            if to_last:
                of[p] = xf[base + k]
                of[p + U(1)] = xf[base + uK + k]
                of[p + U(2)] = xf[base + U(2) * uK + k]
                of[p + U(3)] = xf[base + U(3) * uK + k]
            else:
                of[base + k] = xf[p]
                of[base + uK + k] = xf[p + U(1)]
                of[base + U(2) * uK + k] = xf[p + U(2)]
                of[base + U(3) * uK + k] = xf[p + U(3)]


@njit(**_OPTS)
def pixels_serial(x, out, C, K, to_last):  # pragma: no cover
    """:func:`_pixels` over every image of C-contiguous ``x`` and ``out`` (``N * C * K`` elements each), one
    thread."""
    xf, of = x.reshape(-1), out.reshape(-1)
    for n in range(xf.size // (C * K)):
        _pixels(of, xf, U(n * C * K), C, K, 0, K, to_last)


@njit(parallel=True, **_OPTS)
def pixels_parallel(x, out, C, K, to_last, chunk):  # pragma: no cover
    """:func:`pixels_serial` in parallel tasks of ``chunk`` pixels of one image."""
    xf, of = x.reshape(-1), out.reshape(-1)
    nc = (K + chunk - 1) // chunk
    for t in prange(xf.size // (C * K) * nc):
        n = t // nc
        k0 = (t - n * nc) * chunk
        _pixels(of, xf, U(n * C * K), C, K, k0, min(K, k0 + chunk), to_last)


def _by_pixels(x: np.ndarray, shape: tuple[int, ...], c: int, k: int, to_last: bool, wake: bool) -> np.ndarray:
    """C-contiguous ``x`` with ``c`` channels of ``k`` pixels per image -> a new aligned array of ``shape``
    (:func:`_pixels`); on one thread up to ``SERIAL_MAX`` elements unless ``wake``."""
    out = _memory.empty(shape, x.dtype)
    if x.size <= SERIAL_MAX and not wake:
        pixels_serial(x, out, c, k, to_last)
    else:
        pixels_parallel(x, out, c, k, to_last, _PIXEL_CHUNK)
    return out


def _by_pixel(x: np.ndarray, c: int) -> bool:
    return c in _PIXEL_CHANNELS and x.dtype in _KERNEL_DTYPES and x.flags.c_contiguous and x.size > 0


def tiles(r: int, k: int) -> tuple[int, int, bool]:
    """``(tile rows, tile columns, few)`` of an ``(r, k)`` swap: all rows by 512 columns for fewer than 16
    rows, with ``few``; all columns by 4096 / k rows for fewer than 16 columns (channels-last from fewer than
    16 pixels), also with ``few``; else 32 rows by 128 columns."""
    if r < _FEW:
        return r, 512, True
    if k < _FEW:
        return 4096 // k, k, True
    return 32, 128, False


def _swap(x: np.ndarray, n: int, r: int, k: int) -> np.ndarray:
    """C-contiguous ``x`` viewed as ``(n, r, k)`` -> a new aligned ``(n, k, r)`` array (flat shape kept by the
    caller)."""
    out = _memory.empty((n, k, r), x.dtype)
    swap_last_two(x.reshape(n, r, k), out, *tiles(r, k))
    return out


def _use_kernel(x: np.ndarray) -> bool:
    return x.dtype in _KERNEL_DTYPES and x.flags.c_contiguous and x.size >= PARALLEL_MIN


def to_channels_last(x: np.ndarray, wake: bool = False) -> np.ndarray:
    """``(N, C, *spatial)`` -> C-contiguous ``(N, *spatial, C)``: a view when ``x`` is a channels-last view
    already, else a new (64-byte aligned) array.

    ``wake``: convert 2-4 channels in parallel at any size, for a caller whose next step is a parallel call
    of PyTorch's (the same OpenMP workers, then awake). Before oneDNN's stem convolution of MobileNetV1 at
    batch 1 the parallel conversion + convolution took 364-400 us, the one-thread conversion + convolution
    429-460 us and PyTorch's conversion + convolution 431-458 us (throwaway script, interleaved blocks of 20
    calls; ``benchmarks/NOTES.md``)."""
    view = x.transpose(0, *range(2, x.ndim), 1)  # np.moveaxis's checks cost 4 us more per call
    if view.flags.c_contiguous:
        return view
    if _by_pixel(x, x.shape[1]):
        return _by_pixels(x, view.shape, x.shape[1], x[0, 0].size, True, wake)
    if not _use_kernel(x):
        return _memory.copy(view)
    return _swap(x, x.shape[0], x.shape[1], x[0, 0].size).reshape(view.shape)


def to_channels_first(x: np.ndarray) -> np.ndarray:
    """``(N, *spatial, C)`` -> C-contiguous ``(N, C, *spatial)``: a view when ``x`` is a channels-first view
    already, else a new (64-byte aligned) array."""
    view = x.transpose(0, x.ndim - 1, *range(1, x.ndim - 1))
    if view.flags.c_contiguous:
        return view
    if _by_pixel(x, x.shape[-1]):
        return _by_pixels(x, view.shape, x.shape[-1], x[0].size // x.shape[-1], False, False)
    # other counts below 16 channels: NumPy's copy (with 3 channels, before the pixel loop, it measured 2-4x
    # faster than the tiles, benchmarks/layout.py)
    if not _use_kernel(x) or x.shape[-1] < _FEW:
        return _memory.copy(view)
    return _swap(x, x.shape[0], x[0].size // x.shape[-1], x.shape[-1]).reshape(view.shape)
