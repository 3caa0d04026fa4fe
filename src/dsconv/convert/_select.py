"""Choosing the depth multiplier of every layer: a fixed rank, an energy fraction, or a MAC budget.

Per layer the Eckart-Young residual of rank ``r`` is ``sum_i sum_{j >= r} s_{i,j}^2`` over the slice
spectra, so every criterion works from the spectra and the analytic MAC counts, before building anything.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Candidate:
    """A convolution that may be converted, with what rank selection needs.

    Attributes:
        name: qualified module name.
        spectra: slice singular values ``(C_in, full_rank)`` of the (BN-folded) kernel.
        full_rank: ``min(C_out / groups, prod(k))``.
        macs_dense: MACs of the dense layer per sample.
        macs_sep: ``macs_sep[r - 1]`` = MACs of the separable layer with multiplier ``r`` (r <= full_rank).
        blocked: a reason the layer is never converted ("" when it may be).
    """

    name: str
    spectra: np.ndarray
    full_rank: int
    macs_dense: int
    macs_sep: list[int]
    blocked: str = ""

    def energy(self, rank: int) -> float:
        """Fraction of ``||W||_F^2`` kept at ``rank``."""
        total = float(np.sum(self.spectra**2))
        return 1.0 if total == 0 else float(np.sum(self.spectra[:, :rank] ** 2) / total)

    def rel_error2(self, rank: int) -> float:
        """Squared relative kernel error ``||W - W_r||^2 / ||W||^2`` at ``rank``."""
        return max(0.0, 1.0 - self.energy(rank))

    def profitable(self, rank: int) -> bool:
        return self.macs_sep[rank - 1] < self.macs_dense


Choice = tuple[int | None, str]  # (rank or None for "keep dense", reason)


def _check_profit(c: Candidate, rank: int, note: str = "") -> Choice:
    if c.profitable(rank):
        return rank, note or "converted"
    return None, (
        f"rank {rank} needs {c.macs_sep[rank - 1]:,} MACs, not fewer than the dense {c.macs_dense:,}{note and '; ' + note}"
    )


def by_rank(c: Candidate, rank: int, force: bool) -> Choice:
    """Fixed depth multiplier, capped at the full rank (more would only add zero channels)."""
    r = min(rank, c.full_rank)
    note = f"rank {rank} capped at full rank {c.full_rank}" if rank > c.full_rank else ""
    return (r, note or "converted") if force else _check_profit(c, r, note)


def by_energy(c: Candidate, energy: float, force: bool) -> Choice:
    """Smallest rank that keeps at least ``energy`` of the kernel's squared Frobenius norm."""
    r = next(r for r in range(1, c.full_rank + 1) if c.energy(r) >= energy - 1e-12 or r == c.full_rank)
    note = f"energy {c.energy(r):.4f} >= {energy} at rank {r}"
    return (r, note) if force else _check_profit(c, r, note)


def by_budget(cands: list[Candidate], budget: int, fixed_macs: int) -> dict[str, Choice]:
    """Greedy allocation under ``fixed_macs + sum(layer MACs) <= budget``.

    Start every convertible layer at rank 1 (its cheapest form); then repeatedly take the upgrade
    (``r -> r + 1``, or the last profitable rank -> dense) that removes the most squared relative kernel
    error per MAC added, while it fits. Raises ValueError when even the cheapest form exceeds the budget.
    """
    ladders: dict[str, list[tuple[int, float, int | None]]] = {}  # name -> [(macs, err2, rank|None)]
    for c in cands:
        steps = [(c.macs_sep[r - 1], c.rel_error2(r), r) for r in range(1, c.full_rank + 1) if c.profitable(r)]
        if c.blocked or not steps:
            ladders[c.name] = [(c.macs_dense, 0.0, None)]
            continue
        if steps[-1][1] > 0:
            steps.append((c.macs_dense, 0.0, None))
        ladders[c.name] = steps
    level = {name: 0 for name in ladders}
    total = fixed_macs + sum(ladder[0][0] for ladder in ladders.values())
    if total > budget:
        raise ValueError(
            f"`max_macs` cannot be met: the cheapest conversion (rank 1 wherever it saves MACs) needs {total:,} MACs "
            f"per sample. Received max_macs={budget}"
        )
    while True:
        best, best_gain = None, -1.0
        for name, ladder in ladders.items():
            i = level[name]
            if i + 1 < len(ladder) and total + ladder[i + 1][0] - ladder[i][0] <= budget:
                gain = (ladder[i][1] - ladder[i + 1][1]) / max(ladder[i + 1][0] - ladder[i][0], 1)
                if gain > best_gain:
                    best, best_gain = name, gain
        if best is None:
            break
        i = level[best]
        total += ladders[best][i + 1][0] - ladders[best][i][0]
        level[best] = i + 1
    return {name: _budget_choice(ladders[name], level[name]) for name in ladders}


def _budget_choice(ladder: list[tuple[int, float, int | None]], i: int) -> Choice:
    rank = ladder[i][2]
    if rank is None:
        return None, "budget left room to keep it dense" if len(ladder) > 1 else "no rank saves MACs"
    return rank, f"rank chosen for the MAC budget (relative kernel error {np.sqrt(ladder[i][1]):.3g})"
