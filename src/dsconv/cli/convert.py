"""``dsconv convert``: replace the standard convolutions of a saved model by separable layers.

Parsing and printing only: the work is :func:`dsconv.convert.to_separable`. Input formats (see
``dsconv.convert._files``): a whole pickled module from ``torch.save(model)`` (trusted files only: loading
runs pickled code), or a state dict with ``--factory package.module:function``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``convert`` sub-command."""
    parser = subparsers.add_parser(
        "convert", help="convert a saved model's standard convolutions to depthwise-separable layers",
        description="Factor every nn.Conv1d/2d/3d of a saved model into a depthwise-separable layer "
        "(best per-slice SVD approximation) and print a per-layer report. MODEL is a torch.save(model) "
        "file (TRUSTED input only: it is unpickled) or, with --factory, a state dict.",
    )
    parser.add_argument("model", help="model file")
    parser.add_argument("-o", "--output", required=True, help="where to write the converted model (torch.save)")
    criterion = parser.add_mutually_exclusive_group(required=True)
    criterion.add_argument("--rank", type=int, help="depth multiplier r for every layer")
    criterion.add_argument("--energy", type=float, help="keep this fraction of each kernel's energy, in (0, 1]")
    criterion.add_argument("--max-macs", type=int, help="MAC budget per sample for the whole model")
    parser.add_argument("--factory", default=None, help="'package.module:function' building the model (MODEL is then a state dict)")
    parser.add_argument("--factory-kwargs", default=None, help="JSON object of keyword arguments for --factory")
    parser.add_argument("--input-size", type=int, nargs="+", default=None,
                        help="C H W (or C L, C D H W) of the probe batch (default: the model's default_input_size)")
    parser.add_argument("--batch-size", type=int, default=2, help="probe batch size (default 2)")
    parser.add_argument("--layers", nargs="+", default=None, help="only these convolutions (qualified module names)")
    parser.add_argument("--fold-bn", action="store_true", help="fold batch norms that follow converted convs")
    parser.add_argument("--force", action="store_true", help="convert even where no MACs are saved")
    parser.add_argument("--report", default=None, help="also write the report here (.json, else markdown)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random probe batch")
    parser.set_defaults(func=_convert)


def _convert(args: argparse.Namespace) -> int:
    import torch

    from dsconv._io import atomic_write_text
    from dsconv.convert import load_model, save_model, to_separable

    kwargs = json.loads(args.factory_kwargs) if args.factory_kwargs else None
    model = load_model(args.model, factory=args.factory, factory_kwargs=kwargs)
    example = None
    if args.input_size is not None:
        gen = torch.Generator().manual_seed(args.seed)
        example = torch.randn(args.batch_size, *args.input_size, generator=gen)
    new_model, report = to_separable(model, rank=args.rank, energy=args.energy, max_macs=args.max_macs,
                                     layers=args.layers, example_input=example, fold_bn=args.fold_bn, force=args.force)
    save_model(new_model, args.output)
    print(report.to_markdown())
    print(f"wrote {args.output}")
    if args.report is not None:
        text = report.to_json() if args.report.endswith(".json") else report.to_markdown() + "\n"
        atomic_write_text(args.report, text)
        print(f"wrote {args.report}")
    return 0
