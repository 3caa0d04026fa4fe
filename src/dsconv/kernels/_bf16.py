"""bfloat16 for the Numba kernels: arrays of ``uint16`` holding bfloat16 bit patterns.

NumPy and Numba have no bfloat16 type, but a bfloat16 is the upper half of a float32, so the kernels read it
with a 16-bit shift and a bit cast (exact) and write it with round-to-nearest-even on the float32 bits, as
PyTorch does. Both vectorise (shifts, adds and selects on integer lanes). Arithmetic is float32 throughout:
the kernels load bfloat16 inputs, accumulate in float32 and round each output once.

- :func:`load` ``(a, i)``: ``a[i]`` as a float (float arrays as they are, ``uint16`` arrays as bfloat16);
- :func:`store_row` ``(dst, start, src, src_start, n)``: ``dst[start:start + n] = round(src[src_start:][:n])``
  (float32 -> bfloat16 bits);
- :func:`to_bits` / :func:`from_bits`: the same conversions for whole NumPy arrays, outside the kernels.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

from dsconv.kernels._codegen import _restrict, _wide_vectors

U32 = nb.uint32
_OPTS = {"cache": True, "fastmath": True, "nogil": True}


@intrinsic
def _f32_from_bits(typingctx, bits):
    """The float32 whose bit pattern is the low 32 bits of the unsigned integer ``bits``."""
    if not isinstance(bits, types.Integer) or bits.signed:
        return None

    def codegen(context, builder, signature, args):
        value = args[0]
        if bits.bitwidth > 32:
            value = builder.trunc(value, ir.IntType(32))
        elif bits.bitwidth < 32:
            value = builder.zext(value, ir.IntType(32))
        return builder.bitcast(value, ir.FloatType())

    return types.float32(bits), codegen


def load(a: np.ndarray, i: int) -> float:
    """``a[i]`` as a float: float arrays as they are, ``uint16`` arrays as bfloat16 bit patterns (widened to
    float32 exactly). This Python version serves callers outside Numba; jitted code uses the overload below."""
    if a.dtype == np.uint16:
        return np.array([int(a[i]) << 16], np.uint32).view(np.float32)[0]
    return a[i]


@overload(load, inline="always")
def _load_impl(a, i):
    if isinstance(a, types.Array) and a.dtype == types.uint16:
        def impl(a, i):  # pragma: no cover
            return _f32_from_bits(U32(a[i]) << U32(16))

        return impl
    if isinstance(a, types.Array) and isinstance(a.dtype, types.Float):
        def impl(a, i):  # pragma: no cover
            return a[i]

        return impl
    return None


@intrinsic
def round_bits(typingctx, value):
    """Round a float32 to bfloat16 (nearest, ties to even) and return its 16 bits as a ``uint32``; a NaN stays
    a (quiet) NaN. Branch-free and in 32-bit integers throughout (Numba's own integer arithmetic widens
    ``uint32`` operands to 64 bits, which halves the lanes of the vectorised loops that call this: 2.9
    against about 6 rounded elements per ns single-threaded in cache, ``benchmarks/NOTES.md``)."""
    if value != types.float32:
        return None

    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        u = builder.bitcast(args[0], i32)
        high = builder.lshr(u, ir.Constant(i32, 16))
        # u + 0x7FFF + (bit 16 of u): cannot wrap for a non-NaN float (at most 0xFF808000)
        rounded = builder.lshr(builder.add(builder.add(u, ir.Constant(i32, 0x7FFF)),
                                           builder.and_(high, ir.Constant(i32, 1))), ir.Constant(i32, 16))
        quiet_nan = builder.or_(high, ir.Constant(i32, 0x40))
        is_nan = builder.icmp_unsigned(">", builder.and_(u, ir.Constant(i32, 0x7FFFFFFF)), ir.Constant(i32, 0x7F800000))
        return builder.select(is_nan, quiet_nan, rounded)

    return types.uint32(types.float32), codegen


@njit(**_OPTS)
def store_row(dst, start, src, src_start, n):  # pragma: no cover
    """``dst[start:start + n] = bfloat16(src[src_start:src_start + n])`` for a ``uint16`` ``dst`` and a
    float32 ``src``."""
    _wide_vectors()
    _restrict()
    for e in range(n):
        dst[start + e] = nb.uint16(round_bits(np.float32(src[src_start + e])))


@njit(parallel=True, **_OPTS)
def _to_bits(src, dst):  # pragma: no cover
    n = src.shape[0]
    for e in nb.prange(n):
        dst[e] = nb.uint16(round_bits(np.float32(src[e])))


@njit(parallel=True, **_OPTS)
def _from_bits(src, dst):  # pragma: no cover
    n = src.shape[0]
    for e in nb.prange(n):
        dst[e] = load(src, e)


def to_bits(a: np.ndarray) -> np.ndarray:
    """float32 array -> ``uint16`` array of its bfloat16 roundings (same shape)."""
    src = np.ascontiguousarray(a, dtype=np.float32)
    dst = np.empty(src.shape, np.uint16)
    _to_bits(src.reshape(-1), dst.reshape(-1))
    return dst


def from_bits(a: np.ndarray) -> np.ndarray:
    """``uint16`` array of bfloat16 bit patterns -> float32 array (exact; same shape)."""
    if a.dtype != np.uint16:
        raise TypeError(f"`a` must hold bfloat16 bit patterns as uint16. Received dtype={a.dtype}")
    src = np.ascontiguousarray(a)
    dst = np.empty(src.shape, np.float32)
    _from_bits(src.reshape(-1), dst.reshape(-1))
    return dst
