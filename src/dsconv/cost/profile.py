"""``profile(model, input_size)``: a per-layer cost table of any ``torch.nn.Module`` from one forward pass.

Convention (stated once, used everywhere): ``Profile.macs`` counts the multiply-adds of convolution and
fully-connected (matrix-product) ops, as the papers do (MobileNet's "Mult-Adds" of conv and FC layers);
``Profile.flops = 2 x macs``. The other ops' operations (batch norm, pooling, activations, additions) are
``Profile.other_flops``, reported separately. Ops without a cost rule are listed in
``Profile.unaccounted``, never dropped silently; so are modules whose parameters no visible op read
(e.g. a kernel running outside PyTorch's dispatcher).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dsconv._validation import check_choice, check_int, check_positive

__all__ = ["Profile", "ProfileRow", "KindTotals", "Unaccounted", "profile", "KINDS"]

KINDS = ("depthwise", "pointwise", "grouped", "dense", "fc", "attention", "other", "unseen")
KIND_LABELS = {
    "depthwise": "depthwise conv", "pointwise": "pointwise conv", "grouped": "grouped conv",
    "dense": "dense conv", "fc": "fully connected", "attention": "attention", "other": "other",
    "unseen": "not seen",
}
_MAC_KINDS = {"depthwise", "pointwise", "grouped", "dense", "fc", "attention"}


@dataclass
class ProfileRow:
    """One row of the table: one conv / matmul op, or the other ops of one module call.

    Attributes:
        name: qualified module name (``""`` is the model itself); ``call`` numbers repeated calls.
        type: the module's class name. op: the ATen op(s). kind: one of ``KINDS``.
        output_shape: the op's output shape (with the batch). share: ``macs / Profile.macs``.
    """

    name: str
    type: str
    call: int
    op: str
    kind: str
    output_shape: tuple[int, ...]
    params: int = 0
    macs: int = 0
    other_flops: int = 0
    bytes: int = 0
    share: float = 0.0

    @property
    def flops(self) -> int:
        """``2 x macs``."""
        return 2 * self.macs

    @property
    def label(self) -> str:
        """The name shown in tables (``(model)`` for the root, ``#n`` for repeated calls)."""
        base = self.name or "(model)"
        return f"{base} #{self.call}" if self.call > 1 else base


@dataclass(frozen=True)
class KindTotals:
    """Totals of one kind of layer (a row of the MobileNet paper's Table 2)."""

    kind: str
    layers: int
    params: int
    macs: int
    other_flops: int
    bytes: int
    macs_share: float
    params_share: float

    @property
    def flops(self) -> int:
        """``2 x macs``."""
        return 2 * self.macs


@dataclass(frozen=True)
class Unaccounted:
    """Something the profiler could not cost: an op without a rule, or parameters no visible op read."""

    name: str
    type: str
    op: str
    count: int
    reason: str


@dataclass
class Profile:
    """The result of :func:`profile`: rows, totals, breakdown by kind and renderers."""

    model: str
    input_size: tuple[int, ...]
    batch_size: int
    rows: list[ProfileRow]
    unaccounted: list[Unaccounted] = field(default_factory=list)
    conventions: dict[str, Any] = field(default_factory=dict)

    @property
    def params(self) -> int:
        """Parameters (each parameter tensor once, under the chosen conventions)."""
        return sum(r.params for r in self.rows)

    @property
    def macs(self) -> int:
        """Multiply-adds of conv and fully-connected ops, every call counted."""
        return sum(r.macs for r in self.rows)

    @property
    def flops(self) -> int:
        """``2 x macs``."""
        return 2 * self.macs

    @property
    def other_flops(self) -> int:
        """Operations of the other ops (normalisation, pooling, activations, ...)."""
        return sum(r.other_flops for r in self.rows)

    @property
    def bytes(self) -> int:
        """Bytes read and written, each op's tensors once."""
        return sum(r.bytes for r in self.rows)

    def by_kind(self) -> dict[str, KindTotals]:
        """Totals per kind (``KINDS`` order, kinds with no rows left out)."""
        result = {}
        for kind in KINDS:
            rows = [r for r in self.rows if r.kind == kind]
            if rows:
                params, macs = sum(r.params for r in rows), sum(r.macs for r in rows)
                result[kind] = KindTotals(
                    kind, len(rows), params, macs, sum(r.other_flops for r in rows), sum(r.bytes for r in rows),
                    macs / self.macs if self.macs else 0.0, params / self.params if self.params else 0.0,
                )
        return result

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-ready Python objects."""
        from dsconv.cost.report import profile_to_dict

        return profile_to_dict(self)

    def to_json(self, indent: int | None = 2) -> str:
        """JSON text of :meth:`to_dict`."""
        import json

        return json.dumps(self.to_dict(), indent=indent)

    def to_csv(self) -> str:
        """CSV text: one line per row, then a ``TOTAL`` line."""
        from dsconv.cost.report import profile_to_csv

        return profile_to_csv(self)

    def to_markdown(self) -> str:
        """Markdown: the per-layer table, the breakdown by kind and the unaccounted list."""
        from dsconv.cost.report import profile_to_markdown

        return profile_to_markdown(self)

    def print_rich(self, console: Any = None) -> None:
        """Print the tables with ``rich`` (to ``console``, or a new console on stdout)."""
        from dsconv.cost.report import print_profile_rich

        print_profile_rich(self, console)


def profile(
    model: Any,
    input_size: Sequence[int],
    *,
    batch_size: int = 1,
    count_bias: bool = True,
    count_bn: bool = True,
    fold_bn: bool = False,
    unit: str = "macs",
) -> Profile:
    """Profile one forward pass of ``model`` on a random input of ``(batch_size, *input_size)``.

    The model runs once under ``torch.no_grad`` in eval mode (each module's training flag is restored
    afterwards) on the dtype and device of its first parameter. Every ATen op is attributed to the
    innermost module running it, so functional calls, branches, shared modules (parameters once, MACs at
    every call) and modules called twice are all counted.

    Args:
        model: any ``torch.nn.Module``.
        input_size: ``(C, *spatial)`` without the batch, e.g. ``(3, 224, 224)``.
        batch_size: images per forward pass.
        count_bias: count the biases of conv / linear layers as parameters.
        count_bn: count batch norm's ``weight`` and ``bias`` as parameters.
        fold_bn: treat a batch norm that directly follows a conv as folded into it: its parameters and
            operations disappear and a bias-free conv gains a bias (``C_out`` parameters, if ``count_bias``).
        unit: ``"macs"`` or ``"flops"``, the figure the tables show.

    Returns:
        A :class:`Profile` (``params``, ``macs``, ``flops``, ``rows``, ``by_kind()``, renderers).

    Raises:
        ValueError: bad arguments, or a model that fails on ``input_size`` (the message names the layer
            that failed, its type and the input size).

    Example:
        >>> import torch  # doctest: +SKIP
        >>> profile(torch.nn.Conv2d(3, 8, 3), (3, 32, 32)).macs  # doctest: +SKIP
        194400
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"`model` must be a torch.nn.Module. Received model of type {type(model).__name__}")
    size = _check_input_size(input_size)
    batch = check_positive(batch_size, "batch_size")
    unit = check_choice(unit, ("macs", "flops"), "unit")
    conventions = {"count_bias": bool(count_bias), "count_bn": bool(count_bn), "fold_bn": bool(fold_bn),
                   "unit": unit}
    tracer = _run(model, size, batch)
    from dsconv.cost._rows import build_rows

    rows, unaccounted = build_rows(tracer, model, conventions)
    result = Profile(type(model).__name__, size, batch, rows, unaccounted, conventions)
    total = result.macs
    for row in rows:
        row.share = row.macs / total if total else 0.0
    return result


def _check_input_size(input_size: Any) -> tuple[int, ...]:
    if isinstance(input_size, (str, bytes)) or not isinstance(input_size, Sequence):
        raise TypeError(f"`input_size` must be a tuple (C, *spatial). Received input_size={input_size!r}")
    size = tuple(check_int(v, "input_size") for v in input_size)
    if not size or any(v < 1 for v in size):
        raise ValueError(
            f"`input_size` must be a non-empty tuple (C, *spatial) of positive ints. Received input_size={size}"
        )
    return size


def _visible_backend() -> Any:
    """dsconv's Numba kernels run outside PyTorch's dispatcher, invisible to the trace: while profiling,
    layers that follow the process-wide backend take the torch path (same work, visible ops). Layers
    built with an explicit ``backend="dsconv"`` stay invisible and are reported as unaccounted."""
    import contextlib
    import sys

    if "dsconv.nn.backend" not in sys.modules:
        return contextlib.nullcontext()
    return sys.modules["dsconv.nn.backend"].use_backend("torch")


def _run(model: Any, size: tuple[int, ...], batch: int) -> Any:
    import torch

    from dsconv.cost._trace import Tracer

    first = next(model.parameters(), None)
    dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32
    device = first.device if first is not None else torch.device("cpu")
    x = torch.randn(batch, *size, dtype=dtype, device=device)
    modes = {m: m.training for m in model.modules()}
    tracer = Tracer(model)
    tracer.attach()
    try:
        model.eval()
        with torch.no_grad(), _visible_backend(), tracer:
            model(x)
    except Exception as exc:  # any failure inside the model: name the layer and the input size
        frame = tracer.innermost()
        where = f"layer `{frame.name}` ({frame.type})" if frame.name else f"the model ({frame.type})"
        raise ValueError(
            f"`input_size` {size} cannot be fed to the model: {where} failed with "
            f"{type(exc).__name__}: {exc}. Received input_size={size}"
        ) from exc
    finally:
        tracer.detach()
        for module, training in modes.items():
            module.training = training
    return tracer
