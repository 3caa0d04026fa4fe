"""scikit-learn's bundled handwritten digits (1797 8x8 images, 10 classes), upscaled for the zoo."""

from __future__ import annotations

import numpy as np

from dsconv._validation import check_positive
from dsconv.data.arrays import ArrayDataset, split_indices
from dsconv.data.images import resize_bilinear


def load_digits(
    *, size: int = 32, in_channels: int = 1, val_fraction: float = 0.2, seed: int = 0
) -> tuple[ArrayDataset, ArrayDataset]:
    """The digits data set as seeded (train, validation) splits.

    Pixel values (0..16) are scaled to [0, 1], bilinearly upscaled from 8x8 to ``size`` x ``size``,
    standardised (mean 0, std 1 over the training split) and repeated over ``in_channels``.

    Args:
        size: output side (>= 8 recommended; the zoo's stride-32 models need >= 32).
        in_channels: channel count the model expects (the grey image is repeated).
        val_fraction: validation share.
        seed: split seed.

    Shape:
        samples are float32 ``(in_channels, size, size)``; labels are 0..9.

    Returns:
        ``(train, val)`` :class:`ArrayDataset` pair.
    """
    from sklearn.datasets import load_digits as sk_load_digits

    size = check_positive(size, "size")
    in_channels = check_positive(in_channels, "in_channels")
    bunch = sk_load_digits()
    images = bunch.images.astype(np.float32) / 16.0  # (N, 8, 8)
    if size != 8:
        images = resize_bilinear(images.transpose(1, 2, 0), size, size).transpose(2, 0, 1)  # (N, size, size)
    train_idx, val_idx = split_indices(len(images), val_fraction, seed)
    mean, std = images[train_idx].mean(), images[train_idx].std()
    x = np.repeat(((images - mean) / std)[:, None], in_channels, axis=1)  # (N, C, size, size)
    classes = [str(d) for d in range(10)]
    y = bunch.target.astype(np.int64)
    return ArrayDataset(x[train_idx], y[train_idx], classes), ArrayDataset(x[val_idx], y[val_idx], classes)
