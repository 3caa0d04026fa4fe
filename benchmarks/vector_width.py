"""256- vs 512-bit vectors for the depthwise 3x3 row loop: the same Numba loop compiled twice, once with
``dsconv.kernels._cl._wide_vectors()`` (LLVM's ``"prefer-vector-width"="512"``), timed single-threaded on
data that stay in cache (one call runs the loop many times, so no call overhead is counted).

    .venv/bin/python benchmarks/vector_width.py
"""

from __future__ import annotations

import time

import numba
import numpy as np
from numba import njit

from dsconv.kernels import _memory
from dsconv.kernels._cl import _wide_vectors

U = numba.uint64


def make(wide: bool):
    """A row loop (one output per pass, nine taps) and a driver that runs it ``reps`` times over a tile."""

    @njit(fastmath=True)
    def row(of, o0, xf, a, bb, cc, wf, b, uC, n, stride_c):  # pragma: no cover
        if wide:
            _wide_vectors()
        t1 = uC
        t2, t3, t4, t5 = t1 + uC, t1 + t1 + uC, t1 * U(4), t1 * U(5)
        t6, t7, t8 = t1 * U(6), t1 * U(7), t1 * U(8)
        for u in range(n):
            o, s = o0 + u * uC, u * stride_c
            pa, pb, pc = a + s, bb + s, cc + s
            for c in range(uC):
                of[o + c] = (b[c] + wf[c] * xf[pa + c] + wf[t1 + c] * xf[pa + t1 + c] + wf[t2 + c] * xf[pa + t2 + c]
                             + wf[t3 + c] * xf[pb + c] + wf[t4 + c] * xf[pb + t1 + c] + wf[t5 + c] * xf[pb + t2 + c]
                             + wf[t6 + c] * xf[pc + c] + wf[t7 + c] * xf[pc + t1 + c] + wf[t8 + c] * xf[pc + t2 + c])

    @njit(fastmath=True)
    def run(xf, wf, b, of, C, W, Ho, Wo, reps, s):  # pragma: no cover
        uC = U(C)
        for _ in range(reps):
            for oh in range(Ho):
                r0 = U(oh * s * W * C)
                row(of, U(oh * Wo * C), xf, r0, r0 + U(W * C), r0 + U(2 * W * C), wf, b, uC, U(Wo), U(s) * uC)

    return run


def main() -> None:
    rng = np.random.default_rng(0)
    variants = {"256-bit (LLVM default)": make(False), "512-bit (_wide_vectors)": make(True)}
    for c, ho, s in [(32, 8, 1), (128, 8, 1), (512, 8, 1), (128, 8, 2), (512, 8, 2)]:
        h = (ho - 1) * s + 3
        x = _memory.copy(rng.standard_normal(h * h * c, dtype=np.float32))
        w = _memory.copy(rng.standard_normal(9 * c, dtype=np.float32))
        b = _memory.zeros(c, np.float32)
        reps = max(1, int(2e8 / (18 * ho * ho * c)))
        cells, outs = [], []
        for name, f in variants.items():
            o = _memory.empty(ho * ho * c, np.float32)
            f(x, w, b, o, c, h, ho, ho, 1, s)
            outs.append(o.copy())
            best = float("inf")
            for _ in range(3):
                t0 = time.perf_counter()
                f(x, w, b, o, c, h, ho, ho, reps, s)
                best = min(best, time.perf_counter() - t0)
            cells.append(f"{name} {18 * ho * ho * c * reps / best / 1e9:.1f} GFLOP/s")
        assert np.array_equal(outs[0], outs[1]) or np.allclose(outs[0], outs[1], rtol=1e-5, atol=1e-5)
        print(f"C={c} output {ho}x{ho} stride {s}: " + ", ".join(cells))


if __name__ == "__main__":
    main()
