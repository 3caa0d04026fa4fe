"""Argument validation: every argument error dsconv raises is worded here.

Messages follow one pattern: the argument in backticks, the requirement, and
``Received name=value``. Public functions call these helpers at their boundary
so the same text appears everywhere (tests match on it).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

DATA_FORMATS = ("channels_first", "channels_last")


def _received(name: str, value: Any) -> str:
    return f"Received {name}={value!r}"


def check_int(value: Any, name: str) -> int:
    """Return ``value`` as a Python int, or raise TypeError (bools are rejected)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an integer. {_received(name, value)}")
    return int(value)


def check_positive(value: Any, name: str) -> int:
    """Return ``value`` as an int >= 1."""
    value_int = check_int(value, name)
    if value_int < 1:
        raise ValueError(f"`{name}` must be a positive integer (>= 1). {_received(name, value)}")
    return value_int


def check_non_negative(value: Any, name: str) -> int:
    """Return ``value`` as an int >= 0."""
    value_int = check_int(value, name)
    if value_int < 0:
        raise ValueError(f"`{name}` must be a non-negative integer (>= 0). {_received(name, value)}")
    return value_int


def check_positive_float(value: Any, name: str) -> float:
    """Return ``value`` as a finite float > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number. {_received(name, value)}")
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"`{name}` must be a finite number > 0. {_received(name, value)}")
    return float(value)


def check_fraction(value: Any, name: str) -> float:
    """Return ``value`` as a float in (0, 1]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number in (0, 1]. {_received(name, value)}")
    if not (0.0 < float(value) <= 1.0):
        raise ValueError(f"`{name}` must be in (0, 1]. {_received(name, value)}")
    return float(value)


def check_choice(value: Any, choices: Sequence[str], name: str) -> str:
    """Return ``value`` if it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"`{name}` must be one of {allowed}. {_received(name, value)}")
    return value


def to_tuple(value: Any, n: int, name: str, *, allow_zero: bool = False) -> tuple[int, ...]:
    """Normalise an int-or-sequence argument to a tuple of ``n`` ints.

    Args:
        value: an int (repeated ``n`` times) or a sequence of ``n`` ints.
        n: the number of spatial dimensions.
        name: the argument's name, for the error message.
        allow_zero: accept 0 (for padding); otherwise every entry must be >= 1.

    Returns:
        A tuple of ``n`` Python ints.
    """
    if isinstance(value, bool):
        raise TypeError(f"`{name}` must be an int or a tuple of {n} ints. {_received(name, value)}")
    if isinstance(value, numbers.Integral):
        items: tuple[Any, ...] = (value,) * n
    elif isinstance(value, Sequence) and not isinstance(value, str):
        items = tuple(value)
        if len(items) != n:
            raise ValueError(f"`{name}` must be an int or a tuple of {n} ints. {_received(name, value)}")
    else:
        raise TypeError(f"`{name}` must be an int or a tuple of {n} ints. {_received(name, value)}")
    for item in items:
        if isinstance(item, bool) or not isinstance(item, numbers.Integral):
            raise TypeError(f"`{name}` must contain only ints. {_received(name, value)}")
        low = 0 if allow_zero else 1
        if item < low:
            requirement = "non-negative (>= 0)" if allow_zero else "positive (>= 1)"
            raise ValueError(f"`{name}` entries must be {requirement}. {_received(name, value)}")
    return tuple(int(v) for v in items)


def check_data_format(value: Any) -> str:
    """Return a valid ``data_format`` string."""
    return check_choice(value, DATA_FORMATS, "data_format")


def check_float_array(x: Any, name: str, ndim: int | None = None) -> np.ndarray:
    """Return ``x`` as a floating NumPy array, rejecting integer, bool, complex and object dtypes.

    NaN and inf are passed through unchanged (they propagate honestly through the ops).
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"`{name}` must be a NumPy array. Received {name} of type {type(x).__name__}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"`{name}` must have a real floating dtype (float16/32/64). Received {name}.dtype={x.dtype}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"`{name}` must have {ndim} dimensions. Received {name}.shape={x.shape}")
    return x
