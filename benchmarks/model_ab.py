"""A/B of ``dsconv.optimize``'s inference modules against an earlier revision, whole models interleaved in one
process.

The files ``src/dsconv/kernels/modules.py`` and ``_fused_mkl.py`` of ``--rev`` (``git show``) are loaded beside
the working tree's. A zoo model is optimized once; a copy has each of its inference modules switched to the
revision's class of the same name (prepared operands dropped, so the revision prepares its own). After a
check that both give the same output, the two run in blocks of ``--calls`` forwards, in alternating order,
for ``--rounds`` rounds, so that machine noise hits both alike. Prints the medians and the speed-up.

    .venv/bin/python benchmarks/model_ab.py --rev HEAD~1 --model mobilenet_v1 --batch 1
"""

from __future__ import annotations

import argparse
import copy
import statistics

import numba
import torch

import dsconv
from dsconv.kernels import modules
from dsconv.kernels.bench.models import calibrate_batch_norms
from dsconv.kernels.bench.timing import consecutive_median

from kernel_ab import _load


def load_revision(rev: str):
    """The ``modules`` module as it was at ``rev``, importing that revision's ``_fused_mkl``."""
    _load(rev, "_fused_mkl")
    return _load(rev, "modules", lambda source: source.replace(
        "from dsconv.kernels import _cl, _fused_mkl, _memory, _mkl",
        "from dsconv.kernels import _cl, _memory, _mkl\nimport _fused_mkl_rev as _fused_mkl"))


def _switch(model: torch.nn.Module, namespace) -> int:
    """Give every inference module of ``model`` the class of the same name in ``namespace``; returns how many."""
    count = 0
    for m in model.modules():
        if type(m).__module__ == modules.__name__:
            m.__class__ = getattr(namespace, type(m).__name__)
            m._cache = {}
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", default="HEAD", help="git revision to compare with (default HEAD)")
    parser.add_argument("--model", default="mobilenet_v1")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--calls", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(2)
    numba.set_num_threads(2)
    torch.manual_seed(0)
    model = dsconv.create_model(args.model)
    calibrate_batch_norms(model, 224)
    new = dsconv.optimize(model.eval())
    old = copy.deepcopy(new)
    switched = _switch(old, load_revision(args.rev))
    x = torch.randn(args.batch, 3, 224, 224)
    with torch.inference_mode():
        torch.testing.assert_close(new(x), old(x), rtol=1e-5, atol=1e-5)
        results: dict[str, list[float]] = {"revision": [], "working tree": []}
        for r in range(args.rounds):
            order = [("revision", old), ("working tree", new)]
            for name, f in order if r % 2 else order[::-1]:
                results[name].append(consecutive_median(lambda: f(x), calls=args.calls, warmup=0))
    a, b = (statistics.median(v) * 1e3 for v in results.values())
    print(f"{args.model} batch {args.batch}, {switched} modules switched to {args.rev}: revision {a:.3f} ms, "
          f"working tree {b:.3f} ms, speed-up {a / b:.3f}x")


if __name__ == "__main__":
    main()
