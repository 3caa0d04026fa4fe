"""Experiments: one module per experiment, each a dataclass ``Config`` and ``run(cfg) -> dict``.

Modules of this package are discovered with :mod:`pkgutil` (names starting with ``_`` are private), so
adding an experiment never edits this file. Each module exposes ``NAME``, ``TITLE``, ``DESCRIPTION``,
``Config`` (defaults are the quick settings; ``Config.full()`` the full ones; a ``seed`` field),
``run(cfg, progress=None) -> dict`` (JSON-serialisable, with a ``"verdict"``) and optionally
``plot(result, out_dir) -> list[Path]``.

Example:
    >>> from dsconv.experiments import list_experiments
    >>> "shift_task" in list_experiments()
    True
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import pkgutil
from collections.abc import Callable
from types import ModuleType
from typing import Any

from dsconv._validation import check_non_negative

__all__ = ["get_experiment", "list_experiments", "make_config", "run_experiment"]

_REQUIRED = ("NAME", "TITLE", "DESCRIPTION", "Config", "run")


def _discover() -> dict[str, ModuleType]:
    """Import every public module of this package and index it by its ``NAME``."""
    found: dict[str, ModuleType] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if not all(hasattr(module, attr) for attr in _REQUIRED):
            continue  # a helper module, not an experiment
        if module.NAME in found:
            raise ValueError(f"Experiment name {module.NAME!r} is defined twice ({info.name}).")
        found[module.NAME] = module
    return found


def list_experiments() -> list[str]:
    """The names of every registered experiment, sorted.

    Returns:
        A list of experiment names, e.g. ``["early_late", "flops_vs_wallclock", ...]``.
    """
    return sorted(_discover())


def get_experiment(name: str) -> ModuleType:
    """The module of experiment ``name``.

    Args:
        name: an experiment name from :func:`list_experiments`.

    Returns:
        The experiment module (``Config``, ``run``, optionally ``plot``).

    Raises:
        ValueError: for an unknown name; the message suggests close names.
    """
    if not isinstance(name, str):
        raise TypeError(f"`name` must be a string. Received name={name!r}")
    registry = _discover()
    if name in registry:
        return registry[name]
    close = difflib.get_close_matches(name, list(registry), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    known = ", ".join(sorted(registry))
    raise ValueError(f"`name` must be a registered experiment ({known}).{hint} Received name={name!r}")


def make_config(name: str, *, full: bool = False, seed: int | None = None, **overrides: Any) -> Any:
    """Build the ``Config`` of experiment ``name``: quick defaults, or ``Config.full()``, plus overrides.

    Args:
        name: an experiment name.
        full: use the full settings instead of the quick ones.
        seed: replaces the config's ``seed`` when given.
        **overrides: other config fields to replace (unknown fields are an error).

    Returns:
        The config dataclass instance.
    """
    module = get_experiment(name)
    cfg = module.Config.full() if full else module.Config()
    fields = {f.name for f in dataclasses.fields(cfg)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"`overrides` must name fields of {name}.Config ({', '.join(sorted(fields))}). "
                         f"Received overrides={unknown}")
    if seed is not None:
        overrides["seed"] = check_non_negative(seed, "seed")
    return dataclasses.replace(cfg, **overrides)


def run_experiment(
    name: str,
    full: bool = False,
    seed: int | None = None,
    *,
    progress: Callable[[str, float], None] | None = None,
) -> dict[str, Any]:
    """Run experiment ``name`` at its quick (default) or full settings.

    Args:
        name: an experiment name from :func:`list_experiments`.
        full: use ``Config.full()``.
        seed: replaces the config's seed when given.
        progress: called as ``progress(message, fraction_done)`` while the experiment runs.

    Returns:
        The JSON-serialisable result, with ``"name"`` and ``"config"`` entries added.
    """
    module = get_experiment(name)
    cfg = make_config(name, full=full, seed=seed)
    result = module.run(cfg, progress=progress)
    return {"name": module.NAME, "title": module.TITLE, "config": dataclasses.asdict(cfg), **result}
