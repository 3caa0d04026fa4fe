"""The depthwise layer on channels-first (NCHW) tensors, end to end: ``dsconv.kernels.depthwise_conv_torch`` as
the ``backend="dsconv"`` layers call it (forward, or forward + backward with ``--backward``; see
``dsconv.kernels.autograd`` for which calls run on the channels-first kernel and which are transposed), the
working tree against ``--rev``'s ``kernels/autograd.py`` loaded beside it, and PyTorch's own NCHW convolution; MobileNetV1's 3x3 shapes,
interleaved rounds (median of 5 calls per round, median over rounds; 2 threads).

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/nchw_layers.py --rev HEAD~1 [--backward] [--batch 8]
"""

from __future__ import annotations

import argparse
import math
import statistics

import numba
import torch
import torch.nn.functional as F

from dsconv.kernels import autograd
from dsconv.kernels.bench.layers import V1_DEPTHWISE
from dsconv.kernels.bench.timing import consecutive_median
from kernel_ab import _load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", default="HEAD~1")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--backward", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(2)
    numba.set_num_threads(2)
    old = _load(args.rev, "autograd")
    impls = {"revision": old.depthwise_conv_torch, "working tree": autograd.depthwise_conv_torch,
             "torch": lambda x, w, b, s, p: F.conv2d(x, w, b, s, p, 1, x.shape[1])}
    print("| C | HxW | s | revision ms | working tree ms | PyTorch NCHW ms | x vs revision | x vs PyTorch |\n"
          "|---|---|---|---|---|---|---|---|")
    ratios: dict[str, list[float]] = {"revision": [], "torch": []}
    for c, h, s in V1_DEPTHWISE:
        x = torch.randn(args.batch, c, h, h, requires_grad=args.backward)
        w = torch.randn(c, 1, 3, 3, requires_grad=args.backward)
        b = torch.randn(c, requires_grad=args.backward)
        g = torch.randn_like(F.conv2d(x.detach(), w.detach(), None, s, 1, 1, c))

        def run(f):
            if args.backward:
                return lambda: f(x, w, b, s, 1).backward(g)
            return lambda: f(x, w, b, s, 1)

        with torch.inference_mode(not args.backward):
            torch.testing.assert_close(impls["revision"](x, w, b, s, 1), impls["working tree"](x, w, b, s, 1))
            res: dict[str, list[float]] = {k: [] for k in impls}
            for r in range(args.rounds):
                order = list(impls.items())
                for name, f in order if r % 2 else order[::-1]:
                    res[name].append(consecutive_median(run(f), calls=5, warmup=0))
        med = {k: statistics.median(v) * 1e3 for k, v in res.items()}
        for k in ratios:
            ratios[k].append(med[k] / med["working tree"])
        print(f"| {c} | {h}x{h} | {s} | {med['revision']:.3f} | {med['working tree']:.3f} | {med['torch']:.3f} | "
              f"{ratios['revision'][-1]:.2f} | {ratios['torch'][-1]:.2f} |")
    geo = {k: math.exp(statistics.fmean(math.log(r) for r in v)) for k, v in ratios.items()}
    print(f"\nbatch {args.batch}, {'forward + backward' if args.backward else 'forward'}: geometric mean speed-up "
          f"{geo['revision']:.2f}x over {args.rev}, {geo['torch']:.2f}x over PyTorch NCHW")


if __name__ == "__main__":
    main()
