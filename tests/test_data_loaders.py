"""dsconv.data: image folders, digits, WAV + MFCC, synthetic keywords, the data-set catalogue, and their errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dsconv.data import ArrayDataset, ImageFolder, WavFolder, load_dataset, load_digits, mfcc, read_wav
from dsconv.data import write_keyword_dataset
from dsconv.data.images import resize_bilinear


def _write_images(root: Path, classes: dict[str, int], size: tuple[int, int] = (20, 26)) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for c, (name, count) in enumerate(classes.items()):
        (root / name).mkdir(parents=True)
        for i in range(count):
            pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8) // 4 + 60 * c
            suffix = ".png" if i % 2 == 0 else ".jpg"
            Image.fromarray(pixels).save(root / name / f"{i}{suffix}")


@pytest.fixture
def image_root(tmp_path: Path) -> Path:
    _write_images(tmp_path / "imgs", {"cat": 4, "dog": 3, "fox": 3})
    return tmp_path / "imgs"


def test_image_folder_shapes_labels_and_normalisation(image_root: Path) -> None:
    ds = ImageFolder(image_root, size=16, in_channels=3)
    assert ds.classes == ["cat", "dog", "fox"]
    assert len(ds) == 10 and ds.sample_shape == (3, 16, 16)
    x, label = ds[5]
    assert x.shape == (3, 16, 16) and x.dtype == np.float32 and label == 1
    grey = ImageFolder(image_root, size=8, in_channels=1)
    assert grey[0][0].shape == (1, 8, 8)


def test_image_folder_augmentation_is_seeded_per_epoch(image_root: Path) -> None:
    train, val = ImageFolder(image_root, size=12, seed=3).split(0.3, seed=1)
    assert len(train) + len(val) == 10 and train.train and not val.train
    first = train[0][0]
    np.testing.assert_array_equal(first, train[0][0])  # same epoch -> same crop/flip
    assert any(not np.array_equal(first, (train.set_epoch(e), train[0][0])[1]) for e in range(1, 6))
    np.testing.assert_array_equal(val[0][0], val[0][0])


def test_image_folder_rejects_corrupt_and_truncated_files(image_root: Path) -> None:
    (image_root / "cat" / "bad.png").write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match=r"`root` must contain only readable images.*bad\.png"):
        ImageFolder(image_root, size=8)
    (image_root / "cat" / "bad.png").unlink()
    good = (image_root / "dog" / "0.png").read_bytes()
    (image_root / "dog" / "cut.png").write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match=r"corrupt or truncated file .*cut\.png"):
        ImageFolder(image_root, size=8)


def test_image_folder_rejects_empty_class_and_missing_root(image_root: Path, tmp_path: Path) -> None:
    (image_root / "empty").mkdir()
    with pytest.raises(ValueError, match=r"class folder 'empty' must contain at least one"):
        ImageFolder(image_root, size=8)
    with pytest.raises(FileNotFoundError, match=r"`root` must be an existing folder"):
        ImageFolder(tmp_path / "nope")
    with pytest.raises(ValueError, match=r"`in_channels` must be 1 or 3"):
        ImageFolder(image_root, in_channels=2)


def test_resize_bilinear_keeps_constants_and_identity() -> None:
    img = np.full((5, 7, 2), 3.0, dtype=np.float32)
    np.testing.assert_allclose(resize_bilinear(img, 9, 4), 3.0)
    ramp = np.arange(12, dtype=np.float32).reshape(3, 4, 1)
    np.testing.assert_allclose(resize_bilinear(ramp, 3, 4), ramp)


def test_digits_splits_are_seeded_and_standardised() -> None:
    train, val = load_digits(size=16, in_channels=3, seed=0)
    assert train.sample_shape == (3, 16, 16) and len(train) + len(val) == 1797
    assert abs(float(train.x.mean())) < 1e-4 and abs(float(train.x.std()) - 1) < 1e-3
    again, _ = load_digits(size=16, in_channels=3, seed=0)
    np.testing.assert_array_equal(train.y, again.y)
    assert sorted(set(val.y.tolist())) == list(range(10))


def test_mfcc_has_hello_edge_shape_and_reads_wavs(tmp_path: Path) -> None:
    from scipy.io import wavfile

    t = np.arange(8000) / 8000
    wavfile.write(tmp_path / "a.wav", 8000, (0.5 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16))
    signal = read_wav(tmp_path / "a.wav")  # resampled 8 kHz -> 16 kHz, padded to 1 s
    assert signal.shape == (16000,) and signal.dtype == np.float32
    assert 0.45 < float(np.abs(signal).max()) < 0.55
    feats = mfcc(signal)
    assert feats.shape == (49, 10) and np.isfinite(feats).all()
    with pytest.raises(ValueError, match=r"`signal` must be 1-D with >= 640 samples"):
        mfcc(np.zeros(100, dtype=np.float32))


def test_wav_errors_name_the_file(tmp_path: Path) -> None:
    from scipy.io import wavfile

    (tmp_path / "junk.wav").write_bytes(b"RIFF1234WAVEjunk")
    with pytest.raises(ValueError, match=r"`path` must be a .*WAV file.*junk\.wav"):
        read_wav(tmp_path / "junk.wav")
    wavfile.write(tmp_path / "ok.wav", 16000, np.zeros(16000, dtype=np.int16))
    data = (tmp_path / "ok.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[: len(data) // 3])
    with pytest.raises(ValueError, match=r"cut\.wav"):
        read_wav(tmp_path / "cut.wav")


def test_keyword_set_round_trip_through_wav_folder(tmp_path: Path) -> None:
    classes = write_keyword_dataset(tmp_path / "kw", per_class=3, num_classes=3, seed=1)
    ds = WavFolder(tmp_path / "kw")
    assert ds.classes == sorted(classes) and len(ds) == 9 and ds.sample_shape == (1, 49, 10)
    train, val = ds.split(0.34, seed=0)
    assert len(train) + len(val) == 9
    (tmp_path / "kw" / "empty_kw").mkdir()
    with pytest.raises(ValueError, match=r"empty class folder"):
        WavFolder(tmp_path / "kw")
    with pytest.raises(ValueError, match=r"`num_classes` must be in \[2, 6\]"):
        write_keyword_dataset(tmp_path / "x", num_classes=9)


def test_catalogue_names_limits_and_errors(image_root: Path, tmp_path: Path) -> None:
    splits = load_dataset("digits", size=8, limit=50)
    assert len(splits.train) == 50 and splits.sample_shape == (1, 8, 8) and len(splits.classes) == 10
    folder = load_dataset(f"images:{image_root}", size=8, val_fraction=0.3)
    assert folder.classes == ["cat", "dog", "fox"] and len(folder.train) + len(folder.val) == 10
    synthetic = load_dataset("gratings_rings", num_samples=40)
    assert len(synthetic.train) == 32 and synthetic.train[0][0].dtype == np.float32
    with pytest.raises(FileNotFoundError, match=r"`data` must be one of 'digits'.*Received data="):
        load_dataset(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match=r"`limit` must be a positive integer"):
        load_dataset("digits", size=8, limit=0)


def test_array_dataset_labels_and_regression_targets() -> None:
    with pytest.raises(ValueError, match=r"`y` must be integer labels of shape \(3,\) or float targets with 3 rows"):
        ArrayDataset(np.zeros((3, 1, 2, 2)), np.zeros(2))
    with pytest.raises(ValueError, match=r"`y` must be in \[0, 2\)"):
        ArrayDataset(np.zeros((3, 1, 2, 2)), np.array([0, 2, 1]), classes=["a", "b"])
    ds = ArrayDataset(np.zeros((3, 1, 2, 2)), np.array([0, 2, 1]))
    assert ds.classes == ["0", "1", "2"] and ds[1][1] == 2 and ds.task == "classification"
    maps = ArrayDataset(np.zeros((3, 1, 2, 2)), np.ones((3, 2, 2, 2)))
    assert maps.task == "regression" and maps.classes == [] and maps[0][1].shape == (2, 2, 2)
    shift = load_dataset("shift_task", num_samples=20)
    assert shift.task == "regression" and shift.target_shape == (2, 12, 12)
