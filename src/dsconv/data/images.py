"""Image-folder data sets: ``root/<class>/*.png|jpg`` read with Pillow, transformed in NumPy.

Every image is decoded once at construction (so a corrupt or truncated file fails before training
starts, naming the file) and cached as uint8 at ``load_size`` (the crop size over ``crop_fraction``,
short side resized, centre-cropped square). Items are then cropped (random in training, centre in
evaluation), flipped (training) and normalised, all in NumPy.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dsconv._validation import check_fraction, check_positive
from dsconv.data._folder import sample_rng, scan_class_folders
from dsconv.data.arrays import split_indices

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def resize_bilinear(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize an ``(H, W, C)`` image with bilinear interpolation (half-pixel centres, edge clamped).

    Returns:
        A float32 ``(height, width, C)`` array.
    """
    in_h, in_w = image.shape[:2]
    ys = np.clip((np.arange(height) + 0.5) * in_h / height - 0.5, 0, in_h - 1)
    xs = np.clip((np.arange(width) + 0.5) * in_w / width - 0.5, 0, in_w - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, in_h - 1), np.minimum(x0 + 1, in_w - 1)
    wy, wx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    img = image.astype(np.float32)
    top = img[y0][:, x0] * (1 - wx) + img[y0][:, x1] * wx  # (height, width, C)
    bottom = img[y1][:, x0] * (1 - wx) + img[y1][:, x1] * wx
    return top * (1 - wy) + bottom * wy


def load_image(path: Path, in_channels: int, load_size: int) -> np.ndarray:
    """Decode ``path``, resize its short side to ``load_size`` and centre-crop a square, as uint8 ``(L, L, C)``."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as handle:
            handle.load()
            image = np.asarray(handle.convert("L" if in_channels == 1 else "RGB"))
    except (OSError, UnidentifiedImageError, SyntaxError) as exc:
        raise ValueError(
            f"`root` must contain only readable images. Received a corrupt or truncated file {str(path)!r} ({exc})"
        ) from None
    image = image.reshape(image.shape[0], image.shape[1], in_channels)
    scale = load_size / min(image.shape[:2])
    new_h, new_w = max(load_size, round(image.shape[0] * scale)), max(load_size, round(image.shape[1] * scale))
    resized = resize_bilinear(image, new_h, new_w)
    top, left = (new_h - load_size) // 2, (new_w - load_size) // 2
    crop = resized[top : top + load_size, left : left + load_size]
    return np.clip(np.rint(crop), 0, 255).astype(np.uint8)


class ImageFolder:
    """A classification data set over ``root/<class>/*.png|jpg``.

    Args:
        root: the folder; one sub-folder per class (labels follow sorted folder names).
        size: the side of the square crop fed to the model.
        in_channels: 1 (grey) or 3 (RGB).
        train: random crop + horizontal flip when True, centre crop when False.
        crop_fraction: ``size / load_size`` (0.875 as in the ImageNet recipe).
        mean, std: per-channel normalisation of pixel values scaled to [0, 1]
            (ImageNet statistics for RGB, 0.5 / 0.25 for grey by default).
        seed: augmentation seed; with ``set_epoch`` it makes every sample's augmentation reproducible.

    Shape:
        ``dataset[i]`` is ``(x, label)`` with ``x`` float32 ``(in_channels, size, size)``.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        size: int = 224,
        in_channels: int = 3,
        train: bool = False,
        crop_fraction: float = 0.875,
        mean: tuple[float, ...] | None = None,
        std: tuple[float, ...] | None = None,
        seed: int = 0,
    ) -> None:
        self.size = check_positive(size, "size")
        if in_channels not in (1, 3):
            raise ValueError(f"`in_channels` must be 1 or 3 for images. Received in_channels={in_channels!r}")
        self.in_channels = in_channels
        self.load_size = max(self.size, round(self.size / check_fraction(crop_fraction, "crop_fraction")))
        self.classes, samples = scan_class_folders(root, IMAGE_SUFFIXES)
        self.paths = [path for path, _ in samples]
        self.targets = np.array([label for _, label in samples], dtype=np.int64)
        self.images = np.stack([load_image(p, in_channels, self.load_size) for p in self.paths])  # (N, L, L, C)
        default_mean, default_std = (IMAGENET_MEAN, IMAGENET_STD) if in_channels == 3 else ((0.5,), (0.25,))
        self.mean = np.asarray(mean if mean is not None else default_mean, dtype=np.float32)
        self.std = np.asarray(std if std is not None else default_std, dtype=np.float32)
        self.train = train
        self.seed = seed
        self.epoch = 0

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        """``(in_channels, size, size)``."""
        return (self.in_channels, self.size, self.size)

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation stream of ``epoch`` (call before each epoch)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        image = self.images[index]  # (L, L, C) uint8
        margin = self.load_size - self.size
        if self.train:
            rng = sample_rng(self.seed, self.epoch, int(index))
            top, left = (int(v) for v in rng.integers(0, margin + 1, size=2))
            image = image[top : top + self.size, left : left + self.size]
            if rng.random() < 0.5:
                image = image[:, ::-1]
        else:
            top = margin // 2
            image = image[top : top + self.size, top : top + self.size]
        x = (image.astype(np.float32) / 255.0 - self.mean) / self.std
        return np.ascontiguousarray(x.transpose(2, 0, 1)), int(self.targets[index])  # (C, size, size)

    def subset(self, indices: np.ndarray, *, train: bool | None = None) -> ImageFolder:
        """A data set over ``indices`` sharing this one's decoded images (``train`` defaults to this one's)."""
        other = object.__new__(ImageFolder)
        other.__dict__.update(self.__dict__)
        other.paths = [self.paths[i] for i in indices]
        other.targets = self.targets[indices]
        other.images = self.images[indices]
        other.train = self.train if train is None else train
        return other

    def split(self, val_fraction: float, seed: int = 0) -> tuple[ImageFolder, ImageFolder]:
        """Seeded (train, validation) views: augmentation on the first only."""
        train_idx, val_idx = split_indices(len(self), val_fraction, seed)
        return self.subset(train_idx, train=True), self.subset(val_idx, train=False)
