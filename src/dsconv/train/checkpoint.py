"""Checkpoints: model + optimizer + scheduler state, written atomically, loaded with clear errors.

A checkpoint is a ``torch.save`` dict of plain types (loadable with ``weights_only=True``):
``format``, ``model_spec`` (how to rebuild the model: a zoo name or a ``module:factory`` with its
keyword arguments, or ``None`` for a module built by the caller), ``model_class``, ``model_state``,
``optimizer_state``, ``scheduler_state``, ``epoch`` (epochs completed), ``history``, ``classes``,
``sample_shape``, ``config``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path
from typing import Any

from dsconv._io import atomic_path

FORMAT = "dsconv-checkpoint-1"


def build_model(spec: dict[str, Any]) -> Any:
    """Rebuild a model from a ``model_spec``: ``{"name": zoo_name, "kwargs": {...}}`` or ``{"factory": "mod:fn", ...}``.

    ``factory`` is ``package.module:callable`` or ``path/to/file.py:callable``.
    """
    kwargs = dict(spec.get("kwargs") or {})
    if "name" in spec:
        from dsconv.models import create_model

        return create_model(spec["name"], **kwargs)
    return resolve_factory(spec["factory"])(**kwargs)


def resolve_factory(factory: str) -> Any:
    """Import ``module:callable`` (a dotted module or a ``.py`` file path) and return the callable."""
    module_name, sep, attr = factory.rpartition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"`model` factory must look like 'module:function' or 'file.py:function'. Received model={factory!r}")
    if module_name.endswith(".py"):
        path = Path(module_name)
        if not path.is_file():
            raise FileNotFoundError(f"`model` factory file must exist. Received model={factory!r}")
        spec = importlib.util.spec_from_file_location(f"dsconv_user_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    else:
        module = importlib.import_module(module_name)
    if not callable(getattr(module, attr, None)):
        raise ValueError(f"`model` factory {attr!r} must be a callable in {module_name!r}. Received model={factory!r}")
    return getattr(module, attr)


def save_checkpoint(path: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
    """Write ``payload`` (see the module docstring) to ``path`` atomically."""
    import torch

    with atomic_path(path) as tmp:
        torch.save({"format": FORMAT, **payload}, tmp)
    return Path(path)


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a checkpoint dict (tensors on CPU), rejecting files that are not dsconv checkpoints."""
    import pickle

    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"`checkpoint` must be an existing file. Received checkpoint={str(path)!r}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, ValueError, OSError) as exc:
        raise ValueError(f"`checkpoint` must be a readable dsconv checkpoint. Received checkpoint={str(path)!r} ({exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"`checkpoint` must be written by dsconv train ({FORMAT}). Received checkpoint={str(path)!r}")
    return payload


def check_compatible(payload: dict[str, Any], model: Any, path: str | os.PathLike[str]) -> None:
    """Raise ValueError naming the differences if ``payload`` holds weights of a different model."""
    state = payload["model_state"]
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in state.items()}
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    mismatched = sorted(k for k in set(expected) & set(found) if expected[k] != found[k])
    if missing or unexpected or mismatched:
        detail = "; ".join(
            f"{label}: {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''} ({len(keys)})"
            for label, keys in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", mismatched))
            if keys
        )
        raise ValueError(
            f"`checkpoint` must hold weights of this model ({type(model).__name__}). Received checkpoint="
            f"{str(path)!r} written for {payload.get('model_class')!r} {payload.get('model_spec')!r}: {detail}"
        )


def load_model(path: str | os.PathLike[str], model: Any | None = None) -> tuple[Any, dict[str, Any]]:
    """Rebuild (or fill ``model``) from a checkpoint; returns ``(model, payload)`` with the model in eval mode."""
    payload = read_checkpoint(path)
    if model is None:
        if payload.get("model_spec") is None:
            raise ValueError(
                f"`checkpoint` holds a caller-built model; pass `model` to load it into. Received checkpoint={str(path)!r}"
            )
        model = build_model(payload["model_spec"])
    check_compatible(payload, model, path)
    model.load_state_dict(payload["model_state"])
    return model.eval(), payload
