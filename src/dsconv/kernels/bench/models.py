"""Whole-model benchmark: PyTorch eager (NCHW and channels_last), ``dsconv.optimize`` and ONNX Runtime,
interleaved in one run, plus how time scales with batch, resolution and width."""

from __future__ import annotations

import tempfile
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dsconv.kernels.bench.timing import median_and_best


@dataclass
class ModelRow:
    """One benchmarked model configuration."""

    model: str
    batch: int
    resolution: int
    width: float
    times_s: dict[str, float] = field(default_factory=dict)  # medians
    best_s: dict[str, float] = field(default_factory=dict)  # minima
    max_abs_diff: float = 0.0  # dsconv.optimize vs eager on the benchmark input

    def to_dict(self) -> dict:
        d = asdict(self)
        d["speedup"] = {k: t / self.times_s["dsconv"] for k, t in self.times_s.items() if k != "dsconv"}
        d["speedup_best"] = {k: t / self.best_s["dsconv"] for k, t in self.best_s.items() if k != "dsconv"}
        return d


def _ort_session(model, x, threads: int):
    """Export ``model`` to ONNX (TorchScript exporter) and open an ONNX Runtime session on it."""
    import onnxruntime as ort
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's own deprecation notices are not ours to fix
            torch.onnx.export(model, (x,), str(path), input_names=["x"], output_names=["y"], opset_version=17, dynamo=False)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        # ORT's idle workers spin by default and would steal the 2 cores from the implementations timed next.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    x_np = x.numpy()
    return lambda: sess.run(None, {"x": x_np})


def model_row(name: str, batch: int, resolution: int, width: float, *, repeats: int, threads: int,
              onnx: bool = True) -> ModelRow:
    """Time one model configuration for every implementation (inference, fp32)."""
    import torch

    import dsconv

    torch.manual_seed(0)
    model = dsconv.create_model(name, width=width, resolution=resolution).eval()
    fast = dsconv.optimize(model)
    fast_torch_mm = dsconv.optimize(model, matmul="torch")
    x = torch.randn(batch, 3, resolution, resolution)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    model_cl = dsconv.create_model(name, width=width, resolution=resolution).eval()
    model_cl.load_state_dict(model.state_dict())
    model_cl = model_cl.to(memory_format=torch.channels_last)
    fns = {"dsconv": lambda: fast(x), "dsconv_torch_mm": lambda: fast_torch_mm(x), "torch_eager": lambda: model(x),
           "torch_eager_cl": lambda: model_cl(x_cl)}
    with torch.inference_mode():
        diff = float((fast(x) - model(x)).abs().max())
        if onnx:
            fns["onnxruntime"] = _ort_session(model, x, threads)
        times, best = median_and_best(fns, repeats=repeats)
    return ModelRow(name, batch, resolution, width, times, best, diff)


def scaling_rows(name: str, *, quick: bool, repeats: int, threads: int) -> list[ModelRow]:
    """Time vs batch (at 224, width 1), resolution (batch 1) and width (batch 1, 224)."""
    if quick:
        configs = [(1, 64, 0.25), (2, 64, 0.25)]
    else:
        configs = [(b, 224, 1.0) for b in (1, 2, 4, 8)]
        configs += [(1, r, 1.0) for r in (128, 160, 192)]
        configs += [(1, 224, w) for w in (0.25, 0.5, 0.75)]
    return [model_row(name, b, r, w, repeats=repeats, threads=threads, onnx=False) for b, r, w in configs]

