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


def _data_pointer_attributes(ir: str, name: str, array: str) -> str:
    """The attributes LLVM gives the data pointer of argument ``array`` in the definition of ``name``."""
    define = next(line for line in ir.splitlines() if line.startswith("define") and name in line and "cpython" not in line
                  and "cfunc" not in line)
    arg = next(a for a in define.split("(", 1)[1].split(", ") if a.endswith(f"%arg.{array}.4"))
    return arg


def test_helpers_that_restrict_mark_their_float_data_pointers_noalias():
    pair = _fresh(_cl._rows_3x3_pair)
    c, w_in = 3, 7
    x = np.arange(4 * w_in * c, dtype=np.float32)
    w, b = np.ones(9 * c, np.float32), np.zeros(c, np.float32)
    out = np.zeros(2 * (w_in - 2) * c, np.float32)
    pair(out, U(0), (w_in - 2) * c, x, U(0), w_in * c, w, b, c, 0, w_in - 2, 0)
    rows = x.reshape(4, w_in, c)
    for r in range(2):
        np.testing.assert_allclose(out.reshape(2, -1, c)[r],
                                   sum(rows[r + i, j:j + w_in - 2] for i in range(3) for j in range(3)))
    ir = pair.inspect_llvm(pair.signatures[0])
    for array in ("of", "xf", "wf", "b"):
        assert "noalias" in _data_pointer_attributes(ir, "_rows_3x3_pair", array)


def test_a_helper_without_restrict_leaves_its_pointers_unmarked():
    border = _fresh(_cl._pixel_border)
    c = 4
    out, x, w = np.zeros(c, np.float32), np.ones(3 * c, np.float32), np.ones(3 * c, np.float32)
    border(out, U(0), x, U(0), w, U(0), c, 1, 3, 3, 1, 1, 1)
    np.testing.assert_allclose(out, 3.0)
    ir = border.inspect_llvm(border.signatures[0])
    assert "noalias" not in _data_pointer_attributes(ir, "_pixel_border", "of")
