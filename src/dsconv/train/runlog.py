"""Run logs: per-epoch metrics to the terminal, ``metrics.json`` and ``metrics.csv``; the confusion matrix."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from dsconv._io import atomic_write_text

COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "throughput", "epoch_time")


def confusion_matrix(targets: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """``cm[i, j]`` = samples of true class ``i`` predicted as ``j``, shape ``(num_classes, num_classes)``."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(targets, dtype=np.int64), np.asarray(predictions, dtype=np.int64)), 1)
    return cm


def format_confusion(cm: np.ndarray, classes: list[str]) -> str:
    """A plain-text table of ``cm`` with true classes as rows."""
    names = [c[:10] for c in classes]
    width = max(6, *(len(n) for n in names), len(str(int(cm.max()) if cm.size else 0)))
    lines = ["true \\ pred".ljust(width) + " " + " ".join(n.rjust(width) for n in names)]
    for name, row in zip(names, cm):
        lines.append(name.ljust(width) + " " + " ".join(str(int(v)).rjust(width) for v in row))
    return "\n".join(lines)


def format_epoch(record: dict[str, Any], epochs: int) -> str:
    """One terminal line for an epoch record (accuracies are absent for regression)."""
    def acc(key: str) -> str:
        return "" if record[key] is None else f"  {key} {record[key]:.4f}"

    return (
        f"epoch {record['epoch']}/{epochs}  train_loss {record['train_loss']:.4f}{acc('train_acc')}  "
        f"val_loss {record['val_loss']:.4f}{acc('val_acc')}  lr {record['lr']:.2e}  {record['throughput']:.1f} samples/s"
    )


def write_history(out_dir: Path, history: list[dict[str, Any]]) -> None:
    """Rewrite ``metrics.json`` and ``metrics.csv`` from the full history (atomically)."""
    atomic_write_text(out_dir / "metrics.json", json.dumps({"history": history}, indent=2))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(history)
    atomic_write_text(out_dir / "metrics.csv", buffer.getvalue())


def write_confusion(out_dir: Path, cm: np.ndarray, classes: list[str], accuracy: float) -> None:
    """Write ``confusion.json`` (rows: true class, columns: predicted class)."""
    payload = {"classes": classes, "matrix": cm.tolist(), "accuracy": accuracy}
    atomic_write_text(out_dir / "confusion.json", json.dumps(payload, indent=2))


def say(text: str, enabled: bool = True) -> None:
    """Print a line to stderr (keeps stdout clean for machine-readable output)."""
    if enabled:
        print(text, file=sys.stderr, flush=True)
