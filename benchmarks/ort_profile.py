"""ONNX Runtime's own time per node for a whole model (its profiler), next to dsconv's per-block view.

Shows where ONNX Runtime's speed on MobileNetV1 comes from: it runs the model in its NCHWc layout with
fused convolution + activation nodes, and its pointwise (1x1) nodes reach a higher share of the FMA peak than
NumPy's BLAS on the same products (compare `benchmarks/pointwise_gemm.py`).

    OMP_WAIT_POLICY=PASSIVE OPENBLAS_THREAD_TIMEOUT=4 .venv/bin/python benchmarks/ort_profile.py
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

import onnxruntime as ort
import torch

import dsconv
from dsconv.kernels.bench.models import calibrate_batch_norms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mobilenet_v1")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = dsconv.create_model(args.model)
    calibrate_batch_norms(model, 224)
    x = torch.randn(args.batch, 3, 224, 224)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (x,), str(path), input_names=["x"], output_names=["y"], opset_version=17,
                              dynamo=False)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = args.threads, 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.enable_profiling, opts.profile_file_prefix = True, str(Path(tmp) / "profile")
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        feed = {"x": x.numpy()}
        for _ in range(10):
            sess.run(None, feed)
        totals = []
        for _ in range(args.calls):
            t0 = time.perf_counter()
            sess.run(None, feed)
            totals.append(time.perf_counter() - t0)
        events = json.loads(Path(sess.end_profiling()).read_text())
    per_node: dict[str, list[float]] = collections.defaultdict(list)
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            per_node[e["name"].removesuffix("_kernel_time")].append(e["dur"])
    kinds: dict[str, float] = collections.defaultdict(float)
    for name, durations in per_node.items():
        us = statistics.median(durations[10:] or durations)  # the profiler also records the 10 warm-up calls
        kind = "pointwise" if "conv_pw" in name else "depthwise" if "conv_dw" in name else "other"
        kinds[kind] += us
        print(f"{us:8.0f} us  {name}")
    print("summed node medians (ms): " + ", ".join(f"{k} {v / 1e3:.2f}" for k, v in kinds.items())
          + f"; whole run() median {statistics.median(totals) * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
