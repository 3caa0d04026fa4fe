"""``dsconv cost`` (standard vs separable for one layer) and ``dsconv profile`` (a model's cost table).

Parsing and printing only: the figures come from :mod:`dsconv.cost`.
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``cost`` and ``profile`` sub-commands."""
    _register_cost(subparsers)
    _register_profile(subparsers)


def _register_cost(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "cost", help="standard vs depthwise separable convolution: params, MACs, FLOPs, bytes",
        description="Compare a standard convolution with its depthwise separable replacement on one input.",
    )
    parser.add_argument("--in-channels", type=int, required=True, help="C_in")
    parser.add_argument("--out-channels", type=int, required=True, help="C_out")
    parser.add_argument("--kernel-size", type=int, nargs="+", required=True, help="k (one per dimension or one)")
    parser.add_argument("--size", type=int, nargs="+", required=True, help="input spatial size (one per dimension or one)")
    parser.add_argument("--dims", type=int, default=2, help="spatial dimensions when --size is one number (default 2)")
    parser.add_argument("--stride", type=int, nargs="+", default=[1])
    parser.add_argument("--padding", default="same", help="an int, 'same' (default) or 'valid'")
    parser.add_argument("--dilation", type=int, nargs="+", default=[1])
    parser.add_argument("--depth-multiplier", type=int, default=1)
    parser.add_argument("--bias", action="store_true", help="count biases (the seed's formulas do not)")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--dtype", default="float32", help="element type for the byte counts")
    parser.add_argument("--reduction", type=float, default=None,
                        help="also print the smallest k and C_out that give this reduction factor (e.g. 10)")
    parser.add_argument("--format", choices=("table", "md", "json"), default="table")
    parser.set_defaults(func=_cost)


def _register_profile(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "profile", help="per-layer params / MACs table of a model, with a breakdown by kind and a roofline",
        description="Profile one forward pass of a registered model (or --module pkg.mod:factory).",
    )
    parser.add_argument("model", nargs="?", default=None, help="registered model name (dsconv.models)")
    parser.add_argument("--module", default=None, help="'package.module:factory' instead of a registered name")
    parser.add_argument("--width", type=float, default=None, help="width multiplier alpha")
    parser.add_argument("--resolution", type=int, default=None, help="input resolution")
    parser.add_argument("--num-classes", type=int, default=None)
    parser.add_argument("--in-channels", type=int, default=None)
    parser.add_argument("--input-size", type=int, nargs="+", default=None, help="C H W (default: the model's)")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--no-bias", action="store_true", help="do not count conv / linear biases")
    parser.add_argument("--no-bn", action="store_true", help="do not count batch norm parameters")
    parser.add_argument("--fold-bn", action="store_true", help="fold batch norms into the preceding convs")
    parser.add_argument("--flops", action="store_true", help="show FLOPs (2 x MACs) instead of MACs")
    parser.add_argument("--format", choices=("table", "md", "csv", "json"), default="table")
    parser.add_argument("--output", default=None, help="write to this file instead of stdout (not for table)")
    roof = parser.add_argument_group("roofline (any of these adds a roofline estimate)")
    roof.add_argument("--machine", default=None, help="machine JSON written by `dsconv bench --machine`")
    roof.add_argument("--preset", default=None, help="a documented machine, e.g. this-2core-zen4")
    roof.add_argument("--bandwidth", type=float, default=None, help="memory bandwidth, GB/s (with --peak)")
    roof.add_argument("--peak", type=float, default=None, help="peak GFLOP/s (with --bandwidth)")
    roof.add_argument("--memory", choices=("dram", "cache"), default="dram", help="which bandwidth bounds traffic")
    parser.set_defaults(func=_profile)


def _padding(text: str) -> Any:
    return int(text) if text.lstrip("-").isdigit() else text


def _one_or_many(values: list[int]) -> int | tuple[int, ...]:
    return values[0] if len(values) == 1 else tuple(values)


def _cost(args: argparse.Namespace) -> int:
    from dsconv.cost import compare_separable, min_kernel_size, min_out_channels
    from dsconv.cost.report import comparison_to_markdown

    size = tuple(args.size) * args.dims if len(args.size) == 1 else tuple(args.size)
    comparison = compare_separable(
        args.in_channels, args.out_channels, _one_or_many(args.kernel_size), size,
        stride=_one_or_many(args.stride), padding=_padding(args.padding), dilation=_one_or_many(args.dilation),
        depth_multiplier=args.depth_multiplier, bias=args.bias, batch_size=args.batch_size, dtype=args.dtype,
    )
    result = comparison.to_dict()
    lines = [comparison_to_markdown(comparison)]
    if args.reduction is not None:
        k = min_kernel_size(args.out_channels, args.reduction)
        c_out = min_out_channels(args.kernel_size[0], args.reduction)
        result["min_kernel_size"], result["min_out_channels"] = k, c_out
        lines.append(f"For a {args.reduction:g}x reduction: smallest k with C_out={args.out_channels}: "
                     f"{k if k is not None else 'impossible (needs C_out > reduction)'}; smallest C_out with "
                     f"k={args.kernel_size[0]}: {c_out if c_out is not None else 'impossible (needs k^2 > reduction)'}\n")
    print(json.dumps(result, indent=2) if args.format == "json" else "\n".join(lines), end="\n" if args.format == "json" else "")
    return 0


def _machine(args: argparse.Namespace) -> Any:
    from dsconv.cost import Machine

    if args.machine is not None:
        return Machine.from_json(args.machine)
    if args.preset is not None:
        return Machine.preset(args.preset)
    if (args.bandwidth is None) != (args.peak is None):
        raise ValueError(f"`--bandwidth` and `--peak` go together. Received bandwidth={args.bandwidth}, peak={args.peak}")
    if args.bandwidth is not None:
        return Machine(dram_gbs=args.bandwidth, peak_gflops=args.peak, name="command line")
    return None


def _profile(args: argparse.Namespace) -> int:
    from dsconv.cost import profile, roofline
    from dsconv.cost.loading import load_model, model_input_size
    from dsconv.cost.report import roofline_to_markdown

    model = load_model(args.model, module=args.module, width=args.width, resolution=args.resolution,
                       num_classes=args.num_classes, in_channels=args.in_channels)
    result = profile(model, model_input_size(model, args.input_size), batch_size=args.batch_size,
                     count_bias=not args.no_bias, count_bn=not args.no_bn, fold_bn=args.fold_bn,
                     unit="flops" if args.flops else "macs")
    machine = _machine(args)
    roof = None if machine is None else roofline(result, machine, memory=args.memory)
    if args.format == "table":
        result.print_rich()
        if roof is not None:
            print(roofline_to_markdown(roof, top=10), end="")
        return 0
    if args.format == "json":
        data = result.to_dict()
        if roof is not None:
            data["roofline"] = roof.to_dict()
        text = json.dumps(data, indent=2) + "\n"
    elif args.format == "csv":
        if roof is not None:
            raise ValueError("`--format` csv holds the layer table only; use md or json with a roofline. "
                             "Received format='csv'")
        text = result.to_csv()
    else:
        text = result.to_markdown() + ("" if roof is None else "\n" + roofline_to_markdown(roof))
    _emit(text, args.output)
    return 0


def _emit(text: str, output: str | None) -> None:
    if output is None:
        print(text, end="")
        return
    from dsconv._io import atomic_write_text

    atomic_write_text(output, text)
    print(f"wrote {output}")
