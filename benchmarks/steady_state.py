"""Whole-model latency in steady state: each implementation timed in blocks of consecutive calls.

`dsconv bench models` interleaves single calls (fair under load bursts, but every call then starts with cold
caches and sleeping thread pools). This script times blocks of ``--calls`` consecutive calls per
implementation, rotating the order over ``--rounds`` rounds, and prints each block's median and the median of
those; it is what `benchmarks/NOTES.md` quotes as "timed in blocks".

    OMP_WAIT_POLICY=PASSIVE OPENBLAS_THREAD_TIMEOUT=4 .venv/bin/python benchmarks/steady_state.py --model mobilenet_v1
    .venv/bin/python benchmarks/steady_state.py --matmul auto --bf16   (bfloat16 next to float32)
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import numba
import torch

import dsconv
from dsconv.kernels.bench.models import _ort_session, calibrate_batch_norms
from dsconv.kernels.bench.timing import retain_freed_memory


def per_module(model: torch.nn.Module, x: torch.Tensor, calls: int) -> None:
    """Print the median milliseconds of every leaf module of ``model`` over ``calls`` forwards."""
    leaves = [m for m in model.modules() if not list(m.children())]
    starts: dict[torch.nn.Module, float] = {}
    times: dict[torch.nn.Module, list[float]] = {m: [] for m in leaves}
    for m in leaves:
        m.register_forward_pre_hook(lambda mod, _: starts.__setitem__(mod, time.perf_counter()))
        m.register_forward_hook(lambda mod, _i, _o: times[mod].append(time.perf_counter() - starts[mod]))
    with torch.inference_mode():
        for _ in range(3):
            model(x)
        for v in times.values():
            v.clear()
        totals = []
        for _ in range(calls):
            t0 = time.perf_counter()
            model(x)
            totals.append(time.perf_counter() - t0)
    for m in leaves:
        if times[m]:
            print(f"{statistics.median(times[m]) * 1e3:8.3f} ms  {type(m).__name__}")
    print(f"whole forward: median {statistics.median(totals) * 1e3:.2f} ms over {calls} calls")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mobilenet_v1")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--matmul", nargs="+", default=["auto", "torch", "numpy"],
                        choices=("auto", "onednn", "mkl", "torch", "numpy"),
                        help="dsconv.optimize variants to time (columns dsconv_<matmul>)")
    parser.add_argument("--no-onnx", action="store_true", help="leave ONNX Runtime out (no session in the process)")
    parser.add_argument("--bf16", action="store_true",
                        help="also time dsconv.optimize(model, dtype=torch.bfloat16) (dsconv_bf16) and PyTorch's "
                             "bfloat16 channels_last eager model (torch_eager_bf16_cl)")
    parser.add_argument("--per-module", action="store_true",
                        help="only dsconv.optimize (the first --matmul): median time of each leaf module "
                             "(forward hooks), then exit")
    args = parser.parse_args()
    print(retain_freed_memory())
    torch.set_num_threads(args.threads)
    numba.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = dsconv.create_model(args.model)
    calibrate_batch_norms(model, 224)
    model.eval()
    x = torch.randn(args.batch, 3, 224, 224)
    if args.per_module:
        per_module(dsconv.optimize(model, matmul=args.matmul[0]), x, args.rounds * args.calls)
        return
    with torch.inference_mode():
        fns = {f"dsconv_{m}": dsconv.optimize(model, matmul=m) for m in args.matmul}
        fns = {k: (lambda f=f: f(x)) for k, f in fns.items()}
        fns["torch_eager"] = lambda: model(x)
        if args.bf16:
            fast_bf16 = dsconv.optimize(model, dtype=torch.bfloat16)
            eager_bf16 = copy.deepcopy(model).bfloat16().to(memory_format=torch.channels_last)
            x_bf16 = x.bfloat16().contiguous(memory_format=torch.channels_last)
            fns["dsconv_bf16"] = lambda: fast_bf16(x)
            fns["torch_eager_bf16_cl"] = lambda: eager_bf16(x_bf16)
        if not args.no_onnx:
            fns["onnxruntime"] = _ort_session(model, x, args.threads)
        for f in fns.values():
            for _ in range(3):
                f()
        blocks: dict[str, list[float]] = {k: [] for k in fns}
        names = list(fns)
        for r in range(args.rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:
                ts = []
                for _ in range(args.calls):
                    t0 = time.perf_counter()
                    fns[name]()
                    ts.append(time.perf_counter() - t0)
                blocks[name].append(statistics.median(ts))
    for name, v in blocks.items():
        print(f"{args.model} N={args.batch} {name}: block medians (ms) {' '.join(f'{t * 1e3:.2f}' for t in v)}; "
              f"median {statistics.median(v) * 1e3:.2f}")
    if "onnxruntime" in blocks:
        for name in [f"dsconv_{m}" for m in args.matmul] + (["dsconv_bf16"] if args.bf16 else []):
            ratio = statistics.median(blocks["onnxruntime"]) / statistics.median(blocks[name])
            print(f"{name} speed relative to ONNX Runtime: {ratio:.2f}x")


if __name__ == "__main__":
    main()
