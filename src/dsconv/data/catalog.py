"""One entry point from a data set name to (train, validation) splits, for ``fit`` and ``dsconv train``.

Names:
    ``digits``                 scikit-learn's digits, upscaled to ``size`` (default 32);
    ``gratings_rings``, ``shift_task``  the experiments' synthetic tasks (``dsconv.data.synthetic``);
    ``keywords``               a synthetic keyword set (WAVs written to a temporary folder, MFCC features);
    ``images:PATH`` or ``PATH`` an image folder (``PATH/train`` + ``PATH/val`` when both exist,
                               otherwise a seeded split);
    ``audio:PATH``             a WAV folder by class (MFCC features for DS-CNN).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dsconv.data.arrays import ArrayDataset, split_indices

SYNTHETIC_TASKS = ("gratings_rings", "shift_task")
NAMED = ("digits", "keywords", *SYNTHETIC_TASKS)


@dataclass
class DataSplits:
    """A training split, a validation split and what a model needs to know about them."""

    train: Any
    val: Any
    classes: list[str]

    @property
    def task(self) -> str:
        """``"classification"`` (integer labels) or ``"regression"`` (float targets, e.g. ``shift_task``)."""
        return getattr(self.train, "task", "classification")

    @property
    def target_shape(self) -> tuple[int, ...]:
        """Shape of one regression target (``()`` for class labels)."""
        return tuple(getattr(self.train[0][1], "shape", ()))

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """``(C, *spatial)`` of one sample."""
        return tuple(self.train[0][0].shape)


def load_dataset(
    name: str,
    *,
    size: int | None = None,
    in_channels: int | None = None,
    val_fraction: float = 0.2,
    seed: int = 0,
    num_samples: int = 1000,
    limit: int | None = None,
) -> DataSplits:
    """Build the (train, validation) splits of data set ``name`` (see the module docstring).

    Args:
        name: a bundled name or a folder (``images:PATH``, ``audio:PATH``, or a bare path to images).
        size: image side (digits and images; synthetic tasks take their own default when None).
        in_channels: channels the model expects (digits and images; default 1 for digits, 3 for images).
        val_fraction: validation share where the source has no split of its own.
        seed: split, augmentation and generator seed.
        num_samples: samples generated for the synthetic tasks.
        limit: keep only the first ``limit`` training samples (quick runs).

    Returns:
        :class:`DataSplits`.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"`data` must be a data set name or folder. Received data={name!r}")
    if name == "digits":
        from dsconv.data.digits import load_digits

        train, val = load_digits(size=size or 32, in_channels=in_channels or 1, val_fraction=val_fraction, seed=seed)
    elif name in SYNTHETIC_TASKS:
        train, val = _synthetic(name, size, val_fraction, seed, num_samples)
    elif name == "keywords" or name.startswith("audio:"):
        train, val = _audio(name, val_fraction, seed)
    else:
        train, val = _images(name.removeprefix("images:"), size or 224, in_channels or 3, val_fraction, seed)
    if limit is not None:
        train = _limit(train, limit)
    return DataSplits(train=train, val=val, classes=list(train.classes))


def _limit(dataset: Any, limit: int) -> Any:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"`limit` must be a positive integer. Received limit={limit!r}")
    indices = np.arange(min(limit, len(dataset)))
    return dataset.subset(indices)


def _synthetic(name: str, size: int | None, val_fraction: float, seed: int, n: int) -> tuple[ArrayDataset, ArrayDataset]:
    from dsconv.data import synthetic

    kwargs: dict[str, Any] = {"seed": seed}
    if size is not None:
        kwargs["size"] = size
    x, y = getattr(synthetic, name)(n, **kwargs)
    y = np.asarray(y)
    full = ArrayDataset(np.asarray(x, dtype=np.float32), y if np.issubdtype(y.dtype, np.floating) else y.astype(np.int64))
    train_idx, val_idx = split_indices(len(full), val_fraction, seed)
    return full.subset(train_idx), full.subset(val_idx)


def _audio(name: str, val_fraction: float, seed: int) -> tuple[Any, Any]:
    from dsconv.data.audio import WavFolder

    if name == "keywords":
        from dsconv.data.keywords import write_keyword_dataset

        with tempfile.TemporaryDirectory(prefix="dsconv-keywords-") as tmp:
            write_keyword_dataset(tmp, per_class=40, num_classes=4, seed=seed)
            return WavFolder(tmp).split(val_fraction, seed)
    root = Path(name.removeprefix("audio:"))
    if (root / "train").is_dir() and (root / "val").is_dir():
        return WavFolder(root / "train"), WavFolder(root / "val")
    return WavFolder(root).split(val_fraction, seed)


def _images(path: str, size: int, in_channels: int, val_fraction: float, seed: int) -> tuple[Any, Any]:
    from dsconv.data.images import ImageFolder

    root = Path(path)
    if not root.is_dir():
        names = ", ".join(repr(n) for n in NAMED)
        raise FileNotFoundError(
            f"`data` must be one of {names}, 'images:PATH', 'audio:PATH' or an existing folder. Received data={path!r}"
        )
    if (root / "train").is_dir() and (root / "val").is_dir():
        train = ImageFolder(root / "train", size=size, in_channels=in_channels, train=True, seed=seed)
        val = ImageFolder(root / "val", size=size, in_channels=in_channels, train=False, seed=seed)
        return train, val
    return ImageFolder(root, size=size, in_channels=in_channels, seed=seed).split(val_fraction, seed)
