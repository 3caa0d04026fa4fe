"""``dsconv demo``: every experiment at quick settings, with progress bars, into an HTML report.

Writes ``reports/demo/index.html`` (self-contained: pictures and the GIF embedded) and ``results.json``.
If ``reports/demo`` already holds a run, the new run goes to ``reports/demo-<YYYYmmdd-HHMMSS>/``
instead (never overwriting silently); ``--force`` writes into the folder itself.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``demo`` sub-command."""
    parser = subparsers.add_parser(
        "demo",
        help="run every experiment (quick settings) and write an HTML report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", default="reports/demo", help="output folder (default: reports/demo)")
    parser.add_argument("--force", action="store_true", help="write into --out even if it holds a previous run")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these experiments")
    parser.add_argument("--seed", type=int, default=None, help="replace every experiment's seed")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=handle)


def progress_bars(enabled: bool) -> Any:
    """A factory: experiment name -> callback driving one tqdm bar (percent done), or None."""
    if not enabled:
        return None
    from tqdm import tqdm

    bars: dict[str, Any] = {}

    def factory(name: str) -> Any:
        def update(message: str, fraction: float) -> None:
            bar = bars.get(name)
            if bar is None:
                bar = bars[name] = tqdm(total=100, desc=name, unit="%", leave=True, file=sys.stderr)
            bar.set_postfix_str(message[:60])
            bar.update(round(100 * fraction) - bar.n)
            if fraction >= 1.0:
                bar.close()

        return update

    return factory


def print_summary(outcome: Any) -> None:
    """One line per experiment (verdict or error), then the report's path."""
    for entry in outcome.entries:
        status = entry.get("error") or entry.get("result", {}).get("verdict", "")
        print(f"- {entry['name']} ({entry['seconds']:.0f} s): {status}")
    print(f"Report: {outcome.report.resolve()}")
    print(f"Results: {outcome.results.resolve()} ({outcome.seconds:.0f} s in all)")


def handle(args: argparse.Namespace) -> int:
    """Run the demo; exit code 1 if an experiment failed."""
    from dsconv.experiments._demo import prepare_out_dir, run_many

    out = prepare_out_dir(args.out, force=args.force)
    outcome = run_many(out, args.only, seed=args.seed, progress=progress_bars(not args.no_progress))
    print_summary(outcome)
    return 1 if outcome.failed else 0
