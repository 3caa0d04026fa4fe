"""``dsconv export``: a zoo model or a ``dsconv train`` checkpoint to ONNX / TorchScript, optionally BN-folded and int8.

Examples:
    dsconv export runs/digits/best.pt --format onnx --out digits.onnx --fold-bn --quantize static
    dsconv export mobilenet_v2 --width 0.5 --num-classes 10 --format torchscript --out mnv2.pt
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from dsconv.cli.train import add_model_options, model_kwargs


def register(subparsers: Any) -> None:
    """Add the ``export`` sub-command."""
    parser = subparsers.add_parser("export", help="export to ONNX / TorchScript, fold BN, quantise to int8",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="zoo name or a checkpoint written by dsconv train")
    parser.add_argument("--format", choices=("onnx", "torchscript"), default="onnx")
    parser.add_argument("--out", required=True, help="output file (.onnx / .pt); int8 goes to <stem>.int8.onnx")
    parser.add_argument("--fold-bn", action="store_true", help="fold batch norm into the convolutions first")
    parser.add_argument("--quantize", choices=("static", "dynamic"), help="int8 post-training quantisation (ONNX)")
    parser.add_argument("--data", help="calibration / accuracy data (defaults to the checkpoint's training data)")
    parser.add_argument("--size", type=int, help="image side for image data (defaults to the checkpoint's)")
    parser.add_argument("--samples", type=int, default=256, help="validation samples for calibration and accuracy")
    parser.add_argument("--report", help="also write the JSON report to this file")
    parser.add_argument("--num-classes", type=int, help="zoo models: classifier outputs")
    parser.add_argument("--in-channels", type=int, help="zoo models: input channels")
    add_model_options(parser)
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    """Export, print a summary to stderr and the JSON report to stdout."""
    import sys

    from dsconv._io import atomic_write_text
    from dsconv.export import export_model

    report = export_model(args.model, args.out, format=args.format, fold=args.fold_bn, quantize=args.quantize,
                          data=args.data, model_kwargs=model_kwargs(args), size=args.size, samples=args.samples)
    exported = report["export"]
    print(f"wrote {exported['path']} ({exported['size_bytes']} bytes), max |difference| vs PyTorch "
          f"{exported['max_abs_diff']:.2e}", file=sys.stderr)
    if "fold" in report:
        print(f"folded {len(report['fold']['pairs'])} conv+BN pairs "
              f"({len(report['fold']['fused_with_activation'])} followed by an activation)", file=sys.stderr)
    if "quantization" in report:
        q = report["quantization"]
        change = "n/a" if q["accuracy_change"] is None else f"{q['accuracy_change']:+.4f}"
        print(f"int8 {q['int8_path']}: {q['int8_bytes']} bytes ({q['size_ratio']:.2f}x float32), accuracy "
              f"{q['fp32_accuracy']} -> {q['int8_accuracy']} ({change}), top-1 agreement {q['top1_agreement']:.4f}",
              file=sys.stderr)
    text = json.dumps(report, indent=2)
    if args.report:
        atomic_write_text(args.report, text)
    print(text)
    return 0
