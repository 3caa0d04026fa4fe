"""A/B of two ``dsconv.optimize`` rewrites on a zoo model at batch 1: the fusion of an inverted residual's
depthwise stage and linear projection, and the replacement of containers left with one module. The same model
is optimized with both rewrites and with both switched off; the two copies run interleaved in one process
(blocks of 8 forwards, 40 rounds, alternating order), after a check that they agree.

    .venv/bin/python benchmarks/optimize_rewrites.py mobilenet_v2
"""

from __future__ import annotations

import statistics
import sys
import time

import numba
import torch

import dsconv
from dsconv.kernels import optimize as opt
from dsconv.kernels.bench.models import calibrate_batch_norms


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "mobilenet_v2"
    torch.set_num_threads(2)
    numba.set_num_threads(2)
    torch.manual_seed(0)
    model = dsconv.create_model(name)
    calibrate_batch_norms(model, 224)
    model.eval()
    with_rewrites = dsconv.optimize(model)
    fuse, sole = opt._fuse_inverted_residual, opt._sole_module
    opt._fuse_inverted_residual, opt._sole_module = (lambda module, matmul: None), (lambda seq: None)
    try:
        without = dsconv.optimize(model)
    finally:
        opt._fuse_inverted_residual, opt._sole_module = fuse, sole
    x = torch.randn(1, 3, 224, 224)
    print(f"{name}: {sum(1 for _ in without.modules())} modules without the rewrites, "
          f"{sum(1 for _ in with_rewrites.modules())} with them")
    times: dict[str, list[float]] = {"without": [], "with": []}
    models = {"without": without, "with": with_rewrites}
    with torch.inference_mode():
        torch.testing.assert_close(with_rewrites(x), without(x), rtol=1e-4, atol=1e-4)
        for r in range(40):
            for key in ("without", "with") if r % 2 else ("with", "without"):
                for _ in range(8):
                    t0 = time.perf_counter()
                    models[key](x)
                    times[key].append(time.perf_counter() - t0)
    a, b = statistics.median(times["without"]), statistics.median(times["with"])
    print(f"median per forward: without {a * 1e3:.2f} ms, with {b * 1e3:.2f} ms ({a / b:.3f}x)")


if __name__ == "__main__":
    main()
