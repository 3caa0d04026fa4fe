"""``dsconv zoo``: list the registered models, or their published cost figures beside ours."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``zoo`` sub-command."""
    parser = subparsers.add_parser(
        "zoo", help="list the registered models, or (--published) the papers' figures beside ours",
        description="List the model zoo. With --published, recompute every published MACs / params figure "
        "through dsconv.cost.profile and print it beside the paper's.",
    )
    parser.add_argument("pattern", nargs="?", default="*", help="glob over model names (default '*')")
    parser.add_argument("--published", action="store_true", help="the published-figures table")
    parser.add_argument("--format", choices=("md", "json"), default="md")
    parser.set_defaults(func=_zoo)


def _zoo(args: argparse.Namespace) -> int:
    if args.published:
        from dsconv.cost.zoo import zoo_figures, zoo_json, zoo_markdown

        rows = zoo_figures(args.pattern)
        print(zoo_json(rows) if args.format == "json" else zoo_markdown(rows), end="")
        return 0
    from dsconv.models import create_model, list_models

    names = list_models(args.pattern)
    if not names:
        raise ValueError(f"`pattern` matched no registered model. Received pattern={args.pattern!r}")
    for name in names:
        print(f"{name:32s} input {create_model(name).default_input_size}")
    return 0
