"""Channels-first <-> channels-last conversion: :mod:`dsconv.kernels._layout` against PyTorch's
``contiguous(memory_format=...)`` and NumPy's copy of the transposed view, on MobileNet shapes, interleaved
(median of 10 calls per round, median over rounds; 2 threads).

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/layout.py
"""

from __future__ import annotations

import statistics

import numba
import numpy as np
import torch

from dsconv.kernels import _layout
from dsconv.kernels.bench.timing import consecutive_median

SHAPES = [(1, 3, 224, 224), (8, 3, 224, 224), (1, 2, 224, 224), (1, 4, 224, 224), (8, 4, 224, 224), (1, 6, 224, 224),
          (1, 3, 1000, 4000), (1, 32, 112, 112), (8, 32, 112, 112), (1, 128, 56, 56),
          (8, 128, 56, 56), (1, 512, 14, 14), (8, 512, 14, 14), (1, 1024, 7, 7)]


def main(rounds: int = 15) -> None:
    torch.set_num_threads(2)
    numba.set_num_threads(2)
    print("| shape | direction | dsconv us | torch us | numpy us | x vs torch | x vs numpy |\n|---|---|---|---|---|---|---|")
    for shape in SHAPES:
        x = torch.randn(*shape)
        x_cl = x.contiguous(memory_format=torch.channels_last)
        a, a_cl = x.numpy(), x_cl.permute(0, 2, 3, 1).numpy()
        assert np.array_equal(_layout.to_channels_last(a), a_cl)
        assert np.array_equal(_layout.to_channels_first(a_cl), a)
        cases = {
            "to channels_last": {"dsconv": lambda: _layout.to_channels_last(a),
                                 "torch": lambda: x.contiguous(memory_format=torch.channels_last),
                                 "numpy": lambda: np.ascontiguousarray(a.transpose(0, 2, 3, 1))},
            "to channels_first": {"dsconv": lambda: _layout.to_channels_first(a_cl),
                                  "torch": lambda: x_cl.contiguous(),
                                  "numpy": lambda: np.ascontiguousarray(a_cl.transpose(0, 3, 1, 2))},
        }
        for direction, impls in cases.items():
            res: dict[str, list[float]] = {k: [] for k in impls}
            for _ in range(rounds):
                for k, f in impls.items():
                    res[k].append(consecutive_median(f, calls=10, warmup=0))
            d, t, n = (statistics.median(res[k]) * 1e6 for k in ("dsconv", "torch", "numpy"))
            print(f"| {shape} | {direction} | {d:.0f} | {t:.0f} | {n:.0f} | {t / d:.2f} | {n / d:.2f} |")


if __name__ == "__main__":
    main()
