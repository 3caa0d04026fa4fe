"""``train``: from names (a zoo model or ``module:factory``, a data set) to a trained model; what ``dsconv train`` calls."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dsconv.train.checkpoint import build_model
from dsconv.train.config import TrainConfig
from dsconv.train.loop import TrainResult, fit


def model_spec_for(model: str, num_classes: int | None, in_channels: int, model_kwargs: dict[str, Any] | None = None, *,
                   out_channels: int | None = None) -> dict[str, Any]:
    """The ``model_spec`` of a zoo name or ``module:factory`` sized for the data.

    The factory gets ``in_channels`` and ``num_classes`` (classification) or ``out_channels``
    (regression maps, e.g. the shift task) from the data; explicit ``model_kwargs`` win.
    """
    if not isinstance(model, str) or not model:
        raise TypeError(f"`model` must be a zoo name or 'module:function'. Received model={model!r}")
    sizing = {"num_classes": num_classes} if out_channels is None else {"out_channels": out_channels}
    kwargs = {**sizing, "in_channels": in_channels, **(model_kwargs or {})}
    key = "factory" if ":" in model else "name"
    return {key: model, "kwargs": kwargs}


def train(model: str, data: str, config: TrainConfig | None = None, *, model_kwargs: dict[str, Any] | None = None,
          size: int | None = None, limit: int | None = None, val_fraction: float = 0.2) -> TrainResult:
    """Load data set ``data``, build ``model`` for it (seeded) and ``fit`` it.

    Args:
        model: a registered zoo name (``dsconv.models.list_models()``) or ``module:function`` / ``file.py:function``
            returning a ``torch.nn.Module`` (called with ``num_classes``, ``in_channels`` and ``model_kwargs``).
        data: see :func:`dsconv.data.load_dataset` (``digits``, ``keywords``, ``gratings_rings``, ``shift_task``,
            ``images:PATH`` or a folder, ``audio:PATH``).
        config: :class:`TrainConfig`; its ``seed`` also seeds the model initialisation and the data split.
        model_kwargs: extra factory arguments (``width``, ``resolution``, ...).
        size: image side for image data.
        limit: keep only the first ``limit`` training samples.
        val_fraction: validation share when the data has no split of its own.

    Returns:
        :class:`dsconv.train.TrainResult`.
    """
    import torch

    from dsconv.data import load_dataset

    config = config or TrainConfig()
    splits = load_dataset(data, size=size, in_channels=(model_kwargs or {}).get("in_channels"),
                          val_fraction=val_fraction, seed=config.seed, limit=limit)
    regression = splits.task == "regression"
    spec = model_spec_for(model, None if regression else len(splits.classes), splits.sample_shape[0], model_kwargs,
                          out_channels=splits.target_shape[0] if regression else None)
    # Recorded in checkpoints so `dsconv export` / `--eval-only` rebuild the same validation split.
    config = replace(config, data=data, extra={**config.extra, "size": size, "limit": limit, "val_fraction": val_fraction})
    torch.manual_seed(config.seed)
    net = build_model(spec)
    return fit(net, splits, config, model_spec=spec)


def evaluate_checkpoint(checkpoint: str, data: str | None = None, *, size: int | None = None,
                        batch_size: int = 256) -> dict[str, Any]:
    """Evaluate a ``dsconv train`` checkpoint on the validation split of ``data`` (default: its training data).

    The split is rebuilt with the checkpoint's seed, image size and validation share, so it is the
    split the run was validated on.

    Returns:
        ``{"val_loss", "val_acc", "confusion", "classes", "samples"}`` (accuracy and confusion ``None``
        for regression data).
    """
    from dsconv.data import load_dataset
    from dsconv.train.checkpoint import load_model
    from dsconv.train.loop import evaluate

    model, payload = load_model(checkpoint)
    config = payload.get("config", {})
    extra = config.get("extra", {})
    data = data or config.get("data")
    if not data:
        raise ValueError(f"`data` must name a data set; the checkpoint records none. Received data={data!r}")
    splits = load_dataset(data, size=size or extra.get("size"), val_fraction=extra.get("val_fraction", 0.2),
                          seed=config.get("seed", 0), in_channels=payload["sample_shape"][0])
    loss, acc, cm = evaluate(model, splits.val, batch_size=batch_size)
    return {"val_loss": loss, "val_acc": acc, "confusion": None if cm is None else cm.tolist(),
            "classes": splits.classes, "samples": len(splits.val)}
