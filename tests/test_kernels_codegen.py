"""The code-generation requests of the Numba kernels are in the compiled code (no timing here).

The kernels are cached on disk, and a helper loaded from the cache has no LLVM IR to inspect, so the tests
compile fresh, uncached copies of the functions.
"""

from __future__ import annotations

import numba
import numpy as np

from dsconv.kernels import _cl

U = numba.uint64


def _fresh(fn):
    return numba.njit(fastmath=True)(fn.py_func)


def test_row_helpers_request_512_bit_vectors_and_stay_out_of_line():
    rows_3x3 = _fresh(_cl._rows_3x3)
    c, w_in = 8, 6
    x = np.arange(3 * w_in * c, dtype=np.float32)
    w, b, out = np.ones(9 * c, np.float32), np.zeros(c, np.float32), np.zeros((w_in - 2) * c, np.float32)
    rows_3x3(out, U(0), x, U(0), U(w_in * c), U(2 * w_in * c), w, b, c, 0, w_in - 2, 1, 1, 0)
    expected = x.reshape(3, w_in, c)
    np.testing.assert_allclose(out.reshape(-1, c), sum(expected[:, j:j + w_in - 2].sum(0) for j in range(3)))
    ir = rows_3x3.inspect_llvm(rows_3x3.signatures[0])
    assert '"prefer-vector-width"="512"' in ir and "noinline" in ir


def test_a_function_without_the_request_keeps_llvm_defaults():
    interior = _fresh(_cl.interior_range)
    assert interior(4, 4, 3, 1, 1, 1) == (1, 3)
    assert "prefer-vector-width" not in interior.inspect_llvm(interior.signatures[0])
