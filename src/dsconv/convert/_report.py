"""The conversion report: what happened to every convolution, and the model-level totals."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field


@dataclass
class LayerReport:
    """One convolution of the model.

    Attributes:
        name: qualified module name (``model.get_submodule(name)``).
        kind: ``"conv1d"``, ``"conv2d"`` or ``"conv3d"``.
        in_channels, out_channels, kernel_size, groups: the dense layer's geometry.
        converted: whether it was replaced by a separable layer.
        rank: depth multiplier of the replacement (``None`` when not converted).
        full_rank: ``min(C_out / groups, prod(k))``, the rank at which the factorization is exact.
        energy: fraction of the kernel's squared Frobenius norm kept (1.0 when not converted).
        kernel_error: ``||W - W_sep||_F / ||W||_F`` (0.0 when not converted).
        output_error: ``||y_sep - y||_F / ||y||_F`` on the probe batch's input to this layer.
        macs_before, macs_after, params_before, params_after: per sample, at the probe's size.
        bn_folded: whether a following batch norm was folded into the replacement.
        reason: why the layer was (not) converted.
    """

    name: str
    kind: str
    in_channels: int
    out_channels: int
    kernel_size: tuple[int, ...]
    groups: int
    converted: bool
    rank: int | None
    full_rank: int
    energy: float
    kernel_error: float
    output_error: float
    macs_before: int
    macs_after: int
    params_before: int
    params_after: int
    bn_folded: bool
    reason: str


@dataclass
class ConversionReport:
    """Result of :func:`dsconv.convert.to_separable`.

    Attributes:
        criterion: how ranks were chosen, e.g. ``"rank=2"``, ``"energy=0.9"``, ``"max_macs=1000000"``.
        layers: one :class:`LayerReport` per convolution considered, in module order.
        macs_before, macs_after: MACs of the convolutions considered, per sample (sum over ``layers``).
        params_before, params_after: whole-model parameter counts.
        output_error: relative error of the model's output on the probe batch (``None`` if not a tensor).
    """

    criterion: str
    layers: list[LayerReport] = field(default_factory=list)
    macs_before: int = 0
    macs_after: int = 0
    params_before: int = 0
    params_after: int = 0
    output_error: float | None = None

    @property
    def converted(self) -> list[LayerReport]:
        """The layers that were replaced."""
        return [row for row in self.layers if row.converted]

    def to_dict(self) -> dict:
        """JSON-serialisable form."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_markdown(self) -> str:
        """A table, one row per layer, then the totals."""
        head = "| layer | kernel | groups | rank | energy | kernel err | output err | MACs before | MACs after | note |"
        lines = [head, "|" + "---|" * 10]
        for r in self.layers:
            rank = f"{r.rank}/{r.full_rank}" if r.converted else f"-/{r.full_rank}"
            lines.append(
                f"| {r.name} | {r.in_channels}->{r.out_channels} {'x'.join(map(str, r.kernel_size))} | {r.groups} | "
                f"{rank} | {r.energy:.4f} | {r.kernel_error:.2e} | {r.output_error:.2e} | {r.macs_before:,} | "
                f"{r.macs_after:,} | {r.reason} |"
            )
        ratio = self.macs_after / self.macs_before if self.macs_before else 1.0
        out_err = "n/a" if self.output_error is None else f"{self.output_error:.3e}"
        lines += [
            "",
            f"criterion {self.criterion}: {len(self.converted)}/{len(self.layers)} convolutions converted; "
            f"conv MACs {self.macs_before:,} -> {self.macs_after:,} ({ratio:.3f}x); "
            f"params {self.params_before:,} -> {self.params_after:,}; model output relative error {out_err}",
        ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_markdown()
