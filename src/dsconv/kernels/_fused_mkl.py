"""The one-region fused separable block (``matmul="mkl"``): one parallel Numba call per block.

Each chunk of output rows (a contiguous range of the depthwise forward's tasks) is computed by the depthwise
row helpers into the chunk's own tile, multiplied by the packed pointwise weight with MKL's
``cblas_sgemm_compute`` on the calling worker (MKL set to one thread for that thread) straight into the
chunk's output rows, and given the pointwise bias and activation while those rows are in the core's cache.
So the depthwise output never leaves the core that wrote it, and the cores pass from the depthwise stage to the
product without leaving the parallel region (where the two-stage block hands them from Numba's pool to
oneDNN's). Chunks are sized so that a tile stays within about 1 MiB and there are at least as many chunks as
threads; :class:`OneRegionPlan` fixes them per input shape, and packs the weight once. A chunk's tile is its
worker's (one per thread, ``numba.get_thread_id()``), so a worker reuses one tile, still in its cache, for
all its chunks, and the tiles of one call take at most threads x 1 MiB.

Measured against the two-stage oneDNN block (``benchmarks/NOTES.md``): 1.27x and 1.29x on the MobileNetV1
and V2 blocks at batch 1 (no block slower), 1.06x and 1.05x at batch 8; slower (down to 0.74x) at batch 8 on
the early blocks with many pixels and few channels, which therefore keep the two-stage product
(:func:`prefers_two_stages`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

from dsconv.kernels import _cl, _memory, _mkl
from dsconv.kernels._cl import _bias_act_row, _forward_task, _task_rows
from dsconv.kernels.depthwise import Problem

U = numba.uint64
_OPTS = _cl._OPTS
TILE_BYTES = 1 << 20  # per chunk: measured 1.00-1.04x the 256 KiB and 4 MiB tiles' geometric means
# the two-stage product stays where it measured faster: few channels and many pixels (see the module docstring)
_TWO_STAGE_CHANNELS = 144
_TWO_STAGE_PIXELS = 6272


def prefers_two_stages(channels: int, pixels: int) -> bool:
    """Whether a block with ``channels`` depthwise output channels and ``pixels`` output pixels (batch
    included) keeps the two-stage product: the one-region block measured slower there."""
    return channels <= _TWO_STAGE_CHANNELS and pixels >= _TWO_STAGE_PIXELS


@intrinsic
def _sgemm_compute(typingctx, fn, m, n, k, a, b_packed, c):
    """``c[:m, :n] = a[:m, :k] @ B`` with MKL's ``cblas_sgemm_compute`` at address ``fn``: row-major float32,
    ``B`` packed by :func:`dsconv.kernels._mkl.pack`; ``a``, ``b_packed`` and ``c`` are addresses, the leading
    dimensions ``k`` and ``n``."""
    sig = types.void(types.intp, types.intp, types.intp, types.intp, types.intp, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        i32, f32 = ir.IntType(32), ir.FloatType()
        f32p = f32.as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [i32, i32, i32, i32, i32, i32, f32p, i32, f32p, i32, f32, f32p, i32])
        fn_ptr = builder.inttoptr(args[0], fnty.as_pointer())
        m32, n32, k32 = (builder.trunc(v, i32) for v in args[1:4])
        a_ptr, b_ptr, c_ptr = (builder.inttoptr(v, f32p) for v in args[4:7])
        const = lambda value: ir.Constant(i32, value)  # noqa: E731
        builder.call(fn_ptr, [const(_mkl.ROW_MAJOR), const(_mkl.NO_TRANS), const(_mkl.PACKED), m32, n32, k32,
                              a_ptr, k32, b_ptr, n32, ir.Constant(f32, 0.0), c_ptr, n32])
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _set_mkl_threads(typingctx, fn, count):
    """MKL's thread count for the calling thread (``mkl_serv_set_num_threads_local`` at address ``fn``; 0 goes
    back to the global setting); returns the previous one."""
    sig = types.intp(types.intp, types.intp)

    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        fn_ptr = builder.inttoptr(args[0], ir.FunctionType(i32, [i32]).as_pointer())
        return builder.sext(builder.call(fn_ptr, [builder.trunc(args[1], i32)]), ir.IntType(64))

    return sig, codegen


@njit(parallel=True, **_OPTS)
def fused_forward(x, w, b, g, bounds, tiles, b_packed, pw_bias, out, act_dw, act_pw, fn_compute,  # pragma: no cover
                  fn_threads):
    """One fused block. x ``(N, 1, H, W*C)`` float32, w ``(1, kh, kw*C)``, b ``(C,)`` (the depthwise bias),
    g the depthwise geometry (:func:`dsconv.kernels._cl._geometry`), bounds ``(chunks + 1,)`` task indices,
    tiles ``(threads, rows * Wo * C)`` (one per worker, at least ``numba.get_num_threads()``), b_packed the
    packed ``(C, C_out)`` weight, pw_bias ``(C_out,)``, out ``(N * Ho * Wo, C_out)`` (overwritten)."""
    xf, wf, of = x.reshape(-1), w.reshape(-1), out.reshape(-1)
    Wo, C = g[7], g[4]
    WoC = Wo * C
    n_out = out.shape[1]
    b_ptr = b_packed.ctypes.data
    out_ptr = out.ctypes.data
    for k in prange(bounds.shape[0] - 1):
        t0, t1 = bounds[k], bounds[k + 1]
        tile = tiles[numba.get_thread_id()]  # a worker runs its chunks one after another
        first, _ = _task_rows(t0, g)
        last, count = _task_rows(t1 - 1, g)
        for task in range(t0, t1):
            _forward_task(tile, first * WoC, xf, wf, b, task, g, act_dw)
        m = (last + count - first) * Wo
        previous = _set_mkl_threads(fn_threads, 1)
        _sgemm_compute(fn_compute, m, n_out, C, tile.ctypes.data, b_ptr, out_ptr + first * Wo * n_out * 4)
        _set_mkl_threads(fn_threads, previous)
        for r in range(m):
            _bias_act_row(of, U((first * Wo + r) * n_out), pw_bias, n_out, act_pw, True)


@dataclass
class OneRegionPlan:
    """The chunks, tiles and packed weight of one input shape (float32, 2-D, depthwise multiplier 1 or more)."""

    geometry: tuple
    bounds: np.ndarray  # (chunks + 1,) task indices
    tile_size: int  # elements of the largest chunk's tile: rows * Wo * C * M
    b_packed: np.ndarray
    out_rows: int
    out_channels: int
    functions: tuple[int, int]

    @classmethod
    def prepare(cls, p: Problem, w_cl: np.ndarray, dw_bias: np.ndarray, pw_t: np.ndarray, threads: int,
                tile_bytes: int = TILE_BYTES) -> OneRegionPlan:
        """Chunks for ``threads`` workers: at least one per thread, each tile at most ``tile_bytes`` (or one
        task), the tasks split evenly; ``pw_t`` is the ``(C * M, C_out)`` pointwise weight."""
        out_shape = np.lib.stride_tricks.as_strided(  # only its shape is read
            np.zeros(1, np.float32), (p.batch, p.out_size[0], p.out_size[1], p.out_size[2] * p.out_channels), (0,) * 4)
        x_shape = np.lib.stride_tricks.as_strided(
            np.zeros(1, np.float32), (p.batch, p.spatial[0], p.spatial[1], p.spatial[2] * p.out_channels), (0,) * 4)
        g = _cl._geometry(x_shape, w_cl, dw_bias, out_shape, p.stride, p.pads, p.dilation)
        tasks = g[0] * g[5] * g[23]
        row_bytes = p.out_size[2] * p.out_channels * 4
        task_bytes = g[22] * row_bytes
        per_thread = -(-tasks // threads) * task_bytes
        chunks = min(tasks, threads * max(1, -(-per_thread // tile_bytes)))
        bounds = np.array([k * tasks // chunks for k in range(chunks + 1)], np.int64)
        ends = [sum(_task_rows(bounds[k + 1] - 1, g)) for k in range(chunks)]  # first row + count of the last task
        rows = max(ends[k] - _task_rows(bounds[k], g)[0] for k in range(chunks))
        pixels_per_chunk = rows * p.out_size[2]
        return cls(g, bounds, pixels_per_chunk * p.out_channels, _mkl.pack(pw_t, pixels_per_chunk),
                   p.batch * p.out_size[1] * p.out_size[2], pw_t.shape[1], _mkl.addresses())

    def run(self, x_cl: np.ndarray, w_cl: np.ndarray, dw_bias: np.ndarray, pw_bias: np.ndarray, act_dw: int,
            act_pw: int) -> np.ndarray:
        """The block on ``x_cl`` ``(N, 1, H, W * C * M)`` float32: ``(N * H_out * W_out, C_out)``. The output and
        the tiles (one per worker) are allocated per call, so that one module may run in several Python threads
        at once."""
        out = _memory.empty((self.out_rows, self.out_channels), np.float32)
        tiles = _memory.empty((numba.get_num_threads(), self.tile_size), np.float32)
        fused_forward(x_cl, w_cl, dw_bias, self.geometry, self.bounds, tiles, self.b_packed, pw_bias, out, act_dw,
                      act_pw, *self.functions)
        return out
