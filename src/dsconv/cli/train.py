"""``dsconv train``: train a zoo model (or ``module:function``) on a data set; runs under ``torchrun`` as is.

Examples:
    dsconv train mobilenet_v1 --data digits --width 0.25 --epochs 5 --out runs/digits
    dsconv train mobilenet_v2 --data images:path/to/folder --size 96 --epochs 20 --out runs/mine --amp
    dsconv train ds_cnn_s --data audio:path/to/wavs --epochs 30 --out runs/kws
    dsconv train runs/mine/best.pt --eval-only
    torchrun --nproc_per_node 2 -m dsconv train mobilenet_v1 --data digits --width 0.25 --out runs/ddp
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from typing import Any


def parse_model_args(pairs: list[str] | None) -> dict[str, Any]:
    """``["width=0.5", "dense=True"]`` -> ``{"width": 0.5, "dense": True}`` (values as Python literals, else strings)."""
    kwargs: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key.isidentifier():
            raise ValueError(f"`--model-arg` must look like key=value. Received --model-arg={pair!r}")
        try:
            kwargs[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            kwargs[key] = raw
    return kwargs


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """Zoo factory options shared by ``train`` and ``export``."""
    group = parser.add_argument_group("model options (zoo factories)")
    group.add_argument("--width", type=float, help="width multiplier alpha")
    group.add_argument("--resolution", type=int, help="input size the model's cost figures are for")
    group.add_argument("--model-arg", action="append", metavar="KEY=VALUE", help="any other factory argument")


def model_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Factory keyword arguments from the parsed options (only those given)."""
    kwargs = parse_model_args(args.model_arg)
    for name in ("width", "resolution", "num_classes", "in_channels"):
        value = getattr(args, name, None)
        if value is not None:
            kwargs[name] = value
    return kwargs


def register(subparsers: Any) -> None:
    """Add the ``train`` sub-command."""
    parser = subparsers.add_parser("train", help="train a model on images, digits, audio or a synthetic task",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="zoo name (dsconv.models.list_models()) or module:function / file.py:function")
    parser.add_argument("--data", help="digits | keywords | gratings_rings | shift_task | "
                        "images:PATH | audio:PATH | PATH (image folder root/<class>/*.png|jpg)")
    parser.add_argument("--out", help="run folder: last.pt, best.pt, metrics.json/.csv, confusion.json")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64, help="per process (global = this x world size)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--optimizer", choices=("adamw", "sgd"), default="adamw")
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--scheduler", choices=("cosine", "constant"), default="cosine")
    parser.add_argument("--label-smoothing", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--amp", action="store_true", help="bfloat16 autocast (CPU or CUDA)")
    parser.add_argument("--channels-last", action="store_true", help="NHWC memory format")
    parser.add_argument("--workers", type=int, default=0, help="data-loader worker processes")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    parser.add_argument("--eval-only", action="store_true",
                        help="MODEL is a checkpoint: evaluate it on the validation split (of --data or its own data)")
    parser.add_argument("--overwrite", action="store_true", help="start afresh over an OUT holding a checkpoint")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars or per-epoch lines")
    parser.add_argument("--size", type=int, help="image side (digits default 32, image folders 224)")
    parser.add_argument("--limit", type=int, help="use only the first N training samples")
    parser.add_argument("--val-fraction", type=float, default=0.2)
    add_model_options(parser)
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    """Train and print the final validation metrics as one JSON line on stdout (rank 0)."""
    import os

    from dsconv.train import TrainConfig, evaluate_checkpoint, train

    if args.eval_only:
        result = evaluate_checkpoint(args.model, args.data, size=args.size)
        if result["confusion"] is not None:
            import numpy as np

            from dsconv.train.runlog import format_confusion

            print(format_confusion(np.asarray(result["confusion"]), result["classes"]), file=sys.stderr)
        print(json.dumps({k: result[k] for k in ("val_loss", "val_acc", "samples")}))
        return 0
    if not args.data:
        raise ValueError("`--data` is required for training. Received --data=None")
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
                         weight_decay=args.weight_decay, scheduler=args.scheduler, label_smoothing=args.label_smoothing,
                         seed=args.seed, amp=args.amp, channels_last=args.channels_last, num_workers=args.workers,
                         device=args.device, out_dir=args.out, resume=args.resume, overwrite=args.overwrite,
                         progress=not args.no_progress)
    result = train(args.model, args.data, config, model_kwargs=model_kwargs(args), size=args.size, limit=args.limit,
                   val_fraction=args.val_fraction)
    if int(os.environ.get("RANK", "0")) == 0:
        summary = {"val_acc": result.val_acc, "val_loss": result.val_loss, "epochs": len(result.history),
                   "checkpoint": str(result.checkpoint) if result.checkpoint else None}
        print(json.dumps(summary), file=sys.stdout)
    return 0
