"""Time the stages of the fused separable block on the MobileNetV1 shapes (batch 1): the whole block with
NumPy's BLAS (as ``FusedSeparableParams.run`` picks its thread count, then forced to all BLAS threads and to
one), the depthwise kernel, NumPy's BLAS product, the bias + activation pass, and ``torch.addmm`` on the same
operands. Run it with and without ``OMP_WAIT_POLICY=PASSIVE OPENBLAS_THREAD_TIMEOUT=4``:

    OMP_WAIT_POLICY=PASSIVE OPENBLAS_THREAD_TIMEOUT=4 .venv/bin/python benchmarks/fused_stages.py [--batch N]
"""

from __future__ import annotations

import argparse

import numba
import numpy as np
import torch

from dsconv.kernels import _cl
from dsconv.kernels._blas import _numpy_openblas
from dsconv.kernels.bench.layers import V1_SEPARABLE
from dsconv.kernels.bench.timing import consecutive_median
from dsconv.kernels.fused import FusedSeparableParams


def _ms(f, reps: int = 30) -> float:
    return consecutive_median(f, calls=reps) * 1e3


def _two_threads(a, b, bias, out, act) -> None:
    """The NumPy product on all of OpenBLAS's threads, whatever the environment."""
    np.dot(a, b, out=out)
    _cl.bias_act(out, bias, act, True)


def _one_thread(a, b, bias, out, act) -> None:
    """The NumPy product on one OpenBLAS thread, whatever the environment (set and restored as
    ``dsconv.kernels._blas`` does it)."""
    lib = _numpy_openblas()
    threads = lib.get_num_threads()
    lib.set_num_threads(1)
    np.dot(a, b, out=out)
    lib.set_num_threads(threads)
    _cl.bias_act(out, bias, act, True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    numba.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    total: dict[str, float] = {}
    n = args.batch
    for c, c_out, h, s in V1_SEPARABLE:
        ho = (h + 2 - 3) // s + 1
        x = rng.standard_normal((n, h, h, c), dtype=np.float32)
        prm = FusedSeparableParams.prepare(
            (n, h, h, c), rng.standard_normal((c, 1, 3, 3), dtype=np.float32),
            rng.standard_normal((c_out, c, 1, 1), dtype=np.float32), np.zeros(c, np.float32),
            np.zeros(c_out, np.float32), s, 1, act_dw="relu", act_pw="relu")
        out = np.empty((n, ho, ho, c_out), np.float32)
        x_cl = x.reshape(n, 1, h, h * c)
        tile = np.empty((n, 1, ho, ho * c), np.float32)
        a, o = tile.reshape(-1, c), out.reshape(-1, c_out)
        at, bt, ot, bias = (torch.from_numpy(v) for v in (a, prm.pw_t, o, prm.pw_bias))
        row = {
            "fused": _ms(lambda: prm.run(x, out)),
            "fused_2_blas_threads": _ms(lambda: prm.run(x, out, _two_threads)),
            "fused_1_blas_thread": _ms(lambda: prm.run(x, out, _one_thread)),
            "depthwise": _ms(lambda: _cl.forward_act(x_cl, prm.w_cl, prm.dw_bias, tile, (1, s, s), (0, 1, 1), (1, 1, 1), 1)),
            "np.dot": _ms(lambda: np.dot(a, prm.pw_t, out=o)),
            "bias_act": _ms(lambda: _cl.bias_act(o, prm.pw_bias, 1, True)),
            "torch.addmm": _ms(lambda: torch.addmm(bias, at, bt, out=ot)),
        }
        for k, v in row.items():
            total[k] = total.get(k, 0.0) + v
        gflop = 2 * n * ho * ho * c * c_out / 1e6
        print(f"{c:5d}->{c_out:5d} {h:4d}x{h} s{s}: " + " ".join(f"{k} {v:.3f}" for k, v in row.items())
              + f" ms; np.dot {gflop / row['np.dot']:.0f} GFLOP/s, addmm {gflop / row['torch.addmm']:.0f}")
    print("sum over the 9 shapes (ms): " + ", ".join(f"{k} {v:.2f}" for k, v in total.items()))


if __name__ == "__main__":
    main()
