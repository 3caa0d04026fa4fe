"""Time the two halves of the depthwise backward (input gradient, weight gradient) on MobileNetV1 3x3 shapes,
each in a block of consecutive calls, against PyTorch ``channels_last``'s whole backward.

    OMP_WAIT_POLICY=PASSIVE OPENBLAS_THREAD_TIMEOUT=4 .venv/bin/python benchmarks/backward_stages.py [--batch 8]
"""

from __future__ import annotations

import argparse

import numba
import numpy as np
import torch

from dsconv.kernels import _cl
from dsconv.kernels.bench.layers import V1_DEPTHWISE
from dsconv.kernels.depthwise import cl_weight, input_gradient_cl, make_problem
from fused_stages import _ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    numba.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    n = args.batch
    for c, h, s in V1_DEPTHWISE:
        ho = (h + 2 - 3) // s + 1
        x = rng.standard_normal((n, c, h, h), dtype=np.float32)
        w = rng.standard_normal((c, 1, 3, 3), dtype=np.float32)
        g = rng.standard_normal((n, c, ho, ho), dtype=np.float32)
        p = make_problem(x.shape, (3, 3), 1, (s, s), ((1, 1), (1, 1)), (1, 1), (ho, ho))
        x_cl = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).reshape(n, 1, h, h * c)
        g_cl = np.ascontiguousarray(g.transpose(0, 2, 3, 1)).reshape(n, 1, ho, ho * c)
        w_cl = cl_weight(w, p, np.float32)
        gx = np.empty_like(x_cl)
        partial = np.empty((_cl.partial_slots(n * ho), *w_cl.shape), np.float32)
        xc = torch.from_numpy(x).contiguous(memory_format=torch.channels_last)
        gc = torch.from_numpy(g).contiguous(memory_format=torch.channels_last)
        wt = torch.from_numpy(w)
        t_in = _ms(lambda: input_gradient_cl(g_cl, w_cl, gx, p))
        t_w = _ms(lambda: _cl.backward_weight(g_cl, x_cl, partial, c, p.stride, p.pads, p.dilation))
        t_torch = _ms(lambda: torch.ops.aten.convolution_backward(
            gc, xc, wt, None, [s, s], [1, 1], [1, 1], False, [0, 0], c, [True, True, False]))
        print(f"N={n} C={c:5d} {h:4d}x{h} s{s}: input grad {t_in:.3f} ms, weight grad {t_w:.3f} ms, "
              f"torch channels_last backward {t_torch:.3f} ms, ratio {t_torch / (t_in + t_w):.2f}x")


if __name__ == "__main__":
    main()
