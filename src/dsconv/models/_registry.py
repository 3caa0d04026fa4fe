"""The model registry: ``register_model``, ``create_model``, ``list_models``.

A model is registered by decorating its factory; the factory's name is the model's name. Registering a
name twice is an error, so two families can never silently shadow each other.
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_MODELS: dict[str, Callable[..., Any]] = {}


def register_model(fn: F) -> F:
    """Register a model factory under its ``__name__``.

    Args:
        fn: a factory taking keyword arguments only and returning a ``torch.nn.Module``.

    Returns:
        ``fn`` unchanged (usable as a decorator).

    Raises:
        ValueError: if a model of that name is already registered.
    """
    if not callable(fn):
        raise TypeError(f"`fn` must be a callable model factory. Received fn={fn!r}")
    name = fn.__name__
    if name in _MODELS:
        raise ValueError(f"`name` must be unique: a model named {name!r} is already registered. Received name={name!r}")
    _MODELS[name] = fn
    return fn


def list_models(pattern: str = "*") -> list[str]:
    """Sorted names of the registered models matching a shell-style ``pattern`` (e.g. ``"mobilenet*"``)."""
    if not isinstance(pattern, str):
        raise TypeError(f"`pattern` must be a string. Received pattern={pattern!r}")
    return sorted(fnmatch.filter(_MODELS, pattern))


def _check_kwargs(name: str, factory: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    accepted = [p for p in inspect.signature(factory).parameters if p != "kwargs"]
    for key in kwargs:
        if key not in accepted:
            hint = difflib.get_close_matches(key, accepted, n=3)
            suggestion = f" Did you mean {', '.join(repr(h) for h in hint)}?" if hint else ""
            raise TypeError(
                f"`{key}` is not an argument of model {name!r}; it accepts {', '.join(accepted)}.{suggestion} "
                f"Received {key}={kwargs[key]!r}"
            )


def create_model(name: str, **kwargs: Any) -> Any:
    """Build a registered model.

    Args:
        name: a name from ``list_models()``.
        **kwargs: the factory's arguments (``num_classes``, ``in_channels``, ``width``, ``resolution``,
            ``dense``, and family-specific ones such as EfficientNet's ``depth``).

    Returns:
        The ``torch.nn.Module``; ``model.default_input_size`` is the input shape its cost figures are for.

    Raises:
        ValueError: unknown ``name`` (the message suggests the closest names).
        TypeError: an argument the factory does not take.

    Example:
        >>> model = create_model("mobilenet_v1", width=0.5, resolution=160)
        >>> model.default_input_size
        (3, 160, 160)
    """
    if not isinstance(name, str):
        raise TypeError(f"`name` must be a string. Received name={name!r}")
    if name not in _MODELS:
        close = difflib.get_close_matches(name, list(_MODELS), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(
            f"`name` must be a registered model (see dsconv.models.list_models()).{hint} Received name={name!r}"
        )
    factory = _MODELS[name]
    _check_kwargs(name, factory, kwargs)
    return factory(**kwargs)
