"""``export_model``: a zoo name or a ``dsconv train`` checkpoint -> ONNX / TorchScript (+ BN folding, + int8)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from dsconv._validation import check_choice, check_positive
from dsconv.export.formats import FORMATS, export_onnx, export_torchscript
from dsconv.export.quantize import MODES, compare_onnx, quantize_onnx


def resolve_model(ref: str, model_kwargs: dict[str, Any] | None = None) -> tuple[Any, tuple[int, ...], dict[str, Any] | None]:
    """``(model, input_shape, checkpoint_payload)`` for a checkpoint path or a registered zoo name.

    Checkpoints rebuild their model from the recorded ``model_spec`` and know their sample shape; zoo
    models are created with ``model_kwargs`` and use ``model.default_input_size``.
    """
    import torch

    if not isinstance(ref, str) or not ref:
        raise TypeError(f"`model` must be a zoo name or a checkpoint path. Received model={ref!r}")
    if Path(ref).is_file():
        from dsconv.train.checkpoint import load_model

        model, payload = load_model(ref)
        return model, tuple(payload["sample_shape"]), payload
    from dsconv.models import create_model, list_models

    if ref not in list_models():
        raise ValueError(f"`model` must be a registered zoo name (dsconv.models.list_models()) or an existing checkpoint. "
                         f"Received model={ref!r}")
    torch.manual_seed(0)
    model = create_model(ref, **(model_kwargs or {})).eval()
    return model, tuple(model.default_input_size), None


def _data_arrays(data: str, payload: dict[str, Any] | None, input_shape: tuple[int, ...], size: int | None, n: int,
                 seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Up to ``n`` validation samples (inputs, labels) of data set ``data``, prepared as in training."""
    from dsconv.data import load_dataset

    config = (payload or {}).get("config", {})
    extra = config.get("extra", {})
    if size is None and payload is None and len(input_shape) == 3:
        size = input_shape[-1]  # a zoo model: images at the model's resolution
    splits = load_dataset(data, size=size or extra.get("size"), in_channels=input_shape[0],
                          val_fraction=extra.get("val_fraction", 0.2), seed=config.get("seed", seed))
    count = min(n, len(splits.val))
    samples = [splits.val[i] for i in range(count)]
    x = np.stack([s[0] for s in samples]).astype(np.float32)
    if splits.task != "classification":  # regression targets: calibration only, no accuracy
        return x, None
    return x, np.array([s[1] for s in samples], dtype=np.int64)


def export_model(model: str, out: str | os.PathLike[str], *, format: str = "onnx", fold: bool = False,
                 quantize: str | None = None, data: str | None = None, model_kwargs: dict[str, Any] | None = None,
                 size: int | None = None, samples: int = 256, seed: int = 0) -> dict[str, Any]:
    """Export ``model`` (zoo name or checkpoint) to ``out``; optionally fold BN and quantise to int8.

    Args:
        model: a registered zoo name (built with ``model_kwargs``) or a checkpoint written by ``dsconv train``.
        out: the output file (``.onnx`` / ``.pt``); the int8 model goes next to it as ``<stem>.int8.onnx``.
        format: ``"onnx"`` or ``"torchscript"``.
        fold: fold batch norm into the convolutions first (conv -> BN -> activation becomes conv -> activation).
        quantize: ``None``, ``"static"`` or ``"dynamic"`` int8 post-training quantisation (ONNX only).
        data: data set for calibration and the accuracy comparison (defaults to the checkpoint's training data).
        model_kwargs: zoo factory arguments (``num_classes``, ``in_channels``, ``width``, ``resolution``).
        size: image side for image data (defaults to the checkpoint's).
        samples: validation samples used for calibration and accuracy.
        seed: seed of the random parity inputs.

    Returns:
        A JSON-serialisable report: ``export`` (path, size, parity), ``fold`` and ``quantization`` entries.
    """
    import torch

    format = check_choice(format, FORMATS, "format")
    samples = check_positive(samples, "samples")
    if quantize is not None:
        check_choice(quantize, MODES, "quantize")
        if format != "onnx":
            raise ValueError(f"`quantize` needs format='onnx' (ONNX Runtime quantisation). Received format={format!r}")
    net, input_shape, payload = resolve_model(model, model_kwargs)
    data = data or (payload or {}).get("config", {}).get("data")
    if quantize == "static" and not data:
        raise ValueError("`data` must name a data set for static quantisation (calibration and accuracy). Received data=None")
    arrays = _data_arrays(data, payload, input_shape, size, samples, seed) if data and (quantize or fold) else None
    report: dict[str, Any] = {"model": model, "input_shape": list(input_shape)}
    if fold:
        from dsconv.export.fold import fold_bn

        example = torch.from_numpy(arrays[0][:8]) if arrays is not None else torch.randn(4, *input_shape)
        net, fold_report = fold_bn(net, example)
        report["fold"] = {"pairs": fold_report.pairs, "fused_with_activation": fold_report.fused,
                          "max_abs_diff": fold_report.max_abs_diff}
    exporter = export_onnx if format == "onnx" else export_torchscript
    report["export"] = exporter(net, input_shape, out, seed=seed).to_dict()
    if quantize is not None:
        report["quantization"] = _quantize(Path(out), quantize, arrays, input_shape, seed)
    return report


def _quantize(out: Path, mode: str, arrays: tuple[np.ndarray, np.ndarray | None] | None, input_shape: tuple[int, ...],
              seed: int) -> dict[str, Any]:
    int8_path = out.with_name(out.stem + ".int8.onnx")
    x, y = arrays if arrays is not None else (np.random.default_rng(seed).standard_normal((64, *input_shape)).astype(np.float32), None)
    quantize_onnx(out, int8_path, mode=mode, calibration=x)
    return compare_onnx(out, int8_path, x, y, mode=mode).to_dict()
