"""Sample efficiency on "gratings and rings": separable vs standard, accuracy against training-set size.

Each input channel carries its own pattern type (gratings, rings) or a decoy, and the label is a linear
threshold of which patterns are present (:func:`dsconv.data.synthetic.gratings_rings`). The chapter's
claim: a one-layer separable model, whose structure matches the task (a matched filter per channel, then
a linear mix), reaches a given accuracy with fewer samples than a one-layer standard model.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from dsconv._validation import check_positive, check_positive_float
from dsconv.experiments._common import (
    Progress,
    accuracy,
    count_params,
    report,
    seed_everything,
    summary,
    torch_threads,
)

NAME = "sample_efficiency"
TITLE = "Sample efficiency on gratings and rings"
DESCRIPTION = (
    "Test accuracy against training-set size for a one-layer separable model and a one-layer standard "
    "model on a task whose channels carry distinct pattern types and whose label is linear in which "
    "patterns are present."
)
MODELS = ("separable", "separable_relu", "standard")


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings (defaults: quick). Both models train with the same optimiser, steps and data."""

    sizes: tuple[int, ...] = (16, 32, 64, 128)  # training-set sizes (all models pass 97% by 128)
    n_test: int = 512
    image_size: int = 16
    channels: int = 3  # pattern types, one per input channel
    features: int = 8  # output channels of the conv layer
    kernel_size: int = 5  # covers a grating period (4 px) with margin
    noise: float = 0.5
    steps: int = 150  # Adam steps, full batch (or batches of 128), the same for every size
    lr: float = 0.02
    seeds: int = 3
    threads: int = 1  # torch threads: tiny models run fastest on one, and timings stay comparable
    seed: int = 0

    @classmethod
    def full(cls) -> Config:
        """More sizes, more seeds, a larger test set and longer training."""
        return cls(sizes=(8, 16, 32, 64, 128, 256, 512, 1024), n_test=2048, steps=400, seeds=8)

    def __post_init__(self) -> None:
        if not isinstance(self.sizes, tuple) or not self.sizes:
            raise TypeError(f"`sizes` must be a non-empty tuple of positive ints. Received sizes={self.sizes!r}")
        for size in self.sizes:
            check_positive(size, "sizes")
        for name in ("n_test", "image_size", "channels", "features", "kernel_size", "steps", "seeds"):
            check_positive(getattr(self, name), name)
        check_positive_float(self.lr, "lr")
        check_positive_float(self.noise, "noise")
        if self.kernel_size > self.image_size:
            raise ValueError(f"`kernel_size` must be <= image_size={self.image_size}. "
                             f"Received kernel_size={self.kernel_size}")


def build_model(kind: str, cfg: Config) -> Any:
    """One of :data:`MODELS` with 2 output classes.

    ``standard`` / ``separable``: ``conv -> ReLU -> global average pool -> linear`` (the separable layer is
    linear, a rank-1-per-slice standard conv). ``separable_relu``: MobileNet's form, a ReLU between the
    depthwise and pointwise stages too (``conv_dw -> ReLU -> conv_pw -> ReLU -> pool -> linear``): the
    chapter's picture of matched filters per channel, detected, then combined linearly.
    """
    import torch

    from dsconv.experiments._common import separable_conv, standard_conv
    from dsconv.nn import SeparableConv2d

    c, f, k = cfg.channels, cfg.features, cfg.kernel_size
    if kind == "separable_relu":
        conv = [SeparableConv2d(c, f, k, act_layer=torch.nn.ReLU, act_dw=True, act_pw=True)]
    else:
        conv = [(separable_conv if kind == "separable" else standard_conv)(c, f, k), torch.nn.ReLU()]
    return torch.nn.Sequential(*conv, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(f, 2))


def _train(model: Any, x: np.ndarray, y: np.ndarray, cfg: Config, seed: int) -> None:
    """``cfg.steps`` Adam steps on batches of at most 128 samples."""
    import torch

    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    model.train()
    for _ in range(cfg.steps):
        idx = torch.randperm(len(xt), generator=gen)[:128]
        loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()


def run(cfg: Config, progress: Progress = None) -> dict[str, Any]:
    """Train both models at every size for ``cfg.seeds`` seeds; report test accuracy with spread.

    Returns:
        ``{"sizes": [...], "models": {kind: {"accuracy": [summary per size], "params": int}},
        "samples_to_target": ..., "verdict": ...}``.
    """
    with torch_threads(check_positive(cfg.threads, "threads")):
        return _run(cfg, progress)


def _run(cfg: Config, progress: Progress) -> dict[str, Any]:
    from dsconv.data.synthetic import gratings_rings

    data_opts = {"size": cfg.image_size, "channels": cfg.channels, "noise": cfg.noise}
    x_test, y_test = gratings_rings(cfg.n_test, seed=10_000 + cfg.seed, **data_opts)
    acc: dict[str, list[list[float]]] = {k: [[] for _ in cfg.sizes] for k in MODELS}
    total, done = len(cfg.sizes) * cfg.seeds, 0
    for s in range(cfg.seeds):
        seed = cfg.seed + s
        x_all, y_all = gratings_rings(max(cfg.sizes), seed=seed, **data_opts)
        for i, n in enumerate(cfg.sizes):
            report(progress, f"sample efficiency: n={n}, seed {seed}", done / total)
            for kind in MODELS:
                seed_everything(seed)
                model = build_model(kind, cfg)
                _train(model, x_all[:n], y_all[:n], cfg, seed)
                acc[kind][i].append(accuracy(model, x_test, y_test))
            done += 1
    report(progress, "sample efficiency: done", 1.0)
    models = {k: {"accuracy": [summary(a) for a in acc[k]], "params": count_params(build_model(k, cfg))}
              for k in MODELS}
    return {"sizes": list(cfg.sizes), "chance": float(max(np.mean(y_test), 1 - np.mean(y_test))),
            "models": models, **_verdict(list(cfg.sizes), models)}


def samples_to_reach(sizes: list[int], means: list[float], target: float) -> int | None:
    """The smallest training-set size whose mean accuracy reaches ``target`` (None if none does)."""
    for n, a in zip(sizes, means):
        if a >= target:
            return n
    return None


def _verdict(sizes: list[int], models: dict[str, Any]) -> dict[str, Any]:
    means = {k: [a["mean"] for a in models[k]["accuracy"]] for k in MODELS}
    target = round(0.9 * max(max(m) for m in means.values()), 3)  # a level every curve can be compared at
    reach = {k: samples_to_reach(sizes, means[k], target) for k in MODELS}
    holds_for, wins, parts = {}, {}, []
    for kind in ("separable", "separable_relu"):
        wins[kind] = sum(a > b for a, b in zip(means[kind], means["standard"]))
        fewer = reach[kind] is not None and (reach["standard"] is None or reach[kind] < reach["standard"])
        holds_for[kind] = bool(fewer and wins[kind] > len(sizes) / 2)
        parts.append(f"{kind} needs n={reach[kind]} and beats standard at {wins[kind]} of {len(sizes)} sizes")
    claim = "The separable model reaches a given accuracy with fewer training samples than the standard model."
    measured = (f"to reach {100 * target:.1f}% test accuracy, standard needs n={reach['standard']}; "
                + "; ".join(parts) + ".")
    prefix = ("HOLDS: " if all(holds_for.values()) else "PARTLY HOLDS (see which model): "
              if any(holds_for.values()) else "DOES NOT HOLD: ")
    return {"claim": claim, "measured": measured, "holds": all(holds_for.values()), "holds_for": holds_for,
            "target_accuracy": target, "samples_to_target": reach, "wins_over_standard": wins,
            "verdict": prefix + measured}


def plot(result: dict[str, Any], out_dir: Path) -> list[Path]:
    """Learning curves (accuracy against training-set size) with spread."""
    from dsconv.viz import plot_learning_curves

    return [plot_learning_curves(result, Path(out_dir) / "sample_efficiency.png")]
