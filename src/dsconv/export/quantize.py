"""Post-training int8 quantisation with ONNX Runtime, reporting the size and accuracy change.

``static`` (default): weights int8 per output channel, activations uint8 with ranges calibrated on
real samples (``quantize_static``, QDQ format, MinMax calibration); ``dynamic``: weights int8, activation
ranges computed at run time (``quantize_dynamic``, no calibration data needed).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dsconv._io import atomic_path
from dsconv._validation import check_choice, check_positive
from dsconv.export.formats import ort_run, ort_session, quiet_exporters

MODES = ("static", "dynamic")


@dataclass
class QuantReport:
    """Sizes and accuracies of the float32 and int8 ONNX models (accuracies need labelled data)."""

    fp32_path: Path
    int8_path: Path
    mode: str
    fp32_bytes: int
    int8_bytes: int
    fp32_accuracy: float | None
    int8_accuracy: float | None
    agreement: float
    samples: int
    max_abs_diff: float

    @property
    def size_ratio(self) -> float:
        """int8 size / float32 size."""
        return self.int8_bytes / self.fp32_bytes

    @property
    def accuracy_change(self) -> float | None:
        """int8 accuracy - float32 accuracy (``None`` without labels)."""
        if self.fp32_accuracy is None or self.int8_accuracy is None:
            return None
        return self.int8_accuracy - self.fp32_accuracy

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {"fp32_path": str(self.fp32_path), "int8_path": str(self.int8_path), "mode": self.mode,
                "fp32_bytes": self.fp32_bytes, "int8_bytes": self.int8_bytes, "size_ratio": self.size_ratio,
                "fp32_accuracy": self.fp32_accuracy, "int8_accuracy": self.int8_accuracy,
                "accuracy_change": self.accuracy_change, "top1_agreement": self.agreement, "samples": self.samples,
                "max_abs_diff": self.max_abs_diff}

    def summary(self) -> str:
        """A few human-readable lines."""
        lines = [f"int8 ({self.mode}) {self.int8_path}: {self.int8_bytes} bytes vs {self.fp32_bytes} float32 "
                 f"({self.size_ratio:.2f}x)", f"top-1 agreement with float32 on {self.samples} samples: {self.agreement:.4f}, "
                 f"max |int8 - float32| output {self.max_abs_diff:.3g}"]
        if self.accuracy_change is not None:
            lines.append(f"accuracy float32 {self.fp32_accuracy:.4f} -> int8 {self.int8_accuracy:.4f} "
                         f"({self.accuracy_change:+.4f})")
        return "\n".join(lines)


class _Reader:
    """ONNX Runtime's CalibrationDataReader protocol over batches of a float32 array."""

    def __init__(self, input_name: str, samples: np.ndarray, batch_size: int) -> None:
        self.input_name, self.samples, self.batch_size = input_name, samples, batch_size
        self._batches: Iterator[np.ndarray] = iter(())
        self.rewind()

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._batches, None)
        return None if batch is None else {self.input_name: batch}

    def rewind(self) -> None:
        self._batches = iter([self.samples[i : i + self.batch_size] for i in range(0, len(self.samples), self.batch_size)])


def quantize_onnx(fp32_path: str | os.PathLike[str], int8_path: str | os.PathLike[str], *, mode: str = "static",
                  calibration: np.ndarray | None = None, batch_size: int = 32) -> Path:
    """Write an int8 version of the ONNX model at ``fp32_path`` to ``int8_path`` (atomically).

    Args:
        fp32_path: a float32 ONNX model with one input.
        int8_path: destination.
        mode: ``"static"`` (needs ``calibration``) or ``"dynamic"``.
        calibration: float32 samples ``(N, *input_shape)`` for static range calibration.
        batch_size: calibration batch size.
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_dynamic, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    mode = check_choice(mode, MODES, "mode")
    batch_size = check_positive(batch_size, "batch_size")
    if mode == "static" and (calibration is None or len(calibration) == 0):
        raise ValueError("`calibration` must hold samples for static quantisation. Received calibration=None")
    with tempfile.TemporaryDirectory(prefix="dsconv-quant-") as work, atomic_path(int8_path) as tmp, quiet_exporters():
        # ONNX Runtime's recommended pre-processing (shape inference + graph optimisation) before quantising.
        prepared = str(Path(work) / "prepared.onnx")
        quant_pre_process(str(fp32_path), prepared)
        if mode == "dynamic":
            quantize_dynamic(prepared, str(tmp), weight_type=QuantType.QInt8, per_channel=True)
        else:
            reader = _Reader(ort_session(fp32_path).get_inputs()[0].name, calibration.astype(np.float32), batch_size)
            quantize_static(prepared, str(tmp), reader, quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            calibrate_method=CalibrationMethod.MinMax)
    return Path(int8_path)


def compare_onnx(fp32_path: str | os.PathLike[str], int8_path: str | os.PathLike[str], x: np.ndarray,
                 y: np.ndarray | None = None, *, mode: str = "static", batch_size: int = 64) -> QuantReport:
    """Evaluate the float32 and int8 ONNX models on ``x`` (and labels ``y``): sizes, accuracies, agreement."""
    fp32, int8 = ort_session(fp32_path), ort_session(int8_path)
    pred32, pred8, worst = [], [], 0.0
    for i in range(0, len(x), batch_size):
        batch = x[i : i + batch_size]
        out32, out8 = ort_run(fp32, batch), ort_run(int8, batch)
        worst = max(worst, float(np.abs(out32 - out8).max()))
        pred32.append(out32.argmax(1))
        pred8.append(out8.argmax(1))
    p32, p8 = np.concatenate(pred32), np.concatenate(pred8)
    acc32 = float((p32 == y).mean()) if y is not None else None
    acc8 = float((p8 == y).mean()) if y is not None else None
    return QuantReport(Path(fp32_path), Path(int8_path), mode, Path(fp32_path).stat().st_size,
                       Path(int8_path).stat().st_size, acc32, acc8, float((p32 == p8).mean()), len(x), worst)
