"""The fused block at batch 8 for several tile sizes, against the untiled oneDNN path and PyTorch.

The tiled paths (``matmul="torch"`` here) compute the depthwise output one tile at a time into a buffer of
``tile_bytes`` and multiply each tile by the pointwise weight; ``dsconv.optimize``'s default (``"onednn"``) runs
the depthwise stage on the whole batch and then one oneDNN product. Medians of consecutive calls.

    OMP_WAIT_POLICY=PASSIVE OPENBLAS_THREAD_TIMEOUT=4 .venv/bin/python benchmarks/tile_sweep.py [--batch 8]
"""

from __future__ import annotations

import argparse

import numba
import numpy as np
import torch
import torch.nn.functional as F

from dsconv.kernels import _memory
from dsconv.kernels.bench.timing import consecutive_median
from dsconv.kernels.fused import FusedSeparableParams
from dsconv.kernels.modules import FusedSeparable2d, _torch_mm

SHAPES = ((32, 64, 112, 1), (64, 128, 112, 2), (128, 128, 56, 1), (256, 256, 28, 1))
TILES = (256 << 10, 1 << 20, 4 << 20, 16 << 20)


def _ms(f, reps: int = 15) -> float:
    return consecutive_median(f, calls=reps) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(2)
    numba.set_num_threads(2)
    rng = np.random.default_rng(0)
    n = args.batch
    with torch.inference_mode():
        for c, c_out, h, s in SHAPES:
            ho = (h + 2 - 3) // s + 1
            x = _memory.copy(rng.standard_normal((n, h, h, c), dtype=np.float32))
            dw = rng.standard_normal((c, 1, 3, 3), dtype=np.float32)
            pw = rng.standard_normal((c_out, c, 1, 1), dtype=np.float32) / np.float32(np.sqrt(c))
            b1, b2 = np.zeros(c, np.float32), np.zeros(c_out, np.float32)
            out = _memory.empty((n, ho, ho, c_out), np.float32)
            cells = []
            for tile in TILES:
                prm = FusedSeparableParams.prepare((n, h, h, c), dw, pw, b1, b2, s, 1, act_dw="relu",
                                                   act_pw="relu", tile_bytes=tile)
                cells.append(f"tile {tile >> 10} KiB {_ms(lambda: prm.run(x, out, _torch_mm)):.2f}")
            tx = torch.from_numpy(x).permute(0, 3, 1, 2)
            tdw, tpw, tb1, tb2 = (torch.from_numpy(a) for a in (dw, pw, b1, b2))
            block = FusedSeparable2d(tdw, tb1, tpw, tb2, s, 1, 1, "relu", "relu", matmul="onednn")
            cells.append(f"onednn whole {_ms(lambda: block(tx)):.2f}")
            cells.append(f"torch channels_last {_ms(lambda: F.relu(F.conv2d(F.relu(F.conv2d(tx, tdw, tb1, s, 1, 1, c)), tpw, tb2))):.2f}")
            print(f"N={n} {c}->{c_out} {h}x{h} s{s} (ms): " + ", ".join(cells), flush=True)


if __name__ == "__main__":
    main()
