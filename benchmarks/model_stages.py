"""Where the time of a whole ``dsconv.optimize(mobilenet_v1)`` forward goes, next to ONNX Runtime's profile of
the same model, in one process (blocks of consecutive forwards, the two alternating).

Each fused block's forward is replaced by a copy that times its depthwise stage (Numba kernel) and its
pointwise product (oneDNN's linear) inside whole forwards (checked first to give the module's own result);
ONNX Runtime's profiler gives its depthwise and pointwise nodes. Then each stage is repeated alone on the same
operands (weights and data staying in cache): the difference is what the stages pay inside the model for data
that left the caches and for handing the cores between Numba's kernel and oneDNN.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/model_stages.py [--rounds 8] [--per-block]

``--per-block`` also prints each block's two stages, inside the model and alone.
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numba
import numpy as np
import onnxruntime as ort
import torch

import dsconv
from dsconv.kernels import modules
from dsconv.kernels.bench.models import calibrate_batch_norms
from dsconv.kernels.bench.timing import consecutive_median

STAGES: dict[str, list[float]] = collections.defaultdict(list)


def timed_forward(self: modules.FusedSeparable2d, x: torch.Tensor) -> torch.Tensor:
    """``FusedSeparable2d.forward`` for float32 with ``matmul="onednn"``, recording the two stages' times."""
    t0 = time.perf_counter()
    key = ("plan", x.shape, x.dtype)
    if key not in self._cache:
        self._cache[key] = self._plan(x)
    params, (w, bias, attr, scalars, _, _) = self._cache[key]
    a = params.depthwise(modules._nhwc(x))
    t1 = time.perf_counter()
    y = torch.ops.mkldnn._linear_pointwise(torch.from_numpy(a), w, bias, attr, scalars, "")
    t2 = time.perf_counter()
    STAGES["depthwise"].append(t1 - t0)
    STAGES["pointwise"].append(t2 - t1)
    STAGES[f"depthwise {id(self)}"].append(t1 - t0)
    STAGES[f"pointwise {id(self)}"].append(t2 - t1)
    p = params.problem
    return y.reshape(p.batch, p.out_size[1], p.out_size[2], -1).permute(0, 3, 1, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--calls", type=int, default=20, help="consecutive forwards per block")
    parser.add_argument("--per-block", action="store_true", help="print each block's stages too")
    args = parser.parse_args()
    torch.set_num_threads(2)
    numba.set_num_threads(2)
    torch.manual_seed(0)
    model = dsconv.create_model("mobilenet_v1")
    calibrate_batch_norms(model, 224)
    fast = dsconv.optimize(model.eval(), matmul="onednn")  # the two-stage block, whose stages it times
    x = torch.randn(1, 3, 224, 224)
    blocks = [m for m in fast.modules() if isinstance(m, modules.FusedSeparable2d)]
    assert all(b.matmul == "onednn" for b in blocks), "needs PyTorch with oneDNN (matmul='onednn')"
    with torch.inference_mode():
        expected = fast(x)
        modules.FusedSeparable2d.forward = timed_forward
        torch.testing.assert_close(fast(x), expected, rtol=0, atol=0)
    tmp = Path(tempfile.mkdtemp())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), str(tmp / "m.onnx"), input_names=["x"], output_names=["y"], opset_version=17,
                          dynamo=False)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = 2, 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.enable_profiling, opts.profile_file_prefix = True, str(tmp / "profile")
    sess = ort.InferenceSession(str(tmp / "m.onnx"), opts, providers=["CPUExecutionProvider"])
    feed = {"x": x.numpy()}
    totals: dict[str, list[float]] = {"dsconv": [], "onnxruntime": []}
    with torch.inference_mode():
        for _ in range(10):
            fast(x)
            sess.run(None, feed)
        STAGES.clear()
        for _ in range(args.rounds):
            for name, fn in (("dsconv", lambda: fast(x)), ("onnxruntime", lambda: sess.run(None, feed))):
                for _ in range(args.calls):
                    t0 = time.perf_counter()
                    fn()
                    totals[name].append(time.perf_counter() - t0)
    events = json.loads(Path(sess.end_profiling()).read_text())
    per_node: dict[str, list[float]] = collections.defaultdict(list)
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            per_node[e["name"]].append(e["dur"] * 1e-6)
    kinds: dict[str, float] = collections.defaultdict(float)
    for name, durations in per_node.items():
        kind = "pointwise" if "conv_pw" in name else "depthwise" if "conv_dw" in name else "other"
        kinds[kind] += statistics.median(durations[10:])  # the profile includes the 10 warm-up runs
    n = len(blocks)
    per_forward = {k: [sum(STAGES[k][i:i + n]) for i in range(0, len(STAGES[k]), n)] for k in ("depthwise", "pointwise")}
    ds = {k: statistics.median(v) for k, v in per_forward.items()}
    print(f"ONNX Runtime (profiled): depthwise nodes {kinds['depthwise'] * 1e3:.2f} ms, pointwise nodes "
          f"{kinds['pointwise'] * 1e3:.2f} ms, other nodes {kinds['other'] * 1e3:.2f} ms; run() "
          f"{statistics.median(totals['onnxruntime']) * 1e3:.2f} ms")
    print(f"dsconv.optimize: depthwise stages {ds['depthwise'] * 1e3:.2f} ms, pointwise products "
          f"{ds['pointwise'] * 1e3:.2f} ms; forward {statistics.median(totals['dsconv']) * 1e3:.2f} ms")
    inputs: dict[modules.FusedSeparable2d, torch.Tensor] = {}
    hooks = [b.register_forward_pre_hook(lambda m, a: inputs.__setitem__(m, a[0])) for b in blocks]
    alone = {"depthwise": 0.0, "pointwise": 0.0, "block": 0.0}
    with torch.inference_mode():
        fast(x)
        for h in hooks:
            h.remove()
        for b in blocks:
            params = b._params(tuple(inputs[b].shape), np.dtype(np.float32))
            x_nhwc = modules._nhwc(inputs[b])
            a = torch.from_numpy(params.depthwise(x_nhwc))
            w, bias, attr, scalars, _, _ = b._product(params, torch.float32, True)
            dw_alone = consecutive_median(lambda: params.depthwise(x_nhwc), calls=50, warmup=5)
            pw_alone = consecutive_median(
                lambda: torch.ops.mkldnn._linear_pointwise(a, w, bias, attr, scalars, ""), calls=50, warmup=5)
            alone["depthwise"] += dw_alone
            alone["pointwise"] += pw_alone
            if args.per_block:
                dw_in = statistics.median(STAGES[f"depthwise {id(b)}"])
                pw_in = statistics.median(STAGES[f"pointwise {id(b)}"])
                print(f"block {tuple(inputs[b].shape)[1:]} -> {b.pw_weight.shape[0]}: in the model depthwise "
                      f"{dw_in * 1e6:.0f} us, pointwise {pw_in * 1e6:.0f} us; alone {dw_alone * 1e6:.0f} us, "
                      f"{pw_alone * 1e6:.0f} us")
            alone["block"] += consecutive_median(lambda: b(inputs[b]), calls=50, warmup=5)
    print(f"each repeated alone, summed over the {n} blocks: depthwise stages {alone['depthwise'] * 1e3:.2f} ms, "
          f"pointwise products {alone['pointwise'] * 1e3:.2f} ms, whole blocks {alone['block'] * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
