"""Two fused-block products against each other (``--variants A B``; default ``onednn torch``), on every
MobileNetV1 and V2 separable shape (the family's activations), at batch 1 and 8: both blocks interleaved call
by call in one process (``repeats`` rounds, rotating order), medians; "B is Nx faster" is A's time over B's.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/matmul_by_shape.py [--repeats 60] [--variants onednn mkl]
"""

from __future__ import annotations

import argparse

import numba
import numpy as np
import torch

from dsconv.kernels import _memory
from dsconv.kernels.bench.layers import SEPARABLE_ACTS, V1_SEPARABLE, V2_SEPARABLE
from dsconv.kernels.bench.timing import interleaved
from dsconv.kernels.modules import FusedSeparable2d


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=60)
    parser.add_argument("--variants", nargs=2, default=["onednn", "torch"], metavar=("A", "B"),
                        choices=("onednn", "mkl", "torch", "numpy"))
    args = parser.parse_args()
    va, vb = args.variants
    torch.set_num_threads(2)
    numba.set_num_threads(2)
    rng = np.random.default_rng(0)
    for batch in (1, 8):
        for family, shapes in (("mobilenet_v1", V1_SEPARABLE), ("mobilenet_v2", V2_SEPARABLE)):
            ratios = []
            for c, c_out, size, stride in shapes:
                act_dw, act_pw = SEPARABLE_ACTS[family]
                x = torch.from_numpy(_memory.copy(rng.standard_normal((batch, size, size, c), dtype=np.float32)))
                x = x.permute(0, 3, 1, 2)  # channels_last
                ops = [torch.from_numpy(rng.standard_normal(s, dtype=np.float32)) for s in
                       ((c, 1, 3, 3), (c,), (c_out, c, 1, 1), (c_out,))]
                blocks = {m: FusedSeparable2d(*ops, stride, 1, 1, act_dw, act_pw, matmul=m) for m in (va, vb)}
                with torch.inference_mode():
                    torch.testing.assert_close(blocks[va](x), blocks[vb](x), rtol=1e-3, atol=1e-3)
                    medians = interleaved({m: (lambda b=b: b(x)) for m, b in blocks.items()}, repeats=args.repeats)
                a, b = medians[va], medians[vb]
                ratios.append(a / b)
                print(f"N={batch} {family[-2:]} {c}->{c_out} {size}x{size} s{stride}: {va} {a * 1e3:.3f} ms, "
                      f"{vb} {b * 1e3:.3f} ms, {vb} is {a / b:.2f}x faster", flush=True)
            print(f"batch {batch} {family}: geometric mean {np.exp(np.mean(np.log(ratios))):.2f}x")


if __name__ == "__main__":
    main()
