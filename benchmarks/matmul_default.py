"""Which pointwise product ``dsconv.optimize`` should use by default: each variant alone in a fresh process.

For every thread setting (none, i.e. what a user gets; ``OMP_WAIT_POLICY=PASSIVE``; and that plus
``OPENBLAS_THREAD_TIMEOUT=4``) and every ``matmul`` variant, a child process builds MobileNetV1 (batch norms
calibrated), optimizes it with that variant only, and times ``--calls`` consecutive forwards at batch 1. The
settings and variants alternate over ``--rounds`` rounds; the table gives the median of each child's median.

    .venv/bin/python benchmarks/matmul_default.py [--rounds 2] [--calls 40]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

SETTINGS = {
    "none": {},
    "OMP_WAIT_POLICY=PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
    "OMP_WAIT_POLICY=PASSIVE OPENBLAS_THREAD_TIMEOUT=4": {"OMP_WAIT_POLICY": "PASSIVE", "OPENBLAS_THREAD_TIMEOUT": "4"},
}
VARIANTS = ("onednn", "torch", "numpy")

CHILD = """
import statistics, sys, time
import numba, torch
import dsconv
from dsconv.kernels.bench.models import calibrate_batch_norms
torch.set_num_threads(2); numba.set_num_threads(2); torch.manual_seed(0)
model = dsconv.create_model("mobilenet_v1")
calibrate_batch_norms(model, 224)
fast = dsconv.optimize(model.eval(), matmul=sys.argv[1])
x = torch.randn(1, 3, 224, 224)
with torch.inference_mode():
    for _ in range(5):
        fast(x)
    ts = []
    for _ in range(int(sys.argv[2])):
        t0 = time.perf_counter()
        fast(x)
        ts.append(time.perf_counter() - t0)
print(statistics.median(ts) * 1e3)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--calls", type=int, default=40)
    args = parser.parse_args()
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OPENBLAS_THREAD_TIMEOUT", "OMP_NUM_THREADS")}
    results: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for name, extra in SETTINGS.items():
            for variant in VARIANTS:
                out = subprocess.run([sys.executable, "-c", CHILD, variant, str(args.calls)], env={**base, **extra},
                                     capture_output=True, text=True, check=True)
                results.setdefault((name, variant), []).append(float(out.stdout.split()[-1]))
                print(f"{name:50s} matmul={variant:6s} {results[(name, variant)][-1]:8.2f} ms", flush=True)
    print("\n| thread setting | " + " | ".join(f'matmul="{v}" ms' for v in VARIANTS) + " |")
    print("|---|" + "---|" * len(VARIANTS))
    for name in SETTINGS:
        print(f"| {name} | " + " | ".join(f"{statistics.median(results[(name, v)]):.1f}" for v in VARIANTS) + " |")


if __name__ == "__main__":
    main()
