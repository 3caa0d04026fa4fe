"""The channels-first forward kernel's two layouts side by side: the masked layout (``_cf.forward_masked``,
flat runs over whole output slices) against the padded rows (``_cf.forward``, what ``_cf.run`` used before),
kernel alone on prepared arrays, and PyTorch's NCHW convolution; MobileNetV1's 3x3 shapes ("same" padding),
interleaved rounds (median of 20 consecutive calls per round, median over rounds; 2 threads).

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/cf_masked.py [--batch 1 8] [--rounds 9]
"""

from __future__ import annotations

import argparse
import math
import statistics

import numba
import numpy as np
import torch
import torch.nn.functional as F

from dsconv.kernels import _cf
from dsconv.kernels.bench.timing import consecutive_median

SHAPES = [(32, 112, 1), (64, 112, 2), (128, 56, 1), (128, 56, 2), (256, 28, 1), (256, 28, 2), (512, 14, 1),
          (512, 14, 2), (1024, 7, 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    torch.set_num_threads(2)
    numba.set_num_threads(2)
    layout = _cf.masked_layout
    print("| N | C | HxW | s | masked ms | padded rows ms | PyTorch NCHW ms | masked vs padded | masked vs PyTorch |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in args.batch:
        ratios = []
        for c, h, s in SHAPES:
            x = torch.randn(n, c, h, h)
            w = torch.randn(c, 1, 3, 3)
            b = torch.randn(c)
            x5, w4, bn = x.numpy().reshape(n, c, 1, h, h), w.numpy().reshape(c, 1, 3, 3).copy(), b.numpy()
            ho = (h - 1) // s + 1
            out = np.empty((n, c, 1, ho, ho), np.float32)
            ref = F.conv2d(x, w, b, s, 1, 1, c).numpy()

            def kernel(masked: bool) -> None:
                _cf.masked_layout = layout if masked else (lambda *a: None)
                try:
                    _cf.run(x5, w4, bn, out, (1, s, s), (0, 1, 1), (1, 1, 1))
                finally:
                    _cf.masked_layout = layout

            for masked in (True, False):
                out[...] = np.nan
                kernel(masked)
                np.testing.assert_allclose(out[:, :, 0], ref, rtol=1e-4, atol=1e-4)
            impls = {"masked": lambda: kernel(True), "padded": lambda: kernel(False),
                     "torch": lambda: F.conv2d(x, w, b, s, 1, 1, c)}
            res: dict[str, list[float]] = {k: [] for k in impls}
            for _ in range(args.rounds):
                for k, f in impls.items():
                    res[k].append(consecutive_median(f, calls=20, warmup=2))
            m = {k: statistics.median(v) * 1e3 for k, v in res.items()}
            ratios.append((m["padded"] / m["masked"], m["torch"] / m["masked"]))
            print(f"| {n} | {c} | {h}x{h} | {s} | {m['masked']:.3f} | {m['padded']:.3f} | {m['torch']:.3f} | "
                  f"{ratios[-1][0]:.2f} | {ratios[-1][1]:.2f} |")
        geo = [math.exp(statistics.mean(math.log(r[i]) for r in ratios)) for i in (0, 1)]
        print(f"\nbatch {n}: geometric mean speed-up {geo[0]:.2f}x over the padded rows, {geo[1]:.2f}x over PyTorch NCHW\n")


if __name__ == "__main__":
    main()
