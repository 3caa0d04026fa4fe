"""``dsconv experiment NAME [--full] [--out DIR]``: run one experiment and write its report.

Without ``--out`` the run goes to ``reports/<NAME>``; a folder that already holds a run is never
overwritten silently: the new run goes to ``<DIR>-<YYYYmmdd-HHMMSS>`` unless ``--force`` is given.
``dsconv experiment --list`` lists the experiments.
"""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``experiment`` sub-command."""
    parser = subparsers.add_parser(
        "experiment",
        help="run one experiment (quick or --full) and write its report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", nargs="?", help="experiment name (see --list)")
    parser.add_argument("--list", action="store_true", help="list the experiments and exit")
    parser.add_argument("--full", action="store_true", help="full settings instead of the quick ones")
    parser.add_argument("--out", default=None, help="output folder (default: reports/<NAME>)")
    parser.add_argument("--force", action="store_true", help="write into --out even if it holds a previous run")
    parser.add_argument("--seed", type=int, default=None, help="replace the experiment's seed")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    """Run one experiment; exit code 1 if it failed."""
    from dsconv.cli.demo import print_summary, progress_bars
    from dsconv.experiments import get_experiment, list_experiments
    from dsconv.experiments._demo import prepare_out_dir, run_many

    if args.list:
        for name in list_experiments():
            print(f"{name}: {get_experiment(name).TITLE}")
        return 0
    if not args.name:
        raise ValueError(f"`name` must be given: one of {', '.join(list_experiments())}. Received name=None")
    get_experiment(args.name)  # unknown names fail here, with suggestions, before any folder is created
    out = prepare_out_dir(args.out or f"reports/{args.name}", force=args.force)
    outcome = run_many(out, [args.name], full=args.full, seed=args.seed,
                       progress=progress_bars(not args.no_progress), animation=False)
    entry = outcome.entries[0]
    if entry.get("traceback"):
        print(entry["traceback"])
    print_summary(outcome)
    return 1 if outcome.failed else 0
