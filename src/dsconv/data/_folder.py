"""Class-folder scanning shared by the image and audio data sets (``root/<class>/<file>``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path


def scan_class_folders(root: str | os.PathLike[str], suffixes: Sequence[str]) -> tuple[list[str], list[tuple[Path, int]]]:
    """List ``root/<class>/<file>`` entries whose suffix is in ``suffixes``.

    Args:
        root: the data set folder; each sub-folder is one class (sorted by name = label order).
        suffixes: accepted lower-case file suffixes, e.g. ``(".png", ".jpg")``.

    Returns:
        ``(classes, samples)``: the class names and ``(path, label)`` pairs, sorted.

    Raises:
        FileNotFoundError: ``root`` is not a folder.
        ValueError: no class folders, or a class folder holds no matching file.
    """
    root_path = Path(root)
    if not root_path.is_dir():
        raise FileNotFoundError(f"`root` must be an existing folder. Received root={str(root)!r}")
    classes = sorted(p.name for p in root_path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise ValueError(f"`root` must contain one sub-folder per class. Received root={str(root)!r}")
    samples: list[tuple[Path, int]] = []
    for label, name in enumerate(classes):
        files = sorted(
            p for p in (root_path / name).iterdir() if p.is_file() and p.suffix.lower() in suffixes
        )
        if not files:
            allowed = "|".join(suffixes)
            raise ValueError(
                f"`root` class folder {name!r} must contain at least one {allowed} file. "
                f"Received root={str(root)!r} with an empty class folder {str(root_path / name)!r}"
            )
        samples.extend((path, label) for path in files)
    return classes, samples


def sample_rng(seed: int, epoch: int, index: int):  # -> np.random.Generator
    """The augmentation generator of one sample: a pure function of (seed, epoch, index).

    Deriving it this way keeps augmentation identical across data-loader workers, DDP ranks and
    resumed runs.
    """
    import numpy as np

    return np.random.default_rng((seed, epoch, index))
