"""In-memory array data sets and deterministic train/validation splits."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dsconv._validation import check_fraction, check_int

Transform = Callable[[np.ndarray, np.random.Generator | None], np.ndarray]


class ArrayDataset:
    """A map-style data set over float32 samples and targets (works with ``torch.utils.data.DataLoader``).

    Integer targets of shape ``(N,)`` make a classification set; floating targets (any shape, e.g. the
    shift task's ``(N, 2, H, W)`` maps) make a regression set (``task == "regression"``, no classes).

    Args:
        x: samples, ``(N, *sample_shape)``.
        y: integer labels ``(N,)`` or float targets ``(N, *target_shape)``.
        classes: class names; defaults to ``["0", "1", ...]`` for labels.

    Shape:
        ``dataset[i]`` is ``(x[i] as float32, int(y[i]))`` or ``(x[i], y[i] as float32)``.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, classes: list[str] | None = None) -> None:
        x = np.asarray(x)
        y = np.asarray(y)
        if x.ndim < 2:
            raise ValueError(f"`x` must be (N, *sample_shape) with N >= 1. Received x.shape={x.shape}")
        self.x = np.ascontiguousarray(x, dtype=np.float32)
        if np.issubdtype(y.dtype, np.floating) and y.ndim >= 1 and y.shape[0] == x.shape[0]:
            self.task, self.y, self.classes = "regression", np.ascontiguousarray(y, dtype=np.float32), []
            return
        if y.shape != (x.shape[0],) or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(
                f"`y` must be integer labels of shape ({x.shape[0]},) or float targets with {x.shape[0]} rows. "
                f"Received y.shape={y.shape}, y.dtype={y.dtype}"
            )
        self.task = "classification"
        self.y = y.astype(np.int64)
        n_classes = int(self.y.max()) + 1 if len(self.y) else 0
        self.classes = list(classes) if classes is not None else [str(i) for i in range(n_classes)]
        if len(self.y) and (self.y.min() < 0 or n_classes > len(self.classes)):
            raise ValueError(f"`y` must be in [0, {len(self.classes)}). Received y range=({self.y.min()}, {self.y.max()})")

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one sample, ``(C, *spatial)``."""
        return tuple(self.x.shape[1:])

    def set_epoch(self, epoch: int) -> None:
        """Array data sets have no augmentation; present for the common data set protocol."""

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __getitem__(self, index: int) -> tuple[np.ndarray, int | np.ndarray]:
        target = self.y[index]
        return self.x[index], (int(target) if self.task == "classification" else target)

    def subset(self, indices: np.ndarray) -> ArrayDataset:
        """A new data set holding the samples at ``indices``."""
        return ArrayDataset(self.x[indices], self.y[indices], self.classes)


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded, stratification-free split of ``range(n)`` into (train, validation) index arrays.

    Args:
        n: number of samples (>= 2).
        val_fraction: share of samples for validation, in (0, 1).
        seed: permutation seed.

    Returns:
        ``(train_idx, val_idx)``, both sorted.
    """
    n = check_int(n, "n")
    val_fraction = check_fraction(val_fraction, "val_fraction")
    if n < 2 or val_fraction >= 1.0:
        raise ValueError(f"`val_fraction` must be < 1 and `n` >= 2. Received val_fraction={val_fraction}, n={n}")
    perm = np.random.default_rng(seed).permutation(n)
    n_val = max(1, int(round(n * val_fraction)))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])
