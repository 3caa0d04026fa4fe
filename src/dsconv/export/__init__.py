"""Deployment: ONNX / TorchScript export with parity checks, BN folding, int8 quantisation, weight interop.

Imported lazily: ``import dsconv.export`` pulls in neither torch nor onnxruntime.
"""

from __future__ import annotations

from dsconv._lazy import lazy_getattr

_EXPORTS = {
    "export_model": "dsconv.export.api",
    "resolve_model": "dsconv.export.api",
    "export_onnx": "dsconv.export.formats",
    "export_torchscript": "dsconv.export.formats",
    "ExportReport": "dsconv.export.formats",
    "fold_bn": "dsconv.export.fold",
    "FoldReport": "dsconv.export.fold",
    "quantize_onnx": "dsconv.export.quantize",
    "compare_onnx": "dsconv.export.quantize",
    "QuantReport": "dsconv.export.quantize",
    "to_keras_weights": "dsconv.export.interop",
    "load_keras_weights": "dsconv.export.interop",
    "write_keras_h5": "dsconv.export.interop",
    "read_keras_h5": "dsconv.export.interop",
    "to_torchvision_state_dict": "dsconv.export.interop",
    "load_torchvision_state_dict": "dsconv.export.interop",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
