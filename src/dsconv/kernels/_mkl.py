"""MKL's packed single-precision matrix product, for the one-region fused block (``matmul="mkl"``).

PyTorch's x86 builds link MKL statically into ``libtorch_cpu`` and export its CBLAS entry points; this module
finds them there (no second copy of MKL, nothing to install), so it is available exactly where those symbols
are: :func:`available`. The pointwise weight is packed once (``cblas_sgemm_pack``), and each Numba worker
multiplies its own rows with ``cblas_sgemm_compute`` after setting MKL's thread count for the calling thread
to one (``mkl_serv_set_num_threads_local``: the C name ``mkl_set_num_threads_local`` is the Fortran entry in
this build and takes a pointer). :mod:`dsconv.kernels._fused_mkl` calls the two through their addresses.
"""

from __future__ import annotations

import ctypes
import functools
import os

import numpy as np

# CBLAS constants (mkl_cblas.h)
ROW_MAJOR, NO_TRANS, PACKED, B_MATRIX = 101, 111, 151, 162
_SYMBOLS = ("cblas_sgemm_pack_get_size", "cblas_sgemm_pack", "cblas_sgemm_compute", "mkl_serv_set_num_threads_local")


@functools.cache
def _library() -> ctypes.CDLL | None:
    """PyTorch's ``libtorch_cpu`` with MKL's packed-product symbols, or None."""
    try:
        import torch
    except ImportError:  # pragma: no cover - dsconv.kernels is used without torch only through NumPy
        return None
    path = os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so")
    try:
        lib = ctypes.CDLL(path)
    except OSError:  # pragma: no cover - other platforms name the library differently
        return None
    if not all(hasattr(lib, name) for name in _SYMBOLS):  # pragma: no cover - builds without MKL (ARM, macOS)
        return None
    lib.cblas_sgemm_pack_get_size.restype = ctypes.c_size_t
    lib.cblas_sgemm_pack_get_size.argtypes = [ctypes.c_int] * 4
    lib.cblas_sgemm_pack.restype = None
    lib.cblas_sgemm_pack.argtypes = ([ctypes.c_int] * 6
                                     + [ctypes.c_float, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p])
    lib.mkl_serv_set_num_threads_local.restype = ctypes.c_int
    lib.mkl_serv_set_num_threads_local.argtypes = [ctypes.c_int]
    return lib


def available() -> bool:
    """Whether MKL's packed product can be reached through this PyTorch build."""
    return _library() is not None


def addresses() -> tuple[int, int]:
    """``(cblas_sgemm_compute, mkl_serv_set_num_threads_local)`` as integers, for the Numba kernel."""
    lib = _library()
    if lib is None:
        raise RuntimeError("MKL's packed product is not available in this PyTorch build")
    return (ctypes.cast(lib.cblas_sgemm_compute, ctypes.c_void_p).value,
            ctypes.cast(lib.mkl_serv_set_num_threads_local, ctypes.c_void_p).value)


def pack(b: np.ndarray, rows: int) -> np.ndarray:
    """``b`` ``(K, N)`` float32 packed by MKL as the right operand of products with about ``rows`` rows (the
    size MKL tunes the layout for; any row count works), on one thread as the products run. The buffer must
    not be copied: MKL's layout refers to its own address."""
    lib = _library()
    if lib is None:
        raise RuntimeError("MKL's packed product is not available in this PyTorch build")
    b = np.ascontiguousarray(b, dtype=np.float32)
    k, n = b.shape
    buf = np.empty(lib.cblas_sgemm_pack_get_size(B_MATRIX, rows, n, k), np.uint8)
    previous = lib.mkl_serv_set_num_threads_local(1)
    try:
        lib.cblas_sgemm_pack(ROW_MAJOR, B_MATRIX, NO_TRANS, rows, n, k, 1.0, b.ctypes.data, n, buf.ctypes.data)
    finally:
        lib.mkl_serv_set_num_threads_local(previous)
    return buf
