"""Which implementation runs the depthwise op: PyTorch's grouped convolution or dsconv's kernels.

Two backends exist:

- ``"torch"`` (the default): ``torch.nn.functional.conv{1,2,3}d`` with ``groups=C``;
- ``"dsconv"``: ``dsconv.kernels.depthwise_conv_torch`` (the Numba kernels), used only where
  ``dsconv.kernels.supports(...)`` accepts the call; everything else falls back to the torch op,
  so selecting ``"dsconv"`` can change speed but never results.

Layers and functional ops take ``backend: str | None``; ``None`` means the process-wide default,
read at call time, so ``use_backend`` also switches layers that were built earlier. Scripted
(``torch.jit.script``) and compiled (``torch.compile``) code always takes the torch path.

Example:
    >>> from dsconv.nn.backend import get_backend, use_backend
    >>> with use_backend("dsconv"):
    ...     get_backend()
    'dsconv'
    >>> get_backend()
    'torch'
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from dsconv._validation import check_choice

if TYPE_CHECKING:
    import torch

BACKENDS = ("torch", "dsconv")

# Process-wide default; a plain global (not thread-local) so worker threads see what the main
# thread selected.
_default_backend = "torch"


def check_backend(name: Any, *, allow_none: bool = True) -> str | None:
    """Validate a backend name (``None`` allowed when ``allow_none``) and return it."""
    if name is None and allow_none:
        return None
    return check_choice(name, BACKENDS, "backend")


def get_backend() -> str:
    """The process-wide default backend name (``"torch"`` unless changed)."""
    return _default_backend


def set_backend(name: str) -> None:
    """Set the process-wide default backend.

    Args:
        name: ``"torch"`` or ``"dsconv"``.
    """
    global _default_backend
    _default_backend = check_backend(name, allow_none=False)  # type: ignore[assignment]


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[str]:
    """Context manager selecting the default backend inside a ``with`` block, restoring it after.

    Args:
        name: ``"torch"`` or ``"dsconv"``.

    Yields:
        The selected backend name.
    """
    previous = get_backend()
    set_backend(name)
    try:
        yield name
    finally:
        set_backend(previous)


def resolve_backend(name: str | None) -> str:
    """``name`` itself, or the process-wide default when ``name`` is None."""
    return get_backend() if name is None else check_backend(name, allow_none=False)  # type: ignore[return-value]


def _is_compiling() -> bool:
    import torch

    compiler = getattr(torch, "compiler", None)
    return bool(compiler is not None and compiler.is_compiling())


def depthwise_dispatch_reason(
    x: torch.Tensor,
    weight: torch.Tensor,
    stride: Sequence[int],
    pads: Sequence[tuple[int, int]],
    dilation: Sequence[int],
    backend: str | None = None,
) -> tuple[str, str]:
    """Which implementation a depthwise call would use, and why.

    Args:
        x: the (already mode-padded) input ``(N, C, *spatial)``.
        weight: depthwise weight ``(C * M, 1, *k)``.
        stride, dilation: tuples of ints, one per spatial dimension.
        pads: zero padding as ``((before, after), ...)``.
        backend: backend name or None for the default.

    Returns:
        ``("dsconv", "")`` when the dsconv kernel will run, otherwise ``("torch", reason)``.
    """
    name = resolve_backend(backend)
    if name == "torch":
        return "torch", "backend 'torch' selected"
    if _is_compiling():
        return "torch", "inside torch.compile"
    try:
        kernels = importlib.import_module("dsconv.kernels")
    except ImportError as exc:
        return "torch", f"dsconv.kernels is unavailable ({exc})"
    supported, reason = kernels.supports(x, weight, tuple(stride), tuple(pads), tuple(dilation))
    if not supported:
        return "torch", f"dsconv.kernels does not support this call: {reason}"
    return "dsconv", ""


def dsconv_depthwise_or_none(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: Sequence[int],
    pads: Sequence[tuple[int, int]],
    dilation: Sequence[int],
    backend: str | None,
) -> torch.Tensor | None:
    """Run the depthwise op with ``dsconv.kernels`` when selected and supported, else return None.

    None tells the caller to run the torch op; the dsconv kernel is therefore never asked to handle a
    call it has not declared support for.
    """
    path, _ = depthwise_dispatch_reason(x, weight, stride, pads, dilation, backend)
    if path != "dsconv":
        return None
    kernels = importlib.import_module("dsconv.kernels")
    return kernels.depthwise_conv_torch(x, weight, bias, tuple(stride), tuple(pads), tuple(dilation))
