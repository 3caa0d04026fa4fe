"""ONNX and TorchScript export with a parity check (ONNX Runtime / the reloaded TorchScript module).

Both exporters are called inside a ``warnings`` filter: PyTorch marks ``torch.jit.trace`` as deprecated
and its ONNX exporter raises internal ``FutureWarning``s; dsconv still uses them deliberately (TorchScript
is the format the issue asks for), so their deprecation notices are not the user's concern.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dsconv._io import atomic_path

FORMATS = ("onnx", "torchscript")


@dataclass
class ExportReport:
    """An exported file and how closely it reproduces the PyTorch model."""

    path: Path
    format: str
    size_bytes: int
    max_abs_diff: float
    batch_sizes_checked: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {"path": str(self.path), "format": self.format, "size_bytes": self.size_bytes,
                "max_abs_diff": self.max_abs_diff, "batch_sizes_checked": list(self.batch_sizes_checked)}


@contextlib.contextmanager
def quiet_exporters() -> Iterator[None]:
    """Silence PyTorch's exporter deprecation / internal future warnings for the duration of an export."""
    import logging

    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            warnings.filterwarnings("ignore", category=FutureWarning)
            warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.")
            # Input-shape checks in forward() become trace-time constants: expected, the parity check covers it.
            warnings.filterwarnings("ignore", message=r"Converting a tensor to a Python")
            yield
    finally:
        logger.setLevel(level)


def ort_session(path: str | os.PathLike[str]) -> Any:
    """An ONNX Runtime CPU inference session."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def ort_run(session: Any, x: np.ndarray) -> np.ndarray:
    """Run ``session`` on one float32 batch; returns the first output."""
    return session.run(None, {session.get_inputs()[0].name: np.ascontiguousarray(x, dtype=np.float32)})[0]


def export_onnx(model: Any, input_shape: tuple[int, ...], path: str | os.PathLike[str], *, opset: int = 18,
                seed: int = 0) -> ExportReport:
    """Export ``model`` to ONNX (dynamic batch) and check it against ONNX Runtime.

    Args:
        model: a ``torch.nn.Module`` (exported in eval mode).
        input_shape: one sample's shape ``(C, *spatial)``.
        path: destination ``.onnx`` (written atomically).
        opset: ONNX opset.
        seed: seeds the random check inputs.

    Returns:
        :class:`ExportReport` with the largest |ONNX Runtime - PyTorch| output difference over batches 1 and 3.
    """
    import torch

    model = model.eval()
    example = torch.randn(2, *input_shape)
    with atomic_path(path) as tmp, quiet_exporters():
        program = torch.onnx.export(model, (example,), input_names=["input"], output_names=["logits"],
                                    dynamic_shapes=({0: torch.export.Dim("batch", min=1)},), opset_version=opset,
                                    dynamo=True, verbose=False)
        program.save(str(tmp))
    session = ort_session(path)
    diff = _parity(lambda x: ort_run(session, x), model, input_shape, seed)
    return ExportReport(Path(path), "onnx", Path(path).stat().st_size, diff, (1, 3))


def export_torchscript(model: Any, input_shape: tuple[int, ...], path: str | os.PathLike[str], *, seed: int = 0) -> ExportReport:
    """Trace ``model`` to TorchScript, save it atomically, reload it and check the round trip.

    Returns:
        :class:`ExportReport` with the largest |reloaded - original| output difference over batches 1 and 3.
    """
    import torch

    model = model.eval()
    with atomic_path(path) as tmp, quiet_exporters():
        traced = torch.jit.trace(model, torch.randn(2, *input_shape), check_trace=False)
        torch.jit.save(traced, str(tmp))
    with quiet_exporters():
        loaded = torch.jit.load(str(path), map_location="cpu")

    def run_loaded(x: np.ndarray) -> np.ndarray:
        with torch.no_grad(), quiet_exporters():
            return loaded(torch.from_numpy(x)).numpy()

    diff = _parity(run_loaded, model, input_shape, seed)
    return ExportReport(Path(path), "torchscript", Path(path).stat().st_size, diff, (1, 3))


def _parity(run: Any, model: Any, input_shape: tuple[int, ...], seed: int) -> float:
    import torch

    rng = np.random.default_rng(seed)
    worst = 0.0
    for batch in (1, 3):
        x = rng.standard_normal((batch, *input_shape)).astype(np.float32)
        with torch.no_grad():
            expected = model(torch.from_numpy(x)).numpy()
        worst = max(worst, float(np.abs(run(x) - expected).max()))
    return worst
