"""One-row vs two-row register blocking of the 3x3 stride-1 depthwise loop, with and without ``noalias``.

The same four-pixel pass is compiled four ways: one output row (18 input loads for 36 FMAs, as
``dsconv.kernels._cl._quad_s1``) or two (24 loads for 72 FMAs, as ``_cl._rows_3x3_pair``), each with and
without ``dsconv.kernels._cl._restrict`` (the float data pointers marked ``noalias``). Each call runs the
interior of every output row ``reps`` times inside one parallel loop, so no launch cost is counted; the data
are the MobileNet shapes (batch 1 and 8). Prints GFLOP/s, best of several calls.

    .venv/bin/python benchmarks/row_blocking.py [--threads 1 2]
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np
from numba import njit, prange

from dsconv.kernels import _memory
from dsconv.kernels._cl import _restrict, _wide_vectors

U = numba.uint64
OPTS = {"fastmath": True, "nogil": True}
# (batch, channels, output height = width)
SHAPES = [(1, 32, 112), (1, 128, 56), (1, 256, 28), (1, 512, 14), (8, 32, 112), (8, 128, 56), (8, 256, 28)]


def make(restrict: bool, pair: bool):
    """A parallel driver over output rows (or pairs of rows) calling a noinline four-pixel pass."""

    @njit(**OPTS)
    def quad(of, o, xf, pa, pb, pc, wf, b, uC):  # pragma: no cover
        _wide_vectors()
        if restrict:
            _restrict()
        k1, k2, k3, k4, k5 = uC, uC + uC, uC * U(3), uC * U(4), uC * U(5)
        k6, k7, k8 = uC * U(6), uC * U(7), uC * U(8)
        for c in range(uC):
            w0, w1, w2, w3, w4 = wf[c], wf[k1 + c], wf[k2 + c], wf[k3 + c], wf[k4 + c]
            w5, w6, w7, w8 = wf[k5 + c], wf[k6 + c], wf[k7 + c], wf[k8 + c]
            a0, a1, a2 = xf[pa + c], xf[pa + k1 + c], xf[pa + k2 + c]
            a3, a4, a5 = xf[pa + k3 + c], xf[pa + k4 + c], xf[pa + k5 + c]
            b0, b1, b2 = xf[pb + c], xf[pb + k1 + c], xf[pb + k2 + c]
            b3, b4, b5 = xf[pb + k3 + c], xf[pb + k4 + c], xf[pb + k5 + c]
            c0, c1, c2 = xf[pc + c], xf[pc + k1 + c], xf[pc + k2 + c]
            c3, c4, c5 = xf[pc + k3 + c], xf[pc + k4 + c], xf[pc + k5 + c]
            bias = b[c]
            of[o + c] = bias + w0 * a0 + w1 * a1 + w2 * a2 + w3 * b0 + w4 * b1 + w5 * b2 + w6 * c0 + w7 * c1 + w8 * c2
            of[o + k1 + c] = (bias + w0 * a1 + w1 * a2 + w2 * a3 + w3 * b1 + w4 * b2 + w5 * b3
                              + w6 * c1 + w7 * c2 + w8 * c3)
            of[o + k2 + c] = (bias + w0 * a2 + w1 * a3 + w2 * a4 + w3 * b2 + w4 * b3 + w5 * b4
                              + w6 * c2 + w7 * c3 + w8 * c4)
            of[o + k3 + c] = (bias + w0 * a3 + w1 * a4 + w2 * a5 + w3 * b3 + w4 * b4 + w5 * b5
                              + w6 * c3 + w7 * c4 + w8 * c5)

    @njit(**OPTS)
    def octet(of, o, oo, xf, pa, pb, pc, pd, wf, b, uC):  # pragma: no cover
        _wide_vectors()
        if restrict:
            _restrict()
        k1, k2, k3, k4, k5 = uC, uC + uC, uC * U(3), uC * U(4), uC * U(5)
        k6, k7, k8 = uC * U(6), uC * U(7), uC * U(8)
        for c in range(uC):
            w0, w1, w2, w3, w4 = wf[c], wf[k1 + c], wf[k2 + c], wf[k3 + c], wf[k4 + c]
            w5, w6, w7, w8 = wf[k5 + c], wf[k6 + c], wf[k7 + c], wf[k8 + c]
            a0, a1, a2 = xf[pa + c], xf[pa + k1 + c], xf[pa + k2 + c]
            a3, a4, a5 = xf[pa + k3 + c], xf[pa + k4 + c], xf[pa + k5 + c]
            b0, b1, b2 = xf[pb + c], xf[pb + k1 + c], xf[pb + k2 + c]
            b3, b4, b5 = xf[pb + k3 + c], xf[pb + k4 + c], xf[pb + k5 + c]
            c0, c1, c2 = xf[pc + c], xf[pc + k1 + c], xf[pc + k2 + c]
            c3, c4, c5 = xf[pc + k3 + c], xf[pc + k4 + c], xf[pc + k5 + c]
            d0, d1, d2 = xf[pd + c], xf[pd + k1 + c], xf[pd + k2 + c]
            d3, d4, d5 = xf[pd + k3 + c], xf[pd + k4 + c], xf[pd + k5 + c]
            bias = b[c]
            of[o + c] = bias + w0 * a0 + w1 * a1 + w2 * a2 + w3 * b0 + w4 * b1 + w5 * b2 + w6 * c0 + w7 * c1 + w8 * c2
            of[o + k1 + c] = (bias + w0 * a1 + w1 * a2 + w2 * a3 + w3 * b1 + w4 * b2 + w5 * b3
                              + w6 * c1 + w7 * c2 + w8 * c3)
            of[o + k2 + c] = (bias + w0 * a2 + w1 * a3 + w2 * a4 + w3 * b2 + w4 * b3 + w5 * b4
                              + w6 * c2 + w7 * c3 + w8 * c4)
            of[o + k3 + c] = (bias + w0 * a3 + w1 * a4 + w2 * a5 + w3 * b3 + w4 * b4 + w5 * b5
                              + w6 * c3 + w7 * c4 + w8 * c5)
            of[oo + c] = bias + w0 * b0 + w1 * b1 + w2 * b2 + w3 * c0 + w4 * c1 + w5 * c2 + w6 * d0 + w7 * d1 + w8 * d2
            of[oo + k1 + c] = (bias + w0 * b1 + w1 * b2 + w2 * b3 + w3 * c1 + w4 * c2 + w5 * c3
                               + w6 * d1 + w7 * d2 + w8 * d3)
            of[oo + k2 + c] = (bias + w0 * b2 + w1 * b3 + w2 * b4 + w3 * c2 + w4 * c3 + w5 * c4
                               + w6 * d2 + w7 * d3 + w8 * d4)
            of[oo + k3 + c] = (bias + w0 * b3 + w1 * b4 + w2 * b5 + w3 * c3 + w4 * c4 + w5 * c5
                               + w6 * d3 + w7 * d4 + w8 * d5)

    @njit(parallel=True, **OPTS)
    def run(xf, wf, b, of, n, c, w, ho, reps):  # pragma: no cover
        uC, wc, quads = U(c), U(w * c), U((w - 2) // 4)
        step = 2 if pair else 1
        for t in prange(n * (ho // step)):
            img, oh = t // (ho // step), (t % (ho // step)) * step
            r0 = U(img * (ho + 2) + oh) * wc
            o = U(img * ho + oh) * wc
            for _ in range(reps):
                for q in range(quads):
                    s = q * U(4) * uC
                    if pair:
                        octet(of, o + s, o + wc + s, xf, r0 + s, r0 + wc + s, r0 + wc + wc + s, r0 + wc * U(3) + s,
                              wf, b, uC)
                    else:
                        quad(of, o + s, xf, r0 + s, r0 + wc + s, r0 + wc + wc + s, wf, b, uC)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    variants = {f"{'two rows' if pair else 'one row'}{', noalias' if restrict else ''}": make(restrict, pair)
                for pair in (False, True) for restrict in (False, True)}
    rng = np.random.default_rng(0)
    for threads in args.threads:
        numba.set_num_threads(threads)
        for n, c, h in SHAPES:
            w = h + 2
            x = _memory.copy(rng.standard_normal(n * (h + 2) * w * c, dtype=np.float32))
            wt = _memory.copy(rng.standard_normal(9 * c, dtype=np.float32))
            b = _memory.zeros(c, np.float32)
            flops = 18 * n * h * ((w - 2) // 4) * 4 * c
            reps = max(1, int(1e8 / flops)) if n == 1 else 1
            cells, outs = [], []
            for name, run in variants.items():
                o = _memory.zeros(n * h * w * c, np.float32)
                run(x, wt, b, o, n, c, w, h, 1)
                outs.append(o)
                best = float("inf")
                for _ in range(7 if n == 1 else 15):
                    t0 = time.perf_counter()
                    run(x, wt, b, o, n, c, w, h, reps)
                    best = min(best, time.perf_counter() - t0)
                cells.append(f"{name} {flops * reps / best / 1e9:.0f}")
            for o in outs[1:]:
                np.testing.assert_allclose(o, outs[0], rtol=1e-4, atol=1e-4)
            print(f"threads {threads}, N={n} {h}x{h}x{c} (GFLOP/s): " + ", ".join(cells))


if __name__ == "__main__":
    main()
