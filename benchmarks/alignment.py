"""How the address alignment of the depthwise forward's operands changes its time (MobileNetV1 3x3 shapes).

Each configuration places the input, output and weights at a given byte offset from a 4 KiB page boundary:
16 is where NumPy's allocator puts large arrays, 0 is 64-byte aligned (``dsconv.kernels._memory``). The
configurations are interleaved round by round; medians of 15 rounds of two calls.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/alignment.py [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numba
import numpy as np

from dsconv.kernels import _cl
from dsconv.kernels.bench.layers import V1_SEPARABLE

# (input, output, weight) offsets from a page boundary, in bytes
CONFIGS = [(16, 16, 16), (0, 2048, 16), (0, 2048, 0), (0, 64, 0)]


def at_offset(shape: tuple[int, ...], offset: int) -> np.ndarray:
    """A float32 array of ``shape`` whose data starts ``offset`` bytes past a 4 KiB boundary."""
    n = int(np.prod(shape))
    buf = np.empty(n + 2048, np.float32)
    start = ((offset - buf.ctypes.data) % 4096) // 4
    return buf[start:start + n].reshape(shape)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    numba.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    ratios: dict[tuple, list[float]] = {k: [] for k in CONFIGS}
    for n in (1, 8):
        for c, _, h, s in V1_SEPARABLE:
            ho = (h + 2 - 3) // s + 1
            w0 = rng.standard_normal((1, 3, 3 * c), dtype=np.float32)
            arrays = {}
            for xo, oo, wo in CONFIGS:
                x = at_offset((n, 1, h, h * c), xo)
                x[:] = rng.standard_normal(x.shape, dtype=np.float32)
                w, b = at_offset(w0.shape, wo), at_offset((c,), wo)
                w[:], b[:] = w0, 0
                arrays[(xo, oo, wo)] = (x, at_offset((n, 1, ho, ho * c), oo), w, b)
            times: dict[tuple, list[float]] = {k: [] for k in CONFIGS}
            for _ in range(args.rounds):
                for k in CONFIGS:
                    x, o, w, b = arrays[k]
                    _cl.forward_act(x, w, b, o, (1, s, s), (0, 1, 1), (1, 1, 1), 1)
                    t0 = time.perf_counter()
                    _cl.forward_act(x, w, b, o, (1, s, s), (0, 1, 1), (1, 1, 1), 1)
                    _cl.forward_act(x, w, b, o, (1, s, s), (0, 1, 1), (1, 1, 1), 1)
                    times[k].append((time.perf_counter() - t0) / 2)
            med = {k: statistics.median(v) * 1e6 for k, v in times.items()}
            for k in CONFIGS:
                ratios[k].append(med[k] / med[CONFIGS[0]])
            print(f"N={n} {h}x{h}x{c} s{s}: " + ", ".join(f"x{k[0]}/o{k[1]}/w{k[2]} {med[k]:.0f} us" for k in CONFIGS),
                  flush=True)
    for k in CONFIGS:
        print(f"input +{k[0]}, output +{k[1]}, weights +{k[2]}: geometric-mean time ratio to the first "
              f"{np.exp(np.mean(np.log(ratios[k]))):.3f}")


if __name__ == "__main__":
    main()
