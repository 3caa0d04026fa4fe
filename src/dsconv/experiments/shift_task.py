"""The shift task: one input channel, two outputs that need different shifts.

The target kernel slice ``[delta_{d1}; delta_{d2}]`` has rank 2, so one separable layer (rank 1 per
slice) stalls at the loss of the best rank-1 approximation (the analytic floor: the squared discarded
singular values over the number of outputs, for a unit-variance white input), while a standard layer
fits it exactly, and ``depth_multiplier=2`` or two stacked separable layers also solve it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from dsconv._validation import check_int, check_positive, check_positive_float
from dsconv.experiments._common import Progress, report, seed_everything, summary, thin_curve, torch_threads

NAME = "shift_task"
TITLE = "The shift task: where one separable layer cannot go"
DESCRIPTION = (
    "One white-noise input channel, two outputs shifted by d1 and d2. A standard layer reaches near-zero "
    "loss; one separable layer stalls at the analytic rank-1 floor; depth_multiplier=2 or two stacked "
    "separable layers solve it."
)
MODELS = ("standard", "separable", "separable_m2", "separable_x2")


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings of the shift task (defaults: quick; the task is tiny, so full only adds seeds/steps)."""

    size: int = 12  # image side; circular padding makes every pixel a clean example
    kernel_size: int = 3  # must cover both shifts: k >= 2 * max(|d1|, |d2|) + 1
    d1: int = -1
    d2: int = 1
    n_train: int = 32
    n_test: int = 256
    steps: int = 200  # full-batch Adam steps
    lr: float = 0.05
    seeds: int = 3
    threads: int = 1  # torch threads: tiny models run fastest on one, and timings stay comparable
    seed: int = 0

    @classmethod
    def full(cls) -> Config:
        """More seeds, more data, longer training, larger shifts."""
        return cls(size=24, kernel_size=5, d1=-2, d2=1, n_train=256, n_test=1024, steps=2000, seeds=5)

    def __post_init__(self) -> None:
        for name in ("size", "kernel_size", "n_train", "n_test", "steps", "seeds"):
            check_positive(getattr(self, name), name)
        check_int(self.d1, "d1")
        check_int(self.d2, "d2")
        check_positive_float(self.lr, "lr")
        reach = 2 * max(abs(self.d1), abs(self.d2)) + 1
        if self.kernel_size % 2 == 0 or self.kernel_size < reach:
            raise ValueError(f"`kernel_size` must be odd and >= 2*max(|d1|,|d2|)+1 = {reach}. "
                             f"Received kernel_size={self.kernel_size}")
        if self.d1 == self.d2:
            raise ValueError(f"`d2` must differ from `d1` (the task needs two shifts). Received d2={self.d2}")


def target_kernel(cfg: Config) -> np.ndarray:
    """The exact standard kernel ``(2, 1, k, k)`` of the task, from ``dsconv.structure.shift_task_kernel``.

    ``y_j[u] = x[u - d_j]`` (``np.roll`` by ``d_j``) is a cross-correlation tap at column ``k // 2 - d_j``.
    """
    from dsconv.structure import shift_task_kernel

    centre = cfg.kernel_size // 2
    return shift_task_kernel(cfg.kernel_size, (centre, centre - cfg.d1), (centre, centre - cfg.d2), ndim=2)


def analytic_floor(cfg: Config) -> dict[str, Any]:
    """The lowest mean-squared error one separable layer reaches on unit-variance white noise.

    ``dsconv.structure.output_mse_floor``: the squared rank-1 residual of the target kernel (Eckart-Young,
    slice by slice) averaged over the two outputs (circular padding: no border effects).
    """
    from dsconv.structure import output_mse_floor, rank1_residual, slice_spectra

    kernel = target_kernel(cfg)
    return {
        "floor": float(output_mse_floor(kernel, 1)),
        "rank1_residual": float(rank1_residual(kernel)),
        "target_spectrum": [float(v) for v in slice_spectra(kernel)[0]],
    }


def equivalent_kernel(kind: str, model: Any) -> np.ndarray:
    """The dense kernel ``(2, 1, k, k)`` a one-layer model computes (``dsconv.structure.compose``)."""
    from dsconv.structure import compose

    if kind == "standard":
        return model.weight.detach().numpy().astype(np.float64)
    dw = model.conv_dw.weight.detach().numpy().astype(np.float64)
    pw = model.conv_pw.weight.detach().numpy().astype(np.float64)
    return compose(pw, dw, depth_multiplier=dw.shape[0])  # C_in = 1: the multiplier is the dw channel count


def build_model(kind: str, cfg: Config) -> Any:
    """One of :data:`MODELS`, mapping ``(N, 1, H, W)`` to ``(N, 2, H, W)`` with circular padding."""
    import torch

    from dsconv.experiments._common import separable_conv, standard_conv

    k = cfg.kernel_size
    opts = {"padding": k // 2, "padding_mode": "circular", "bias": False}
    if kind == "standard":
        return standard_conv(1, 2, k, **opts)
    if kind == "separable":
        return separable_conv(1, 2, k, **opts)
    if kind == "separable_m2":
        return separable_conv(1, 2, k, depth_multiplier=2, **opts)
    return torch.nn.Sequential(separable_conv(1, 2, k, **opts), separable_conv(2, 2, k, **opts))


def _fit(kind: str, cfg: Config, seed: int, data: tuple[Any, ...]) -> dict[str, Any]:
    """Train one model with full-batch Adam; return its loss curve and test loss."""
    import torch

    x, y, x_test, y_test = data
    seed_everything(seed)
    model = build_model(kind, cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    curve = []
    for _ in range(cfg.steps):
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        curve.append(loss.item())
    with torch.no_grad():
        test = float(torch.nn.functional.mse_loss(model(x_test), y_test))
    return {"curve": curve, "test_loss": test, "model": model}


def run(cfg: Config, progress: Progress = None) -> dict[str, Any]:
    """Train every model of :data:`MODELS` for ``cfg.seeds`` seeds and compare with the analytic floor.

    Returns:
        ``{"floor": ..., "models": {kind: {"test_loss": summary, "curve_mean": [...], ...}}, "verdict": ...}``.
    """
    with torch_threads(check_positive(cfg.threads, "threads")):
        return _run(cfg, progress)


def _run(cfg: Config, progress: Progress) -> dict[str, Any]:
    import torch

    from dsconv.data.synthetic import shift_task

    floor = analytic_floor(cfg)
    results: dict[str, Any] = {kind: {"curves": [], "test": []} for kind in MODELS}
    spectra: dict[str, list[float]] = {"target": floor["target_spectrum"]}
    total = cfg.seeds * len(MODELS)
    for s in range(cfg.seeds):
        seed = cfg.seed + s
        arrays = (*shift_task(cfg.n_train, size=cfg.size, d1=cfg.d1, d2=cfg.d2, seed=2 * seed),
                  *shift_task(cfg.n_test, size=cfg.size, d1=cfg.d1, d2=cfg.d2, seed=2 * seed + 1))
        data = tuple(torch.from_numpy(a) for a in arrays)
        for m, kind in enumerate(MODELS):
            report(progress, f"shift task: {kind}, seed {seed}", (s * len(MODELS) + m) / total)
            fit = _fit(kind, cfg, seed, data)
            results[kind]["curves"].append(fit["curve"])
            results[kind]["test"].append(fit["test_loss"])
            if s == 0 and kind != "separable_x2":
                spectra[kind] = _spectrum(kind, fit["model"])
    report(progress, "shift task: done", 1.0)
    models = {kind: _model_summary(r) for kind, r in results.items()}
    return {"steps": cfg.steps, **floor, "spectra": spectra, "models": models, **_verdict(models, floor["floor"])}


def _spectrum(kind: str, model: Any) -> list[float]:
    """Singular values of the trained layer's only kernel slice (rank 1 for one separable layer)."""
    from dsconv.structure import slice_spectra

    return [float(v) for v in slice_spectra(equivalent_kernel(kind, model))[0]]


def _model_summary(r: dict[str, Any]) -> dict[str, Any]:
    curves = np.asarray(r["curves"])  # (seeds, steps)
    return {
        "test_loss": summary(r["test"]),
        "curve_mean": thin_curve(curves.mean(axis=0)),
        "curve_min": thin_curve(curves.min(axis=0)),
        "curve_max": thin_curve(curves.max(axis=0)),
    }


def _verdict(models: dict[str, Any], floor: float) -> dict[str, Any]:
    std = models["standard"]["test_loss"]["max"]
    sep = models["separable"]["test_loss"]["mean"]
    gap = (sep - floor) / floor if floor > 0 else float("inf")
    solved = {k: models[k]["test_loss"]["max"] < 1e-3 for k in ("separable_m2", "separable_x2")}
    holds = std < 1e-3 and abs(gap) < 0.05 and all(solved.values())
    claim = ("A standard layer fits the shift task; one separable layer stalls at the analytic rank-1 floor; "
             "depth_multiplier=2 or two stacked separable layers solve it.")
    measured = (f"standard test loss <= {std:.2e}; separable {sep:.4f} vs floor {floor:.4f} "
                f"({100 * gap:+.2f}%); depth_multiplier=2 solved: {solved['separable_m2']}; "
                f"two stacked solved: {solved['separable_x2']}.")
    return {"claim": claim, "measured": measured, "holds": bool(holds), "floor_gap": float(gap),
            "verdict": ("HOLDS: " if holds else "DOES NOT HOLD: ") + measured}


def plot(result: dict[str, Any], out_dir: Path) -> list[Path]:
    """Loss curves of every model with the analytic floor, and the kernel-slice spectra."""
    from dsconv.viz import plot_shift_losses, plot_spectra

    out = Path(out_dir)
    return [plot_shift_losses(result, out / "shift_task_losses.png"),
            plot_spectra(result["spectra"], out / "shift_task_spectra.png",
                         title="Shift task: singular values of the kernel slice")]
