"""dsconv: depthwise and depthwise-separable convolutions.

Sub-packages are imported on first use so that ``import dsconv`` stays fast and NumPy-only:

- ``dsconv.functional``: the NumPy reference ops (the specification);
- ``dsconv.kernels``: fast Numba CPU kernels and the autograd bridge;
- ``dsconv.nn``: PyTorch layers and blocks;
- ``dsconv.models``: the model zoo (``create_model``, ``list_models``);
- ``dsconv.cost``: parameter, MAC, FLOP and memory-traffic figures, ``profile``, roofline;
- ``dsconv.structure`` and ``dsconv.convert``: the rank-1 view and standard-to-separable conversion;
- ``dsconv.experiments``, ``dsconv.viz``, ``dsconv.train``: experiments, pictures, training and export.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = (
    "functional",
    "kernels",
    "nn",
    "models",
    "cost",
    "structure",
    "convert",
    "experiments",
    "viz",
    "train",
    "export",
)
# Public functions that live in a sub-package, exposed at the top level.
_LAZY_FUNCTIONS = {
    "optimize": "dsconv.kernels.optimize",
    "create_model": "dsconv.models",
    "list_models": "dsconv.models",
    "profile": "dsconv.cost",
}

__all__ = ["__version__", *_SUBMODULES, *_LAZY_FUNCTIONS]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _LAZY_FUNCTIONS:
        return getattr(importlib.import_module(_LAZY_FUNCTIONS[name]), name)
    raise AttributeError(f"module 'dsconv' has no attribute {name!r}")
