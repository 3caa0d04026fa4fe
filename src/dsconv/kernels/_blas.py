"""NumPy's BLAS threads around the fused block's matrix products (``matmul="numpy"``).

OpenBLAS keeps its idle threads spinning for ``2**OPENBLAS_THREAD_TIMEOUT`` cycles after each call (28 by
default: about 0.1 s here), read once when the library loads. A fused block alternates a Numba parallel kernel
and a product, so spinning BLAS threads take the cores from the next kernel: the nine MobileNetV1 blocks at
batch 1 took 80 ms with two spinning BLAS threads and 10.5 ms with the product on one thread, while with
``OMP_WAIT_POLICY=PASSIVE OPENBLAS_THREAD_TIMEOUT=4`` two threads were faster (6.3 ms against 10.5;
``benchmarks/fused_stages.py`` under both settings, columns ``fused_2_blas_threads`` and
``fused_1_blas_thread``). :func:`blas_for_fused_products` therefore runs the product on one BLAS thread unless
the environment makes idle BLAS threads sleep. Other BLAS builds (MKL, Accelerate) and a missing
``threadpoolctl`` leave the thread count alone.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager

# 2**8 cycles: idle threads go to sleep almost at once
_SLEEPING_TIMEOUT = 8


def blas_threads_spin() -> bool:
    """Whether NumPy's OpenBLAS threads spin after a call: ``OPENBLAS_THREAD_TIMEOUT`` unset, unparsable or above 8."""
    value = os.environ.get("OPENBLAS_THREAD_TIMEOUT")
    try:
        return value is None or int(value) > _SLEEPING_TIMEOUT
    except ValueError:
        return True


@functools.lru_cache(maxsize=1)
def _numpy_openblas():
    """threadpoolctl's controller of the OpenBLAS that NumPy loaded, or None."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl is part of the [kernels] install
        return None
    import numpy  # noqa: F401  (loads NumPy's BLAS, so the controller can see it)

    libs = ThreadpoolController().select(internal_api="openblas").lib_controllers
    own = [lib for lib in libs if "numpy" in lib.filepath]
    return (own or libs or [None])[0]


@contextmanager
def blas_for_fused_products() -> Iterator[None]:
    """Run the enclosed NumPy products on one OpenBLAS thread when idle BLAS threads would spin (restored after)."""
    lib = _numpy_openblas() if blas_threads_spin() else None
    if lib is None:
        yield
        return
    threads = lib.get_num_threads()
    lib.set_num_threads(1)
    try:
        yield
    finally:
        lib.set_num_threads(threads)
