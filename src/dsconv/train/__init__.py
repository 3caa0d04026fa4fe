"""Training: ``fit`` (single process or DDP under ``torchrun``), ``evaluate``, checkpoints and run logs.

Imported lazily so ``import dsconv.train`` does not import torch until a function is used.
"""

from __future__ import annotations

import importlib
from typing import Any

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


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'dsconv.train' has no attribute {name!r}")
