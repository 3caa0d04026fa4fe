"""bfloat16 depthwise forward: the dsconv kernel on bfloat16 bits against its own float32 run and PyTorch's
float32 and bfloat16 convolutions (``channels_last``), MobileNetV1's 3x3 shapes, interleaved in one process.

bfloat16 halves the bytes each layer moves, so the layers bound by memory traffic (batch 8, and the large
early layers) should gain most; PyTorch's CPU bfloat16 depthwise path goes through oneDNN.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/bf16.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import math
import statistics

import numba
import numpy as np
import torch
import torch.nn.functional as TF

from dsconv.kernels import _bf16, _cl, _memory
from dsconv.kernels.bench.layers import V1_DEPTHWISE
from dsconv.kernels.bench.timing import retain_freed_memory, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    print(retain_freed_memory())
    numba.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    names = ("dsconv_f32", "dsconv_bf16", "torch_cl_f32", "torch_cl_bf16")
    for n in (1, 8):
        ratios: dict[str, list[float]] = {k: [] for k in names[:1] + names[2:]}
        for c, h, s in V1_DEPTHWISE:
            ho = (h + 2 - 3) // s + 1
            x = _memory.copy(rng.standard_normal((n, 1, h, h * c), dtype=np.float32))
            xb = _bf16.to_bits(x)
            # bfloat16 weights (widened to float32 for the kernel, exactly, as the torch bridge does)
            w = _memory.copy(_bf16.from_bits(_bf16.to_bits(rng.standard_normal((1, 3, 3 * c), dtype=np.float32))))
            b = _memory.zeros(c, np.float32)
            out = _memory.empty((n, 1, ho, ho * c), np.float32)
            outb = _memory.empty((n, 1, ho, ho * c), np.uint16)
            xt = torch.from_numpy(x.reshape(n, h, h, c)).permute(0, 3, 1, 2)  # channels_last view
            xtb = xt.to(torch.bfloat16)
            wt = torch.from_numpy(w.reshape(3, 3, c).transpose(2, 0, 1).copy()).unsqueeze(1)
            wtb = wt.to(torch.bfloat16)
            geo = ((1, s, s), (0, 1, 1), (1, 1, 1))
            fns = {
                "dsconv_f32": lambda: _cl.forward_act(x, w, b, out, *geo, 0),
                "dsconv_bf16": lambda: _cl.forward_act_bf16(xb, w, b, outb, *geo, 0),
                "torch_cl_f32": lambda: TF.conv2d(xt, wt, None, s, 1, 1, c),
                "torch_cl_bf16": lambda: TF.conv2d(xtb, wtb, None, s, 1, 1, c),
            }
            with torch.inference_mode():
                ref = TF.conv2d(xtb.float(), wtb.float(), None, s, 1, 1, c)
                fns["dsconv_bf16"]()
                got = torch.from_numpy(outb.view(np.int16)).view(torch.bfloat16).float().reshape(n, ho, ho, c)
                assert bool(((got.permute(0, 3, 1, 2) - ref).abs() <= ref.abs() * 2**-7 + 1e-6).all())  # one rounding
                t = {k: statistics.median(v) for k, v in samples(fns, repeats=args.rounds).items()}
            for k in ratios:
                ratios[k].append(t[k] / t["dsconv_bf16"])
            print(f"N={n} {h}x{h}x{c} s{s}: " + ", ".join(f"{k} {t[k] * 1e6:.0f} us" for k in names))
        print(f"batch {n}: geometric-mean time / dsconv_bf16's: "
              + ", ".join(f"{k} {math.exp(statistics.fmean(map(math.log, v))):.2f}x" for k, v in ratios.items()))


if __name__ == "__main__":
    main()
