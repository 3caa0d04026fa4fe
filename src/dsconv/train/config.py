"""The training configuration: one dataclass whose defaults are a sensible small-data recipe."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from dsconv._validation import check_choice, check_non_negative, check_positive, check_positive_float

OPTIMIZERS = ("adamw", "sgd")
SCHEDULERS = ("cosine", "constant")
DEVICES = ("auto", "cpu", "cuda")


@dataclass
class TrainConfig:
    """How ``fit`` trains.

    Attributes:
        epochs: passes over the training split.
        batch_size: samples per step *per process* (under DDP the global batch is this x world size).
        lr: peak learning rate (AdamW's 1e-3 trains the zoo from scratch on small data).
        optimizer: ``"adamw"`` or ``"sgd"`` (momentum 0.9, Nesterov off).
        weight_decay: decoupled (AdamW) or L2 (SGD) weight decay.
        momentum: SGD momentum.
        scheduler: ``"cosine"`` (per-step cosine decay to 0 over the run) or ``"constant"``.
        label_smoothing: cross-entropy label smoothing.
        seed: seeds the model initialisation, the sampler order, augmentation and dropout, per epoch,
            so an interrupted and resumed run equals an uninterrupted one.
        amp: bfloat16 autocast (CPU or CUDA).
        channels_last: NHWC memory format for the model and 4-D inputs.
        num_workers: data-loader worker processes.
        device: ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.
        out_dir: where ``last.pt``, ``best.pt``, ``metrics.json``, ``metrics.csv`` and ``confusion.json`` go
            (``None``: nothing is written).
        resume: continue from ``out_dir/last.pt``.
        overwrite: allow starting afresh over an ``out_dir`` that already holds a checkpoint.
        progress: progress bars and per-epoch lines on the terminal (rank 0 only).
        data: the data set name the run used (recorded in checkpoints, used by ``dsconv export``).
    """

    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adamw"
    weight_decay: float = 1e-4
    momentum: float = 0.9
    scheduler: str = "cosine"
    label_smoothing: float = 0.0
    seed: int = 0
    amp: bool = False
    channels_last: bool = False
    num_workers: int = 0
    device: str = "auto"
    out_dir: str | None = None
    resume: bool = False
    overwrite: bool = False
    progress: bool = True
    data: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_positive(self.epochs, "epochs")
        check_positive(self.batch_size, "batch_size")
        check_positive_float(self.lr, "lr")
        check_choice(self.optimizer, OPTIMIZERS, "optimizer")
        check_choice(self.scheduler, SCHEDULERS, "scheduler")
        check_choice(self.device, DEVICES, "device")
        check_non_negative(self.num_workers, "num_workers")
        check_non_negative(self.seed, "seed")
        for name in ("weight_decay", "momentum", "label_smoothing"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"`{name}` must be a number >= 0. Received {name}={value!r}")
        if self.resume and self.out_dir is None:
            raise ValueError("`resume` needs an `out_dir` holding last.pt. Received resume=True, out_dir=None")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy."""
        return asdict(self)
