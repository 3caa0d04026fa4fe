"""Whole-model benchmark: PyTorch eager (NCHW and channels_last), ``dsconv.optimize`` and ONNX Runtime,
interleaved in one run (and, where oneDNN runs bfloat16, ``dsconv.optimize(..., dtype=torch.bfloat16)`` next
to PyTorch's bfloat16 ``channels_last`` eager model), plus how time scales with batch, resolution and width."""

from __future__ import annotations

import copy
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
    max_abs_output: float = 0.0  # the scale that difference is measured against (eager output)
    max_abs_diff_bf16: float | None = None  # the bfloat16 dsconv.optimize vs float32 eager, when timed
    max_abs_diff_torch_bf16: float | None = None  # PyTorch's bfloat16 eager model vs float32 eager, the same

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


def calibrate_batch_norms(model, resolution: int, batch: int = 4) -> None:
    """Give every batch norm of ``model`` the running statistics of one batch of random inputs (in place).

    With freshly initialised statistics (mean 0, variance 1) the activations of an untrained MobileNet shrink
    by orders of magnitude per block (to about 1e-10 at the last one), so its output is just the classifier's
    bias and comparing two implementations on it tests nothing. One train-mode pass with momentum 1 sets the
    statistics to those of the data, as a trained network's are, and keeps the activations at unit scale.
    """
    import torch
    from torch import nn

    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.momentum = 1.0
    gen = torch.Generator().manual_seed(1)
    model.train()
    with torch.no_grad():
        model(torch.randn(batch, 3, resolution, resolution, generator=gen))
    model.eval()
    for m, momentum in zip(norms, saved):
        m.momentum = momentum


def model_row(name: str, batch: int, resolution: int, width: float, *, repeats: int, threads: int,
              onnx: bool = True, bf16: bool = True) -> ModelRow:
    """Time one model configuration for every implementation (inference, fp32; with ``bf16`` and where oneDNN
    runs bfloat16, also ``dsconv_bf16`` and ``torch_eager_bf16_cl``)."""
    import torch

    import dsconv
    from dsconv.kernels.bench.layers import matmul_variants
    from dsconv.kernels.modules import MATMULS, bf16_available, resolve_matmul

    torch.manual_seed(0)
    model = dsconv.create_model(name, width=width, resolution=resolution)
    calibrate_batch_norms(model, resolution)
    fast = dsconv.optimize(model)
    x = torch.randn(batch, 3, resolution, resolution)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    model_cl = dsconv.create_model(name, width=width, resolution=resolution).eval()
    model_cl.load_state_dict(model.state_dict())
    model_cl = model_cl.to(memory_format=torch.channels_last)
    fns = {"dsconv": lambda: fast(x)}
    for column, m in matmul_variants(MATMULS, resolve_matmul)[1:]:
        fns[column] = lambda f=dsconv.optimize(model, matmul=m): f(x)
    fns.update(torch_eager=lambda: model(x), torch_eager_cl=lambda: model_cl(x_cl))
    diff_bf16 = diff_torch_bf16 = None
    with torch.inference_mode():
        y = model(x)
        diff, scale = float((fast(x) - y).abs().max()), float(y.abs().max())
        if bf16 and bf16_available():
            fast_bf16 = dsconv.optimize(model, dtype=torch.bfloat16)
            model_bf16, x_bf16 = copy.deepcopy(model_cl).bfloat16(), x_cl.bfloat16()  # .bfloat16() is in place
            fns.update(dsconv_bf16=lambda: fast_bf16(x), torch_eager_bf16_cl=lambda: model_bf16(x_bf16))
            diff_bf16 = float((fast_bf16(x).float() - y).abs().max())
            diff_torch_bf16 = float((model_bf16(x_bf16).float() - y).abs().max())
        if onnx:
            fns["onnxruntime"] = _ort_session(model, x, threads)
        times, best = median_and_best(fns, repeats=repeats)
    return ModelRow(name, batch, resolution, width, times, best, diff, scale, diff_bf16, diff_torch_bf16)


def scaling_rows(name: str, *, quick: bool, repeats: int, threads: int) -> list[ModelRow]:
    """Time vs batch (at 224, width 1), resolution (batch 1) and width (batch 1, 224)."""
    if quick:
        configs = [(1, 64, 0.25), (2, 64, 0.25)]
    else:
        configs = [(b, 224, 1.0) for b in (1, 2, 4, 8)]
        configs += [(1, r, 1.0) for r in (128, 160, 192)]
        configs += [(1, 224, w) for w in (0.25, 0.5, 0.75)]
    return [model_row(name, b, r, w, repeats=repeats, threads=threads, onnx=False, bf16=False) for b, r, w in configs]

