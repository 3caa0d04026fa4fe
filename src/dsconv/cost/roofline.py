"""Roofline lower bounds: ``time >= max(bytes / bandwidth, flops / peak)`` per layer.

A layer whose arithmetic intensity (FLOPs per byte) is below the machine's ridge point
``peak / bandwidth`` is memory-bound, above it compute-bound. Summed over a model, the bound shows
why depthwise layers take a larger share of the time than of the MACs: they do few FLOPs per byte.
(Williams, Waterman and Patterson, "Roofline: an insightful visual performance model", CACM 2009.)

Machine figures come from ``dsconv bench --machine`` (a JSON file read by :meth:`Machine.from_json`),
from arguments, or from a documented preset.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from dsconv._validation import check_choice, check_positive_float

__all__ = ["Machine", "RooflineRow", "Roofline", "roofline", "layer_bound", "PRESETS"]


@dataclass(frozen=True, kw_only=True)
class Machine:
    """A machine's roofs.

    Attributes:
        dram_gbs: main-memory bandwidth, GB/s (10^9 bytes per second).
        peak_gflops: peak arithmetic throughput, GFLOP/s (an FMA counts 2).
        cache_gbs: last-level-cache bandwidth, GB/s, if measured (for working sets that fit in cache).
        name: a label. source: where the figures come from.
    """

    dram_gbs: float
    peak_gflops: float
    cache_gbs: float | None = None
    name: str = "custom"
    source: str = ""

    def __post_init__(self) -> None:
        check_positive_float(self.dram_gbs, "dram_gbs")
        check_positive_float(self.peak_gflops, "peak_gflops")
        if self.cache_gbs is not None:
            check_positive_float(self.cache_gbs, "cache_gbs")
        if not isinstance(self.name, str):
            raise TypeError(f"`name` must be a string. Received name={self.name!r}")

    def bandwidth_gbs(self, memory: str = "dram") -> float:
        """The bandwidth of ``memory`` (``"dram"`` or ``"cache"``), GB/s."""
        memory = check_choice(memory, ("dram", "cache"), "memory")
        if memory == "dram":
            return self.dram_gbs
        if self.cache_gbs is None:
            raise ValueError(f"`memory`='cache' needs a machine with `cache_gbs`. Received machine={self.name!r}")
        return self.cache_gbs

    def ridge_point(self, memory: str = "dram") -> float:
        """Intensity (FLOPs per byte) above which a layer is compute-bound."""
        return self.peak_gflops / self.bandwidth_gbs(memory)

    def to_json(self) -> str:
        """JSON text with every field (what ``dsconv bench --machine`` writes)."""
        return json.dumps(asdict(self), indent=2)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_json` to ``path`` atomically."""
        from dsconv._io import atomic_write_text

        return atomic_write_text(path, self.to_json() + "\n")

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> Machine:
        """Read a machine file; keys other than the fields are ignored (a bench may record more)."""
        target = Path(path)
        if not target.is_file():
            raise FileNotFoundError(f"`path` must be an existing machine JSON file. Received path={str(target)!r}")
        try:
            data = json.loads(target.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"`path` must contain valid JSON ({exc}). Received path={str(target)!r}") from exc
        if not isinstance(data, dict) or not {"dram_gbs", "peak_gflops"} <= data.keys():
            raise ValueError(
                f"`path` must hold a JSON object with `dram_gbs` and `peak_gflops`. Received path={str(target)!r}"
            )
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def preset(cls, name: str) -> Machine:
        """A documented machine: one of ``PRESETS`` (each states its source)."""
        return PRESETS[check_choice(name, tuple(PRESETS), "name")]


PRESETS = {
    "this-2core-zen4": Machine(
        name="this-2core-zen4", dram_gbs=45.0, cache_gbs=170.0, peak_gflops=233.0,
        source="/work/shared/notes/kernels.md (2026-11-21): 2-core Zen4, AVX-512 fp32 FMA peak about 233 GFLOP/s, "
        "DRAM about 45 GB/s, L2/L3 170-225 GB/s (the low end is used)",
    ),
}


@dataclass(frozen=True)
class RooflineRow:
    """The bound for one layer: times in seconds, ``bound`` is ``"memory"`` or ``"compute"``."""

    label: str
    kind: str
    flops: int
    bytes: int
    time_memory: float
    time_compute: float

    @property
    def time(self) -> float:
        """``max(time_memory, time_compute)``."""
        return max(self.time_memory, self.time_compute)

    @property
    def bound(self) -> str:
        """Which roof limits the layer."""
        return "memory" if self.time_memory >= self.time_compute else "compute"

    @property
    def intensity(self) -> float:
        """FLOPs per byte."""
        return self.flops / self.bytes if self.bytes else float("inf")


@dataclass(frozen=True)
class Roofline:
    """Per-layer bounds and the model's total (a lower bound on the forward time)."""

    machine: Machine
    memory: str
    rows: tuple[RooflineRow, ...]
    macs_share: dict[str, float]

    @property
    def time(self) -> float:
        """Sum of the per-layer lower bounds, seconds."""
        return sum(r.time for r in self.rows)

    def time_share(self) -> dict[str, float]:
        """Share of the bound time per kind."""
        total = self.time
        shares: dict[str, float] = {}
        for row in self.rows:
            shares[row.kind] = shares.get(row.kind, 0.0) + (row.time / total if total else 0.0)
        return shares

    def summary(self) -> str:
        """One sentence: the bound, and depthwise layers' share of time against their share of MACs."""
        time_dw = self.time_share().get("depthwise", 0.0)
        macs_dw = self.macs_share.get("depthwise", 0.0)
        memory_bound = sum(r.bound == "memory" for r in self.rows)
        return (
            f"Roofline lower bound on {self.machine.name} ({self.memory}: {self.machine.bandwidth_gbs(self.memory):g} "
            f"GB/s, {self.machine.peak_gflops:g} GFLOP/s): {self.time * 1e3:.3f} ms; {memory_bound} of "
            f"{len(self.rows)} layers memory-bound; depthwise layers take {time_dw:.1%} of the time "
            f"for {macs_dw:.1%} of the MACs."
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {
            "machine": asdict(self.machine), "memory": self.memory, "time_s": self.time,
            "time_share": self.time_share(), "macs_share": self.macs_share,
            "rows": [{"layer": r.label, "kind": r.kind, "flops": r.flops, "bytes": r.bytes,
                      "intensity": r.intensity, "time_s": r.time, "bound": r.bound} for r in self.rows],
        }


def layer_bound(flops: int, nbytes: int, machine: Machine, memory: str = "dram") -> tuple[float, float]:
    """``(bytes / bandwidth, flops / peak)`` in seconds for one layer."""
    return nbytes / (machine.bandwidth_gbs(memory) * 1e9), flops / (machine.peak_gflops * 1e9)


def roofline(costs: Any, machine: Machine, *, memory: str = "dram") -> Roofline:
    """Roofline bounds for a :class:`~dsconv.cost.profile.Profile` or a sequence of ``LayerCost``.

    Args:
        costs: a ``Profile`` (its rows; FLOPs include the other ops'), or ``LayerCost`` objects.
        machine: the roofs.
        memory: which bandwidth bounds the traffic, ``"dram"`` or ``"cache"``.

    Returns:
        A :class:`Roofline`; ``Roofline.time_share()["depthwise"]`` against
        ``Roofline.macs_share["depthwise"]`` is the paradox the module docstring describes.
    """
    if not isinstance(machine, Machine):
        raise TypeError(f"`machine` must be a dsconv.cost.Machine. Received machine of type {type(machine).__name__}")
    items = _items(costs)
    rows = []
    for label, kind, flops, nbytes in items:
        t_mem, t_cmp = layer_bound(flops, nbytes, machine, memory)
        rows.append(RooflineRow(label, kind, flops, nbytes, t_mem, t_cmp))
    macs: dict[str, int] = {}
    for item, row in zip(_macs(costs), rows):
        macs[row.kind] = macs.get(row.kind, 0) + item
    total = sum(macs.values())
    return Roofline(machine, memory, tuple(rows), {k: v / total if total else 0.0 for k, v in macs.items()})


def _items(costs: Any) -> list[tuple[str, str, int, int]]:
    rows = getattr(costs, "rows", None)
    if rows is not None:
        return [(r.label, r.kind, r.flops + r.other_flops, r.bytes) for r in rows if r.flops or r.other_flops or r.bytes]
    if isinstance(costs, Sequence) and all(hasattr(c, "bytes_total") for c in costs):
        return [(f"{c.kind} {i}", c.kind, c.flops + c.other_flops, c.bytes_total) for i, c in enumerate(costs)]
    raise TypeError(f"`costs` must be a Profile or a sequence of LayerCost. Received costs of type {type(costs).__name__}")


def _macs(costs: Any) -> list[int]:
    rows = getattr(costs, "rows", None)
    if rows is not None:
        return [r.macs for r in rows if r.flops or r.other_flops or r.bytes]
    return [c.macs for c in costs]
