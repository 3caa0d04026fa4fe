"""Training: ``fit`` (single process or DDP under ``torchrun``), ``evaluate``, checkpoints and run logs.

Imported lazily so ``import dsconv.train`` does not import torch until a function is used.
"""

from __future__ import annotations

from dsconv._lazy import lazy_getattr

_EXPORTS = {
    "TrainConfig": "dsconv.train.config",
    "fit": "dsconv.train.loop",
    "evaluate": "dsconv.train.loop",
    "TrainResult": "dsconv.train.loop",
    "train": "dsconv.train.api",
    "model_spec_for": "dsconv.train.api",
    "evaluate_checkpoint": "dsconv.train.api",
    "build_model": "dsconv.train.checkpoint",
    "load_model": "dsconv.train.checkpoint",
    "read_checkpoint": "dsconv.train.checkpoint",
    "save_checkpoint": "dsconv.train.checkpoint",
    "confusion_matrix": "dsconv.train.runlog",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
