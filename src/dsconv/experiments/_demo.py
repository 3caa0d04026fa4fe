"""Run experiments into an output folder: results, pictures, the GIF and the HTML report.

Used by ``dsconv demo`` (every experiment, quick settings) and ``dsconv experiment NAME``. Output
folders never overwrite a previous run silently: when the requested folder already holds files, the run
goes to a timestamped sibling (``reports/demo-20261121-231500``) unless ``force=True``, which writes
into the folder itself (replacing the files of the same names).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import os
import platform
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dsconv.experiments import get_experiment, list_experiments, make_config
from dsconv.experiments._common import torch_threads
from dsconv.experiments._report import write_report

ProgressFactory = Callable[[str], Callable[[str, float], None] | None]


@dataclasses.dataclass(frozen=True)
class RunOutcome:
    """What a run wrote: the folder, the report, ``results.json`` and one entry per experiment."""

    out_dir: Path
    report: Path
    results: Path
    entries: list[dict[str, Any]]
    seconds: float

    @property
    def failed(self) -> list[str]:
        """Names of experiments that raised."""
        return [e["name"] for e in self.entries if e.get("error")]


def prepare_out_dir(path: str | os.PathLike[str], *, force: bool = False, now: _dt.datetime | None = None) -> Path:
    """The folder a run writes to, created; a timestamped sibling if ``path`` holds files and not ``force``.

    Raises:
        FileExistsError: ``path`` (or the timestamped sibling) exists and is not a folder.
        PermissionError: the folder cannot be created or written.
    """
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise FileExistsError(f"`out` must be a folder, not a file. Received out={str(target)!r}")
    if target.is_dir() and any(target.iterdir()) and not force:
        stamp = (now or _dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
        target = target.with_name(f"{target.name}-{stamp}")
        if target.exists():
            raise FileExistsError(f"`out` already has a run from this second; retry or pass --force. "
                                  f"Received out={str(target)!r}")
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PermissionError(f"`out` must be a folder that can be created and written ({exc.strerror}). "
                              f"Received out={str(target)!r}") from exc
    if not os.access(target, os.W_OK | os.X_OK):
        raise PermissionError(f"`out` must be a writable folder. Received out={str(target)!r}")
    return target


def run_one(name: str, out_dir: Path, *, full: bool = False, seed: int | None = None,
            progress: Callable[[str, float], None] | None = None) -> dict[str, Any]:
    """Run one experiment and draw its pictures into ``out_dir``; errors are recorded, not raised."""
    module = get_experiment(name)
    entry: dict[str, Any] = {"name": name, "title": module.TITLE, "description": module.DESCRIPTION,
                             "full": full, "figures": []}
    start = time.perf_counter()
    try:
        cfg = make_config(name, full=full, seed=seed)
        entry["config"] = dataclasses.asdict(cfg)
        with torch_threads(1):  # the experiments' models are small; other code may have raised the count
            entry["result"] = module.run(cfg, progress=progress)
        if hasattr(module, "plot"):
            entry["figures"] = [str(p) for p in module.plot(entry["result"], out_dir)]
    except Exception as exc:  # one failing experiment must not lose the others' results
        entry["error"] = f"{type(exc).__name__}: {exc}"
        entry["traceback"] = traceback.format_exc()
    entry["seconds"] = time.perf_counter() - start
    return entry


def environment() -> dict[str, Any]:
    """Versions and threads, for the report header."""
    import numpy

    info: dict[str, Any] = {"python": platform.python_version(), "numpy": numpy.__version__,
                            "machine": platform.machine(), "cpus": os.cpu_count()}
    try:
        import torch

        info.update(torch=torch.__version__, torch_threads=torch.get_num_threads())
    except ImportError:
        info["torch"] = "not installed"
    return info


def run_many(out_dir: Path, names: Sequence[str] | None = None, *, full: bool = False, seed: int | None = None,
             progress: ProgressFactory | None = None, animation: bool = True) -> RunOutcome:
    """Run ``names`` (default: every registered experiment) into the prepared ``out_dir`` and write the report.

    Args:
        out_dir: an existing folder (see :func:`prepare_out_dir`).
        names: experiments to run; unknown names raise before anything runs.
        full: full settings instead of quick.
        seed: replaces every config's seed when given.
        progress: called with an experiment name, returns that experiment's progress callback (or None).
        animation: also render the depthwise GIF into the report.

    Returns:
        A :class:`RunOutcome`.
    """
    chosen = list(names) if names is not None else list_experiments()
    for name in chosen:
        get_experiment(name)  # fail fast, with suggestions, before spending minutes
    start = time.perf_counter()
    created = _dt.datetime.now().isoformat(timespec="seconds")
    entries = [run_one(n, out_dir, full=full, seed=seed, progress=progress(n) if progress else None)
               for n in chosen]
    gif = None
    if animation:
        from dsconv.viz import depthwise_animation

        gif = depthwise_animation(out_dir / "depthwise.gif")
    seconds = time.perf_counter() - start
    meta = {"created": created, "settings": "full" if full else "quick", "seconds": round(seconds, 1),
            **environment()}
    report, results = write_report(out_dir, entries, meta, gif=gif)
    return RunOutcome(out_dir, report, results, entries, seconds)
