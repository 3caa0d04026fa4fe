"""A synthetic keyword set written as WAV files: tones, chirps and noise patterns, one kind per class.

It stands in for Speech Commands in tests and demos (no downloads): each class has a distinct
time-frequency signature that an MFCC front end separates, with random pitch, onset, loudness and
background noise per clip so the task still needs learning.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dsconv._io import atomic_path
from dsconv._validation import check_positive
from dsconv.data.audio import SAMPLE_RATE

KEYWORD_CLASSES = ("tone_low", "tone_high", "chirp_up", "chirp_down", "noise_burst", "beeps")


def _clip(kind: str, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    length = rng.uniform(0.4, 0.7)
    onset = rng.uniform(0.05, 0.95 - length)
    inside = (t >= onset) & (t < onset + length)
    tau = np.where(inside, t - onset, 0.0)
    jitter = rng.uniform(0.9, 1.1)
    if kind == "tone_low":
        wave = np.sin(2 * np.pi * 300 * jitter * tau)
    elif kind == "tone_high":
        wave = np.sin(2 * np.pi * 2000 * jitter * tau)
    elif kind in ("chirp_up", "chirp_down"):
        f0, f1 = (300.0, 3000.0) if kind == "chirp_up" else (3000.0, 300.0)
        rate = (f1 - f0) / length
        wave = np.sin(2 * np.pi * jitter * (f0 * tau + 0.5 * rate * tau**2))
    elif kind == "noise_burst":
        wave = rng.standard_normal(len(t))
    else:  # beeps: 1 kHz switched on and off at 8 Hz
        wave = np.sin(2 * np.pi * 1000 * jitter * tau) * (np.sin(2 * np.pi * 8 * tau) > 0)
    signal = rng.uniform(0.3, 0.8) * wave * inside + 0.02 * rng.standard_normal(len(t))
    return np.clip(signal, -1.0, 1.0)


def write_keyword_dataset(
    root: str | os.PathLike[str], *, per_class: int = 20, num_classes: int = 4, seed: int = 0
) -> list[str]:
    """Write ``root/<class>/<i>.wav`` (1 s, 16 kHz, int16) for the first ``num_classes`` keyword kinds.

    Args:
        root: output folder (created if missing).
        per_class: clips per class.
        num_classes: 2..6, taken from ``KEYWORD_CLASSES`` in order.
        seed: generator seed.

    Returns:
        The class names written.
    """
    from scipy.io import wavfile

    per_class = check_positive(per_class, "per_class")
    num_classes = check_positive(num_classes, "num_classes")
    if not 2 <= num_classes <= len(KEYWORD_CLASSES):
        raise ValueError(f"`num_classes` must be in [2, {len(KEYWORD_CLASSES)}]. Received num_classes={num_classes}")
    rng = np.random.default_rng(seed)
    classes = list(KEYWORD_CLASSES[:num_classes])
    for name in classes:
        folder = Path(root) / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pcm = np.round(_clip(name, rng) * 32767).astype(np.int16)
            with atomic_path(folder / f"{i:04d}.wav") as tmp:
                wavfile.write(tmp, SAMPLE_RATE, pcm)
    return classes
