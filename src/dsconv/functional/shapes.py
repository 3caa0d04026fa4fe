"""Output sizes and padding: the one place where convolution shape arithmetic lives.

Every op (NumPy reference, fast kernels, torch layers), the cost model and the CLI call these
functions, so "same" padding and output sizes are computed identically everywhere.

Conventions (per spatial dimension, kernel ``k``, stride ``s``, dilation ``d``, input size ``n``):

- effective kernel size ``k_eff = d * (k - 1) + 1``;
- output size ``out = floor((n + pad_before + pad_after - k_eff) / s) + 1`` (PyTorch and TensorFlow agree);
- ``"valid"``: no padding;
- ``"same"``: TensorFlow's rule, for any stride: ``out = ceil(n / s)``,
  ``total = max((out - 1) * s + k_eff - n, 0)``, ``before = total // 2``, ``after = total - before``
  (the extra pixel, when ``total`` is odd, goes after: the asymmetric split TensorFlow uses);
- ``"causal"`` (1D only): ``before = k_eff - 1``, ``after = 0``, so output ``t`` sees inputs ``<= t * s``;
- an int ``p``: ``p`` on both sides of every dimension;
- a tuple of ``n`` ints: symmetric per dimension (PyTorch's convention);
- a tuple of ``n`` pairs ``((before, after), ...)``: explicit per side (Keras ``ZeroPadding`` convention).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any, Union

from dsconv._validation import _received, check_int, to_tuple

PaddingArg = Union[int, str, Sequence[int], Sequence[Sequence[int]]]
Pads = tuple[tuple[int, int], ...]

PADDING_STRINGS = ("valid", "same", "causal")


def effective_kernel_size(kernel_size: int, dilation: int) -> int:
    """Span of a dilated kernel: ``dilation * (kernel_size - 1) + 1``."""
    return dilation * (kernel_size - 1) + 1


def same_padding(size: int, kernel_size: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow's "same" padding ``(before, after)`` for one dimension (see module docstring)."""
    out = -(-size // stride)  # ceil(size / stride)
    total = max((out - 1) * stride + effective_kernel_size(kernel_size, dilation) - size, 0)
    return total // 2, total - total // 2


def normalize_padding(padding: Any, n: int, name: str = "padding") -> str | Pads:
    """Validate a padding argument without knowing the input size.

    Returns either one of ``"valid"``, ``"same"``, ``"causal"`` or a tuple of ``n`` ``(before, after)`` pairs.
    """
    if isinstance(padding, str):
        if padding not in PADDING_STRINGS:
            allowed = ", ".join(repr(p) for p in PADDING_STRINGS)
            raise ValueError(f"`{name}` must be an int, a tuple, or one of {allowed}. {_received(name, padding)}")
        if padding == "causal" and n != 1:
            raise ValueError(f"`{name}`='causal' is only defined for 1D convolutions. Received {name}={padding!r} for {n}D")
        return padding
    if isinstance(padding, Sequence) and len(padding) == n and all(
        isinstance(p, Sequence) and not isinstance(p, str) for p in padding
    ):
        pairs = []
        for pair in padding:
            if len(pair) != 2:
                raise ValueError(f"`{name}` pairs must be (before, after). {_received(name, padding)}")
            if any(isinstance(v, bool) or not isinstance(v, numbers.Integral) for v in pair):
                raise TypeError(f"`{name}` pairs must contain only ints. {_received(name, padding)}")
            before, after = int(pair[0]), int(pair[1])
            if before < 0 or after < 0:
                raise ValueError(f"`{name}` entries must be non-negative (>= 0). {_received(name, padding)}")
            pairs.append((before, after))
        return tuple(pairs)
    if isinstance(padding, bool) or not (isinstance(padding, (numbers.Integral, Sequence))):
        strings = "'valid', 'same', 'causal'" if n == 1 else "'valid', 'same'"
        raise TypeError(
            f"`{name}` must be an int, a tuple of {n} ints, a tuple of {n} (before, after) pairs, "
            f"or one of {strings}. {_received(name, padding)}"
        )
    per_dim = to_tuple(padding, n, name, allow_zero=True)
    return tuple((p, p) for p in per_dim)


def resolve_padding(
    padding: PaddingArg,
    input_size: Sequence[int],
    kernel_size: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    name: str = "padding",
) -> Pads:
    """Turn any padding argument into explicit ``(before, after)`` pairs for the given input size."""
    n = len(kernel_size)
    normalized = normalize_padding(padding, n, name)
    if normalized == "valid":
        return tuple((0, 0) for _ in range(n))
    if normalized == "same":
        return tuple(same_padding(*args) for args in zip(input_size, kernel_size, stride, dilation))
    if normalized == "causal":
        return ((effective_kernel_size(kernel_size[0], dilation[0]) - 1, 0),)
    return normalized  # type: ignore[return-value]


def conv_output_size(
    input_size: Sequence[int],
    kernel_size: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    pads: Pads,
) -> tuple[int, ...]:
    """Output spatial size; raises ValueError when the dilated kernel is larger than the padded input."""
    out = []
    for dim, (n, k, s, d, (before, after)) in enumerate(zip(input_size, kernel_size, stride, dilation, pads)):
        padded = n + before + after
        span = effective_kernel_size(k, d)
        if span > padded:
            raise ValueError(
                f"`kernel_size` (dilated span {span} = dilation {d} x (kernel {k} - 1) + 1) must not exceed the "
                f"padded input size {padded} (input {n} + padding {before}+{after}) in spatial dimension {dim}. "
                f"Received kernel_size={tuple(kernel_size)}, input size={tuple(input_size)}"
            )
        out.append((padded - span) // s + 1)
    return tuple(out)


def conv_geometry(
    input_size: Sequence[int],
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] = 1,
    padding: PaddingArg = 0,
    dilation: int | Sequence[int] = 1,
) -> tuple[Pads, tuple[int, ...]]:
    """Validate and resolve one convolution's geometry.

    Args:
        input_size: spatial input size ``(n_1, ..., n_d)``.
        kernel_size, stride, dilation: int or tuple of ``d`` positive ints.
        padding: any padding argument (see the module docstring).

    Returns:
        ``(pads, output_size)``: explicit ``(before, after)`` pairs and the output spatial size.

    Example:
        >>> conv_geometry((7, 7), 3, stride=2, padding="same")
        (((1, 1), (1, 1)), (4, 4))
    """
    input_size = tuple(check_int(v, "input_size") for v in input_size)
    if any(v < 1 for v in input_size):
        raise ValueError(f"`input_size` entries must be positive (>= 1). Received input_size={input_size}")
    n = len(input_size)
    ks = to_tuple(kernel_size, n, "kernel_size")
    st = to_tuple(stride, n, "stride")
    dl = to_tuple(dilation, n, "dilation")
    pads = resolve_padding(padding, input_size, ks, st, dl)
    return pads, conv_output_size(input_size, ks, st, dl, pads)
