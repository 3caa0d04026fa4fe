"""Argument normalisation shared by the layers (run once, in ``__init__``)."""

from __future__ import annotations

from typing import Any

from dsconv._validation import _received
from dsconv.functional.shapes import Pads, normalize_padding, resolve_padding


def check_bool(value: Any, name: str) -> bool:
    """Return ``value`` if it is a bool, else raise TypeError (0/1 are rejected to catch swapped arguments)."""
    if not isinstance(value, bool):
        raise TypeError(f"`{name}` must be a bool. {_received(name, value)}")
    return value


def layer_padding(
    padding: Any, kernel_size: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...]
) -> tuple[str | Pads, str, list[int]]:
    """Validate a layer's padding once.

    Returns:
        ``(normalized, kind, flat_pads)``: the normalised form (``"valid"``, ``"same"``, ``"causal"`` or
        ``((before, after), ...)``), ``"same"`` when the pads must be resolved per input size (TensorFlow's
        rule depends on it under a stride) else ``"explicit"``, and the explicit pads flattened as
        ``[before_0, after_0, ...]`` (zeros for ``"same"``).
    """
    n = len(kernel_size)
    normalized = normalize_padding(padding, n)
    if normalized == "same":
        return normalized, "same", [0] * (2 * n)
    # "valid", "causal" and explicit pairs do not depend on the input size; any size resolves them.
    pads = resolve_padding(normalized, (1,) * n, kernel_size, stride, dilation)
    return normalized, "explicit", [p for pair in pads for p in pair]
