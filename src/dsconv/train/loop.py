"""``fit`` and ``evaluate``: the training loop (single process or DDP under ``torchrun``)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dsconv.train import runlog
from dsconv.train.checkpoint import check_compatible, read_checkpoint, save_checkpoint
from dsconv.train.config import TrainConfig
from dsconv.train.distributed import DistContext, all_reduce_sum, barrier, setup, teardown

Callback = Callable[[dict[str, Any]], None]


@dataclass
class TrainResult:
    """What ``fit`` returns: the trained model (unwrapped, eval mode), per-epoch history and the final evaluation."""

    model: Any
    history: list[dict[str, Any]]
    val_loss: float
    val_acc: float | None  # None for regression data
    confusion: np.ndarray | None
    classes: list[str]
    checkpoint: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Run:
    ctx: DistContext
    config: TrainConfig
    model: Any  # the module being trained (DDP-wrapped when distributed)
    raw: Any  # the unwrapped module
    optimizer: Any
    scheduler: Any
    loader: Any
    sampler: Any
    payload_base: dict[str, Any]


def evaluate(model: Any, dataset: Any, *, batch_size: int = 256, device: Any = "cpu", amp: bool = False,
             channels_last: bool = False, ctx: DistContext | None = None) -> tuple[float, float | None, np.ndarray | None]:
    """Loss, accuracy and confusion matrix of ``model`` on ``dataset`` (sharded over ranks when distributed).

    Regression sets (``dataset.task == "regression"``) give the mean squared error and ``None`` for the
    accuracy and the confusion matrix.

    Returns:
        ``(mean_loss, accuracy, confusion)`` with ``confusion`` ``(num_classes, num_classes)``.
    """
    import torch
    from torch.utils.data import DataLoader

    ctx = ctx or DistContext(device=torch.device(device))
    regression = getattr(dataset, "task", "classification") == "regression"
    loader = DataLoader(dataset, batch_size=batch_size, sampler=list(range(ctx.rank, len(dataset), ctx.world_size)))
    num_classes = len(dataset.classes)
    loss_sum, count, cm = 0.0, 0, np.zeros((num_classes, num_classes), dtype=np.int64)
    model.eval()
    with torch.no_grad():
        for x, y in loader:
            x, y = _to_device(x, y, ctx.device, channels_last)
            with _autocast(ctx.device, amp):
                out = model(x)
            loss_sum += float(_loss(out, y, regression, 0.0, reduction="sum"))
            count += y.numel() if regression else len(y)
            if not regression:
                cm += runlog.confusion_matrix(y.cpu().numpy(), out.argmax(1).cpu().numpy(), num_classes)
    totals = all_reduce_sum(ctx, [loss_sum, float(count), *cm.ravel().tolist()])
    loss = totals[0] / max(totals[1], 1.0)
    if regression:
        return loss, None, None
    cm = np.asarray(totals[2:], dtype=np.int64).reshape(num_classes, num_classes)
    return loss, float(np.trace(cm)) / max(int(cm.sum()), 1), cm


def _loss(out: Any, y: Any, regression: bool, label_smoothing: float, reduction: str = "mean") -> Any:
    import torch.nn.functional as F

    if regression:
        return F.mse_loss(out.float(), y, reduction=reduction)
    return F.cross_entropy(out.float(), y, label_smoothing=label_smoothing, reduction=reduction)


def fit(model: Any, data: Any, config: TrainConfig | None = None, *, model_spec: dict[str, Any] | None = None,
        callbacks: Sequence[Callback] = ()) -> TrainResult:
    """Train ``model`` on ``data`` with ``config``; under ``torchrun`` the same call runs DDP.

    Args:
        model: a ``torch.nn.Module`` (built by the caller, seeded by the caller).
        data: a :class:`dsconv.data.DataSplits` (``train``, ``val``, ``classes``).
        config: :class:`TrainConfig` (defaults when None).
        model_spec: how to rebuild ``model`` (``{"name": ..., "kwargs": ...}``), stored in checkpoints.
        callbacks: called with each epoch's record after its checkpoint is written (raising stops the run;
            the checkpoint stays, so ``resume=True`` continues).

    Returns:
        :class:`TrainResult`.

    Example:
        >>> from dsconv.data import load_dataset  # doctest: +SKIP
        >>> result = fit(create_model("mobilenet_v1", num_classes=10, in_channels=1, width=0.25),
        ...              load_dataset("digits"), TrainConfig(epochs=3))
    """
    config = config or TrainConfig()
    ctx = setup(config.device)
    run = None
    try:
        run = _prepare(model, data, config, ctx, model_spec)
        history, start = _maybe_resume(run)
        for epoch in range(start, config.epochs):
            record = _train_epoch(run, data, epoch)
            history.append(record)
            _save(run, data, history, record)
            for callback in callbacks:
                callback(record)
        result = _finish(run, data, history)
        barrier(ctx)  # no rank leaves the group while another still has gloo traffic in flight
        return result
    finally:
        run = None  # the DDP wrapper holds the process group: release it before the group is destroyed
        teardown(ctx)


def _prepare(model: Any, data: Any, config: TrainConfig, ctx: DistContext, model_spec: dict[str, Any] | None) -> _Run:
    import torch
    from torch.utils.data import DataLoader, DistributedSampler

    out_dir = Path(config.out_dir) if config.out_dir is not None else None
    if out_dir is not None and (out_dir / "last.pt").exists() and not (config.resume or config.overwrite):
        raise FileExistsError(
            f"`out_dir` already holds a checkpoint; pass resume=True (--resume) or overwrite=True (--overwrite). "
            f"Received out_dir={str(out_dir)!r}"
        )
    if out_dir is not None and ctx.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
    raw = model.to(ctx.device)
    if config.channels_last:
        raw = raw.to(memory_format=torch.channels_last)
    wrapped = torch.nn.parallel.DistributedDataParallel(raw) if ctx.distributed else raw
    sampler = DistributedSampler(data.train, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=config.seed)
    loader = DataLoader(data.train, batch_size=config.batch_size, sampler=sampler, num_workers=config.num_workers)
    optimizer = _optimizer(raw, config)
    total_steps = max(1, config.epochs * len(loader))
    scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps) if config.scheduler == "cosine"
                 else torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0))
    base = {"model_spec": model_spec, "model_class": type(raw).__name__, "classes": list(data.classes), "task": data.task,
            "sample_shape": list(data.sample_shape), "config": config.to_dict()}
    return _Run(ctx, config, wrapped, raw, optimizer, scheduler, loader, sampler, base)


def _optimizer(model: Any, config: TrainConfig) -> Any:
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)


def _maybe_resume(run: _Run) -> tuple[list[dict[str, Any]], int]:
    if not run.config.resume:
        return [], 0
    path = Path(run.config.out_dir) / "last.pt"  # type: ignore[arg-type]
    payload = read_checkpoint(path)
    check_compatible(payload, run.raw, path)
    run.raw.load_state_dict(payload["model_state"])
    run.optimizer.load_state_dict(payload["optimizer_state"])
    run.scheduler.load_state_dict(payload["scheduler_state"])
    runlog.say(f"resumed from {path} after epoch {payload['epoch']}", run.ctx.is_main and run.config.progress)
    return list(payload["history"]), int(payload["epoch"])


def _train_epoch(run: _Run, data: Any, epoch: int) -> dict[str, Any]:
    import torch

    config, ctx = run.config, run.ctx
    regression = data.task == "regression"
    torch.manual_seed(config.seed * 100_003 + epoch)  # dropout / stochastic depth stream of this epoch
    run.sampler.set_epoch(epoch)
    data.train.set_epoch(epoch)
    run.model.train()
    loss_sum, correct, count, start = 0.0, 0, 0, time.perf_counter()
    for x, y in _progress(run.loader, f"epoch {epoch + 1}/{config.epochs}", ctx.is_main and config.progress):
        x, y = _to_device(x, y, ctx.device, config.channels_last)
        with _autocast(ctx.device, config.amp):
            out = run.model(x)
        loss = _loss(out, y, regression, config.label_smoothing)
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        run.optimizer.step()
        run.scheduler.step()
        loss_sum += float(loss.detach()) * len(y)
        correct += 0 if regression else int((out.argmax(1) == y).sum())
        count += len(y)
    loss_sum, correct, count = all_reduce_sum(ctx, [loss_sum, float(correct), float(count)])
    elapsed = time.perf_counter() - start
    val_loss, val_acc, _ = evaluate(run.raw, data.val, batch_size=max(config.batch_size, 256), amp=config.amp,
                                    channels_last=config.channels_last, ctx=ctx)
    return {"epoch": epoch + 1, "train_loss": loss_sum / count, "train_acc": None if regression else correct / count,
            "val_loss": val_loss, "val_acc": val_acc, "lr": run.optimizer.param_groups[0]["lr"],
            "throughput": count / elapsed, "epoch_time": elapsed}


def _is_best(history: list[dict[str, Any]]) -> bool:
    last = history[-1]
    if last["val_acc"] is None:
        return last["val_loss"] <= min(r["val_loss"] for r in history)
    return last["val_acc"] >= max(r["val_acc"] for r in history)


def _save(run: _Run, data: Any, history: list[dict[str, Any]], record: dict[str, Any]) -> None:
    ctx, config = run.ctx, run.config
    runlog.say(runlog.format_epoch(record, config.epochs), ctx.is_main and config.progress)
    if config.out_dir is not None and ctx.is_main:
        out_dir = Path(config.out_dir)
        payload = {**run.payload_base, "model_state": run.raw.state_dict(), "optimizer_state": run.optimizer.state_dict(),
                   "scheduler_state": run.scheduler.state_dict(), "epoch": record["epoch"], "history": history}
        save_checkpoint(out_dir / "last.pt", payload)
        if _is_best(history):
            save_checkpoint(out_dir / "best.pt", payload)
        runlog.write_history(out_dir, history)
    barrier(ctx)


def _finish(run: _Run, data: Any, history: list[dict[str, Any]]) -> TrainResult:
    config, ctx = run.config, run.ctx
    val_loss, val_acc, cm = evaluate(run.raw, data.val, batch_size=max(config.batch_size, 256), amp=config.amp,
                                     channels_last=config.channels_last, ctx=ctx)
    if cm is not None:
        runlog.say("confusion matrix (rows: true, columns: predicted)\n" + runlog.format_confusion(cm, list(data.classes)),
                   ctx.is_main and config.progress)
    checkpoint = None
    if config.out_dir is not None:
        checkpoint = Path(config.out_dir) / "last.pt"
        if ctx.is_main and cm is not None:
            runlog.write_confusion(Path(config.out_dir), cm, list(data.classes), val_acc)
    return TrainResult(run.raw.eval(), history, val_loss, val_acc, cm, list(data.classes), checkpoint)


def _to_device(x: Any, y: Any, device: Any, channels_last: bool) -> tuple[Any, Any]:
    import torch

    x = x.to(device, non_blocking=True)
    if channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, y.to(device, non_blocking=True)


def _autocast(device: Any, enabled: bool) -> Any:
    import torch

    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)


def _progress(iterable: Any, desc: str, enabled: bool) -> Any:
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, leave=False, unit="batch", dynamic_ncols=True)
