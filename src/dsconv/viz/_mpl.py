"""Matplotlib set-up shared by the plots: the Agg backend, one style, atomic PNG writes."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from dsconv._io import atomic_write_bytes

COLORS = {
    "standard": "#1f77b4",
    "separable": "#d62728",
    "separable_m2": "#2ca02c",
    "separable_relu": "#ff7f0e",
    "separable_x2": "#9467bd",
    "early_separable": "#ff7f0e",
    "late_separable": "#d62728",
    "target": "#555555",
}


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def color(name: str) -> str:
    """The colour of a model or variant name (a neutral grey for unknown names)."""
    return COLORS.get(name, "#7f7f7f")


def save(fig: Any, path: str | os.PathLike[str], *, dpi: int = 110) -> Path:
    """Render ``fig`` to PNG, write it atomically to ``path``, close the figure, return the path."""
    target = Path(path)
    if not target.parent.is_dir():
        raise FileNotFoundError(f"`path` must be in an existing folder. Received path={str(target)!r}")
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=dpi)
    pyplot().close(fig)
    return atomic_write_bytes(target, buffer.getvalue())


def require(result: dict[str, Any], keys: tuple[str, ...], name: str = "result") -> None:
    """Raise a clear error when an experiment result lacks what a plot draws."""
    if not isinstance(result, dict):
        raise TypeError(f"`{name}` must be an experiment result dict. Received {name} of type {type(result).__name__}")
    missing = [k for k in keys if k not in result]
    if missing:
        raise ValueError(f"`{name}` must contain {', '.join(repr(k) for k in keys)}. Received {name} missing {missing}")
