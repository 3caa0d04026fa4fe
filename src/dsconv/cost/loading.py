"""Building the model that ``dsconv profile`` profiles: a registered name or ``pkg.module:factory``."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

__all__ = ["load_model", "model_input_size"]


def load_model(name: str | None = None, *, module: str | None = None, **factory_kwargs: Any) -> Any:
    """Create a model from the zoo (``dsconv.models.create_model(name, ...)``) or from ``module``.

    Args:
        name: a registered model name (see ``dsconv.models.list_models()``).
        module: instead of ``name``, ``"package.module:factory"``; the factory is called with
            ``factory_kwargs`` and must return a ``torch.nn.Module``.
        factory_kwargs: passed on (e.g. ``width``, ``resolution``, ``num_classes``, ``in_channels``);
            ``None`` values are left out so each factory keeps its defaults.

    Returns:
        The model.
    """
    kwargs = {k: v for k, v in factory_kwargs.items() if v is not None}
    if (name is None) == (module is None):
        raise ValueError(f"Give exactly one of `name` and `module`. Received name={name!r}, module={module!r}")
    if name is not None:
        from dsconv.models import create_model

        return create_model(name, **kwargs)
    factory = _import_factory(module)
    model = factory(**kwargs)
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"`module` factory must return a torch.nn.Module. Received module={module!r} "
                        f"returning {type(model).__name__}")
    return model


def model_input_size(model: Any, input_size: Sequence[int] | None = None) -> tuple[int, ...]:
    """``input_size`` if given, else the model's ``default_input_size``."""
    if input_size is not None:
        return tuple(input_size)
    default = getattr(model, "default_input_size", None)
    if default is None:
        raise ValueError(
            f"`input_size` is required: {type(model).__name__} has no `default_input_size`. Received input_size=None"
        )
    return tuple(default)


def _import_factory(spec: str) -> Any:
    if not isinstance(spec, str) or spec.count(":") != 1 or not all(spec.split(":")):
        raise ValueError(f"`module` must look like 'package.module:factory'. Received module={spec!r}")
    module_name, attr = spec.split(":")
    try:
        mod = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"`module` must name an importable module ({exc}). Received module={spec!r}") from exc
    factory = getattr(mod, attr, None)
    if not callable(factory):
        raise ValueError(f"`module` must name a callable in {module_name}. Received module={spec!r}")
    return factory
