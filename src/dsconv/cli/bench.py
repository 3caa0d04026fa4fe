"""``dsconv bench``: measure the machine's roofs and benchmark the kernels, layers and models.

Examples::

    dsconv bench --machine                 # roofs -> benchmarks/machine.json
    dsconv bench layers --backward         # every MobileNetV1/V2 depthwise shape, fused blocks, gradients
    dsconv bench models                    # MobileNetV1/V2, batch 1 and 8, and the scaling sweep
    dsconv bench layers --quick --out-dir /tmp/b   # a smoke run
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out-dir", type=Path, default=Path("benchmarks"), help="where RESULTS.md and results/ go")
    p.add_argument("--quick", action="store_true", help="tiny shapes and few repeats (a smoke run)")
    p.add_argument("--threads", type=int, default=2, help="threads for Numba and PyTorch (default 2)")
    p.add_argument("--repeats", type=int, default=None, help="timed rounds per shape")
    p.add_argument("--batch", type=int, nargs="+", default=[1, 8], help="batch sizes (default 1 8)")
    p.add_argument("--no-onnx", action="store_true", help="leave ONNX Runtime out")
    p.add_argument("--omp-wait-policy", choices=("default", "passive"), default="default",
                   help="passive: idle OpenMP workers and OpenBLAS threads sleep instead of spinning "
                        "(OMP_WAIT_POLICY=PASSIVE and OPENBLAS_THREAD_TIMEOUT=4, set before numpy/torch/numba load), "
                        "so no implementation's idle pool takes the cores from the one timed next")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench", help="benchmark the kernels, layers and models; measure the machine")
    parser.add_argument("--machine", action="store_true", help="measure DRAM/cache bandwidth and matmul FLOP/s")
    parser.add_argument("--out-dir", type=Path, default=Path("benchmarks"), help="where machine.json goes")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--threads", type=int, default=2, help="threads (default 2)")
    parser.set_defaults(func=_machine_or_help, _parser=parser)
    sub = parser.add_subparsers(dest="bench_command", metavar="WHAT")
    layers = sub.add_parser("layers", help="per-layer depthwise / fused-block benchmark")
    _common(layers)
    layers.add_argument("--backward", action="store_true", help="also time the gradients (training step)")
    layers.add_argument("--only", choices=("forward", "separable", "backward"), default=None,
                        help="run one section only (the others in RESULTS.md are kept)")
    layers.set_defaults(func=_layers)
    models = sub.add_parser("models", help="whole-model benchmark and scaling sweep")
    _common(models)
    models.add_argument("--no-scaling", action="store_true", help="skip the batch/resolution/width sweep")
    models.add_argument("--models", nargs="+", default=None, metavar="NAME",
                        help="registered models to time (default mobilenet_v1 mobilenet_v2 perception_net)")
    models.set_defaults(func=_models)


def _machine_or_help(args: argparse.Namespace) -> int:
    if not args.machine:
        args._parser.print_help()
        return 2
    from dsconv.kernels.bench import run_machine

    m = run_machine(args.out_dir, quick=args.quick, threads=args.threads)
    print(f"DRAM {m.dram_gbs} GB/s, cache {m.cache_gbs} GB/s, matmul {m.peak_gflops} GFLOP/s -> {args.out_dir / 'machine.json'}")
    return 0


def _wait_policy(args: argparse.Namespace) -> None:
    if args.omp_wait_policy == "passive":
        # both are read when the libraries load, i.e. at first import (the CLI has not imported them yet);
        # OpenBLAS clamps the timeout to [4, 30]: an idle thread spins 2**4 cycles instead of 2**28
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        os.environ["OPENBLAS_THREAD_TIMEOUT"] = "4"


def _layers(args: argparse.Namespace) -> int:
    _wait_policy(args)
    from dsconv.kernels.bench import run_layers

    run_layers(args.out_dir, quick=args.quick, backward=args.backward, batches=tuple(args.batch),
               threads=args.threads, repeats=args.repeats, onnx=not args.no_onnx, only=args.only)
    print(f"wrote {args.out_dir / 'RESULTS.md'}")
    return 0


def _models(args: argparse.Namespace) -> int:
    _wait_policy(args)
    from dsconv.kernels.bench import run_models

    run_models(args.out_dir, quick=args.quick, batches=tuple(args.batch), threads=args.threads,
               repeats=args.repeats, scaling=not args.no_scaling, onnx=not args.no_onnx,
               models=tuple(args.models) if args.models else None)
    print(f"wrote {args.out_dir / 'RESULTS.md'}")
    return 0
