"""The saved-model formats ``dsconv convert`` reads and writes.

Two inputs are accepted:

- a whole pickled module, as written by ``torch.save(model, path)``. Loading it unpickles arbitrary
  Python objects (``torch.load(..., weights_only=False)``), which can run code: **only load files you
  trust** (your own checkpoints);
- a state dict (``torch.save(model.state_dict(), path)``, loaded with ``weights_only=True``, safe) together
  with ``factory="package.module:function"``, a zero-argument callable (or one taking ``factory_kwargs``)
  that builds the architecture.

The converted model is written as a whole pickled module (its classes are dsconv's and torch's), atomically.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import torch
from torch import nn

from dsconv._io import atomic_path


def _resolve_factory(factory: str) -> Any:
    module_name, sep, attr = factory.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"`factory` must look like 'package.module:function'. Received factory={factory!r}")
    try:
        obj = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"`factory` must name an importable module ({exc}). Received factory={factory!r}") from exc
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"`factory` must name an existing callable. Received factory={factory!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"`factory` must name a callable. Received factory={factory!r}")
    return obj


def load_model(path: str | os.PathLike[str], *, factory: str | None = None, factory_kwargs: dict | None = None) -> nn.Module:
    """Load a model saved by ``torch.save(model)`` (trusted files only) or a state dict plus ``factory``.

    Args:
        path: the file.
        factory: ``"package.module:function"`` building the architecture; ``path`` is then a state dict.
        factory_kwargs: keyword arguments for the factory.

    Returns:
        The model, in eval mode.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"`path` must be an existing model file. Received path={str(path)!r}")
    if factory is None:
        model = torch.load(path, map_location="cpu", weights_only=False)  # trusted input: see module docstring
    else:
        model = _resolve_factory(factory)(**(factory_kwargs or {}))
        try:
            model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        except RuntimeError as exc:  # missing / unexpected keys, shape mismatches
            raise ValueError(f"`path` must hold a state dict matching `factory`'s model: {exc}. Received factory={factory!r}") from exc
    if not isinstance(model, nn.Module):
        raise TypeError(f"`path` must hold a torch.nn.Module (or a state dict with `factory`). Received {type(model).__name__}")
    return model.eval()


def save_model(model: nn.Module, path: str | os.PathLike[str]) -> None:
    """Write ``model`` as a whole pickled module, atomically (``dsconv._io.atomic_path``)."""
    with atomic_path(path) as tmp:
        torch.save(model, tmp)
