"""Synthetic tasks for the experiments: gratings and rings, the shift task, relative positions.

Every generator is NumPy-only, seeded, and returns float32 inputs ``(N, C, H, W)`` with labels or
targets, so the experiments (and anyone else) can rebuild the exact data from a seed.
"""

from __future__ import annotations

import numpy as np

from dsconv._validation import check_int, check_non_negative, check_positive, check_positive_float

PATTERNS = ("vertical_grating", "horizontal_grating", "diagonal_grating", "rings", "checkerboard")


def _pattern(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """One unit-energy pattern of type ``kind`` with a random phase (and centre, for rings)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    phase = rng.uniform(0.0, 2.0 * np.pi)
    freq = 2.0 * np.pi / 4.0  # period of 4 pixels: resolvable by a 3x3 or 5x5 kernel
    if kind == "vertical_grating":
        img = np.cos(freq * xx + phase)
    elif kind == "horizontal_grating":
        img = np.cos(freq * yy + phase)
    elif kind == "diagonal_grating":
        img = np.cos(freq * (xx + yy) / np.sqrt(2.0) + phase)
    elif kind == "rings":
        cy, cx = rng.uniform(0.3 * size, 0.7 * size, size=2)
        img = np.cos(freq * np.hypot(yy - cy, xx - cx) + phase)
    else:  # checkerboard
        img = np.cos(freq * xx / 2.0 + phase) * np.cos(freq * yy / 2.0 + phase)
    return img / (np.sqrt(np.mean(img**2)) + 1e-12)


def gratings_rings_weights(channels: int) -> np.ndarray:
    """The fixed linear rule of :func:`gratings_rings`: label = 1 if ``w . present > sum(w) / 2``.

    Alternating signs make the label depend on *which* patterns are present, not only how many.
    """
    return np.array([(1.0 + 0.5 * i) * (-1.0) ** i for i in range(channels)])


def gratings_rings(
    n: int,
    *,
    size: int = 16,
    channels: int = 3,
    noise: float = 0.5,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The "gratings and rings" task: channel ``i`` shows pattern type ``PATTERNS[i]`` or a decoy.

    Each of the ``channels`` input channels carries either its own pattern type (present) or a pattern
    of another type with the same energy (absent), plus Gaussian noise. The binary label is a linear
    threshold of which patterns are present (:func:`gratings_rings_weights`), so a depthwise stage of
    matched filters followed by a pointwise mix matches the task's structure exactly.

    Args:
        n: number of samples.
        size: image height and width.
        channels: number of input channels (pattern types), 1 to ``len(PATTERNS)``.
        noise: standard deviation of the additive Gaussian noise.
        seed: seed of the generator.

    Shape:
        x: ``(n, channels, size, size)`` float32; y: ``(n,)`` int64 in {0, 1}.

    Returns:
        ``(x, y)``.

    Example:
        >>> x, y = gratings_rings(8, size=12, seed=0)
        >>> x.shape, y.shape
        ((8, 3, 12, 12), (8,))
    """
    n = check_positive(n, "n")
    size = check_positive(size, "size")
    channels = check_positive(channels, "channels")
    seed = check_non_negative(seed, "seed")
    if channels > len(PATTERNS):
        raise ValueError(f"`channels` must be at most {len(PATTERNS)}. Received channels={channels}")
    if size < 4:
        raise ValueError(f"`size` must be at least 4 pixels (one grating period). Received size={size}")
    noise = 0.0 if noise == 0 else check_positive_float(noise, "noise")
    rng = np.random.default_rng(seed)
    present = rng.integers(0, 2, size=(n, channels))
    x = np.empty((n, channels, size, size), dtype=np.float64)
    for s in range(n):
        for c in range(channels):
            if present[s, c]:
                kind = PATTERNS[c]
            else:  # a decoy: any other pattern type, so energy alone does not reveal presence
                kind = PATTERNS[(c + 1 + rng.integers(0, len(PATTERNS) - 1)) % len(PATTERNS)]
            x[s, c] = _pattern(kind, size, rng)
    x += noise * rng.standard_normal(x.shape)
    weights = gratings_rings_weights(channels)
    y = (present @ weights > weights.sum() / 2.0).astype(np.int64)
    return x.astype(np.float32), y


def shift_task(
    n: int,
    *,
    size: int = 12,
    d1: int = -1,
    d2: int = 1,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The shift task: one white-noise input channel, two targets shifted by ``d1`` and ``d2`` columns.

    Shifts are circular (``np.roll`` along the width), so a ``k x k`` convolution with circular padding
    and ``k >= 2 * max(|d1|, |d2|) + 1`` represents the map exactly. For ``d1 != d2`` the two target
    filters are distinct deltas, so the kernel slice has rank 2 and one separable layer cannot fit it.

    Args:
        n: number of samples.
        size: image height and width.
        d1: shift of output channel 0 (pixels along the width; positive moves content right).
        d2: shift of output channel 1.
        seed: seed of the generator.

    Shape:
        x: ``(n, 1, size, size)`` float32 with unit variance; y: ``(n, 2, size, size)`` float32.

    Returns:
        ``(x, y)``.

    Example:
        >>> x, y = shift_task(4, size=8, d1=-1, d2=1)
        >>> bool((y[:, 0] == np.roll(x[:, 0], -1, axis=-1)).all())
        True
    """
    n = check_positive(n, "n")
    size = check_positive(size, "size")
    d1 = check_int(d1, "d1")
    d2 = check_int(d2, "d2")
    seed = check_non_negative(seed, "seed")
    for name, d in (("d1", d1), ("d2", d2)):
        if abs(d) >= size:
            raise ValueError(f"`{name}` must satisfy |{name}| < size={size}. Received {name}={d}")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 1, size, size)).astype(np.float32)
    y = np.concatenate([np.roll(x, d1, axis=-1), np.roll(x, d2, axis=-1)], axis=1)
    return x, y


def _blob(kind: int, size: int) -> np.ndarray:
    """A small 3x3 glyph: 0 is a plus, 1 is a cross, 2 is a square ring."""
    glyphs = (
        [[0, 1, 0], [1, 1, 1], [0, 1, 0]],
        [[1, 0, 1], [0, 1, 0], [1, 0, 1]],
        [[1, 1, 1], [1, 0, 1], [1, 1, 1]],
    )
    return np.array(glyphs[kind % 3], dtype=np.float64)


def relative_position(
    n: int,
    *,
    size: int = 16,
    noise: float = 0.3,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Where is object A relative to object B? A task that needs cross-channel spatial features late.

    Three input channels; object A (a plus glyph) is drawn in channel 0 and object B (a cross glyph) in
    channel 1, each also faintly echoed in channel 2, at random positions at least 4 pixels apart along
    one axis. The label is the direction from B to A: 0 right, 1 left, 2 below, 3 above. Finding each
    glyph is a per-channel job (early layers); the label needs the *relative offset* between channels,
    a joint spatial and cross-channel feature (late layers).

    Args:
        n: number of samples.
        size: image height and width (at least 10).
        noise: standard deviation of the additive Gaussian noise (0 for none).
        seed: seed of the generator.

    Shape:
        x: ``(n, 3, size, size)`` float32; y: ``(n,)`` int64 in {0, 1, 2, 3}.

    Returns:
        ``(x, y)``.
    """
    n = check_positive(n, "n")
    size = check_positive(size, "size")
    seed = check_non_negative(seed, "seed")
    if size < 10:
        raise ValueError(f"`size` must be at least 10. Received size={size}")
    noise = 0.0 if noise == 0 else check_positive_float(noise, "noise")
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 3, size, size), dtype=np.float64)
    y = rng.integers(0, 4, size=n)
    glyph_a, glyph_b = _blob(0, 3), _blob(1, 3)
    for s in range(n):
        (ra, ca), (rb, cb) = _positions(int(y[s]), size, rng)
        x[s, 0, ra : ra + 3, ca : ca + 3] += glyph_a
        x[s, 1, rb : rb + 3, cb : cb + 3] += glyph_b
        x[s, 2, ra : ra + 3, ca : ca + 3] += 0.5 * glyph_a
        x[s, 2, rb : rb + 3, cb : cb + 3] += 0.5 * glyph_b
    x += noise * rng.standard_normal(x.shape)
    return x.astype(np.float32), y.astype(np.int64)


def _positions(label: int, size: int, rng: np.random.Generator) -> tuple[tuple[int, int], tuple[int, int]]:
    """Top-left corners of A and B such that A lies in direction ``label`` from B."""
    hi = size - 3  # last valid top-left coordinate
    gap = int(rng.integers(4, hi + 1))
    start = int(rng.integers(0, hi - gap + 1))
    along = (start + gap, start) if label in (0, 2) else (start, start + gap)
    across = (int(rng.integers(0, hi + 1)), int(rng.integers(0, hi + 1)))
    if label in (0, 1):  # horizontal offset: columns differ
        return (across[0], along[0]), (across[1], along[1])
    return (along[0], across[0]), (along[1], across[1])
