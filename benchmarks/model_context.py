"""Each fused block of ``dsconv.optimize(mobilenet_v1)`` timed alone (the same call repeated, its weights
staying in cache) and inside whole forwards (forward hooks), batch 1: how much the model context costs.

    .venv/bin/python benchmarks/model_context.py [--calls 100]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numba
import torch

import dsconv
from dsconv.kernels.bench.models import calibrate_batch_norms
from dsconv.kernels.bench.timing import consecutive_median
from dsconv.kernels.modules import FusedSeparable2d


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(2)
    numba.set_num_threads(2)
    torch.manual_seed(0)
    model = dsconv.create_model("mobilenet_v1")
    calibrate_batch_norms(model, 224)
    fast = dsconv.optimize(model.eval())
    x = torch.randn(1, 3, 224, 224)
    blocks = [m for m in fast.modules() if isinstance(m, FusedSeparable2d)]
    inputs: dict[torch.nn.Module, torch.Tensor] = {}
    starts: dict[torch.nn.Module, float] = {}
    in_model: dict[torch.nn.Module, list[float]] = {b: [] for b in blocks}
    def before(m: torch.nn.Module, a: tuple) -> None:  # a pre-hook that returns something replaces the input
        inputs[m] = a[0]
        starts[m] = time.perf_counter()

    def after(m: torch.nn.Module, _a: tuple, _o: torch.Tensor) -> None:
        in_model[m].append(time.perf_counter() - starts[m])

    for b in blocks:
        b.register_forward_pre_hook(before)
        b.register_forward_hook(after)
    with torch.inference_mode():
        for _ in range(args.calls):
            fast(x)
        alone = {b: consecutive_median(lambda b=b: b(inputs[b]), calls=args.calls, warmup=5) for b in blocks}
    total_alone = total_model = 0.0
    for b in blocks:
        t_model = statistics.median(in_model[b][5:])
        total_alone += alone[b]
        total_model += t_model
        print(f"{b.extra_repr()}: alone {alone[b] * 1e3:.3f} ms, in the model {t_model * 1e3:.3f} ms")
    print(f"13 blocks summed: alone {total_alone * 1e3:.2f} ms, in the model {total_model * 1e3:.2f} ms "
          f"({total_model / total_alone:.2f}x)")


if __name__ == "__main__":
    main()
