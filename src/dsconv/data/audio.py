"""Keyword-spotting audio: WAV reading, the Hello Edge MFCC front end and WAV class folders.

MFCC settings follow Zhang et al., "Hello Edge: Keyword Spotting on Microcontrollers" (2017), as in
TensorFlow's speech-commands recipe: 1 s clips at 16 kHz, 40 ms Hann frames (640 samples) with a
20 ms stride (320 samples) -> 1 + (16000 - 640) / 320 = 49 frames; a 40-band mel filterbank over
20-4000 Hz on the power spectrum, log, DCT-II (orthonormal), first 10 coefficients -> (49, 10).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from dsconv._validation import check_positive
from dsconv.data._folder import scan_class_folders
from dsconv.data.arrays import split_indices

SAMPLE_RATE = 16_000
FRAME_LENGTH = 640  # 40 ms
FRAME_STEP = 320  # 20 ms
N_FFT = 1024
N_MELS = 40
N_MFCC = 10
F_MIN, F_MAX = 20.0, 4000.0


def read_wav(path: str | os.PathLike[str], *, sample_rate: int = SAMPLE_RATE, duration: float = 1.0) -> np.ndarray:
    """Read a WAV file as mono float32 in [-1, 1], resampled to ``sample_rate`` and padded/cut to ``duration``.

    Raises:
        ValueError: the file is not a readable, complete WAV file (the message names it).
    """
    from scipy.io import wavfile
    from scipy.signal import resample_poly

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            rate, data = wavfile.read(path)
    except (ValueError, OSError, EOFError, IndexError) as exc:
        raise ValueError(f"`path` must be a readable WAV file. Received a corrupt file {str(path)!r} ({exc})") from None
    truncated = [w for w in caught if "EOF" in str(w.message) or "truncat" in str(w.message).lower()]
    if truncated or data.size == 0:
        reason = truncated[0].message if truncated else "no samples"
        raise ValueError(f"`path` must be a complete WAV file. Received a truncated file {str(path)!r} ({reason})")
    signal = _to_float(data)
    if signal.ndim == 2:
        signal = signal.mean(axis=1)
    if rate != sample_rate:
        divisor = np.gcd(int(rate), int(sample_rate))
        signal = resample_poly(signal, sample_rate // divisor, int(rate) // divisor).astype(np.float32)
    length = int(round(duration * sample_rate))
    return np.pad(signal[:length], (0, max(0, length - len(signal)))).astype(np.float32)


def _to_float(data: np.ndarray) -> np.ndarray:
    if data.dtype == np.uint8:
        return (data.astype(np.float32) - 128.0) / 128.0
    if np.issubdtype(data.dtype, np.integer):
        return data.astype(np.float32) / float(np.iinfo(data.dtype).max + 1)
    return data.astype(np.float32)


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 1127.0 * np.log1p(np.asarray(hz) / 700.0)


def mel_filterbank(n_mels: int = N_MELS, n_fft: int = N_FFT, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Triangular mel filters (HTK mel scale) over ``F_MIN``..``F_MAX``, shape ``(n_fft // 2 + 1, n_mels)``."""
    fft_hz = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    edges = np.linspace(_hz_to_mel(F_MIN), _hz_to_mel(F_MAX), n_mels + 2)
    mel = _hz_to_mel(fft_hz)[:, None]  # (F, 1)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (mel - lower) / (centre - lower)
    falling = (upper - mel) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)  # (F, n_mels)


def mfcc(signal: np.ndarray, *, sample_rate: int = SAMPLE_RATE, n_mfcc: int = N_MFCC) -> np.ndarray:
    """MFCC features of a mono signal with the Hello Edge settings (module docstring).

    Args:
        signal: float samples, ``(T,)``; 1 s at 16 kHz gives 49 frames.
        sample_rate: the signal's rate.
        n_mfcc: number of cepstral coefficients kept.

    Shape:
        output ``(1 + (T - 640) // 320, n_mfcc)``.
    """
    from scipy.fft import dct

    signal = np.asarray(signal, dtype=np.float32)
    if signal.ndim != 1 or len(signal) < FRAME_LENGTH:
        raise ValueError(f"`signal` must be 1-D with >= {FRAME_LENGTH} samples. Received signal.shape={signal.shape}")
    n_frames = 1 + (len(signal) - FRAME_LENGTH) // FRAME_STEP
    starts = np.arange(n_frames)[:, None] * FRAME_STEP
    frames = signal[starts + np.arange(FRAME_LENGTH)] * np.hanning(FRAME_LENGTH).astype(np.float32)  # (T', 640)
    power = np.abs(np.fft.rfft(frames, n=N_FFT)) ** 2  # (T', 513)
    mel_energy = power @ mel_filterbank(N_MELS, N_FFT, sample_rate)  # (T', 40)
    log_mel = np.log(mel_energy + 1e-6)
    return dct(log_mel, type=2, norm="ortho", axis=1)[:, :n_mfcc].astype(np.float32)  # (T', n_mfcc)


class WavFolder:
    """A keyword-spotting data set over ``root/<class>/*.wav`` with MFCC features (DS-CNN input).

    Every file is read and featurised at construction, so a corrupt or truncated WAV fails before
    training starts. Features are standardised with the folder's mean and standard deviation.

    Args:
        root: the folder; one sub-folder per class.
        sample_rate: files at other rates are resampled to it.

    Shape:
        ``dataset[i]`` is ``(x, label)`` with ``x`` float32 ``(1, 49, 10)``.
    """

    def __init__(self, root: str | os.PathLike[str], *, sample_rate: int = SAMPLE_RATE) -> None:
        self.sample_rate = check_positive(sample_rate, "sample_rate")
        self.classes, samples = scan_class_folders(root, (".wav",))
        self.paths: list[Path] = [path for path, _ in samples]
        self.targets = np.array([label for _, label in samples], dtype=np.int64)
        feats = np.stack([mfcc(read_wav(p, sample_rate=self.sample_rate)) for p in self.paths])  # (N, 49, 10)
        self.features = ((feats - feats.mean()) / (feats.std() + 1e-6))[:, None].astype(np.float32)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """``(1, 49, 10)`` for 1 s clips."""
        return tuple(self.features.shape[1:])

    def set_epoch(self, epoch: int) -> None:
        """No augmentation: present for the common data set protocol."""

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        return self.features[index], int(self.targets[index])

    def split(self, val_fraction: float, seed: int = 0) -> tuple[WavFolder, WavFolder]:
        """Seeded (train, validation) views sharing the computed features."""
        return tuple(self.subset(idx) for idx in split_indices(len(self), val_fraction, seed))  # type: ignore[return-value]

    def subset(self, indices: np.ndarray) -> WavFolder:
        """A data set over ``indices`` sharing the computed features."""
        other = object.__new__(WavFolder)
        other.__dict__.update(self.__dict__)
        other.paths = [self.paths[i] for i in indices]
        other.targets = self.targets[indices]
        other.features = self.features[indices]
        return other
