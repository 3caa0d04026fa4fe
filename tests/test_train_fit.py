"""dsconv.train: a real learning check on digits, resume == uninterrupted, logs, checkpoints and their errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dsconv.data import load_dataset  # noqa: E402
from dsconv.train import TrainConfig, fit, load_model, read_checkpoint, train  # noqa: E402
from dsconv.train.smallnet import small_cnn  # noqa: E402

SMALL = "dsconv.train.smallnet:small_cnn"


class Interrupt(Exception):
    """Stands in for a crash / Ctrl-C after an epoch's checkpoint is written."""


def _stop_after(epoch: int):
    def callback(record: dict) -> None:
        if record["epoch"] == epoch:
            raise Interrupt

    return callback


def test_digits_reaches_stated_accuracy(tmp_path: Path) -> None:
    # Seeded: 4 epochs of the small separable CNN on 8x8 digits reach ~0.95; the bound is loose.
    result = train(SMALL, "digits", TrainConfig(epochs=4, batch_size=32, lr=1e-2, out_dir=str(tmp_path), progress=False),
                   size=8)
    assert result.val_acc >= 0.85
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.confusion.shape == (10, 10) and int(result.confusion.sum()) == 359
    metrics = json.loads((tmp_path / "metrics.json").read_text())["history"]
    assert [r["epoch"] for r in metrics] == [1, 2, 3, 4] and metrics[0]["throughput"] > 0
    header = (tmp_path / "metrics.csv").read_text().splitlines()[0]
    assert header == "epoch,train_loss,train_acc,val_loss,val_acc,lr,throughput,epoch_time"
    confusion = json.loads((tmp_path / "confusion.json").read_text())
    assert np.trace(np.array(confusion["matrix"])) / 359 == pytest.approx(result.val_acc)
    model, payload = load_model(tmp_path / "last.pt")
    assert payload["epoch"] == 4 and payload["model_spec"]["factory"] == SMALL
    x = torch.from_numpy(np.stack([load_dataset("digits", size=8).val[i][0] for i in range(4)]))
    torch.testing.assert_close(model(x), result.model(x))


def test_resume_after_interruption_equals_uninterrupted_run(tmp_path: Path) -> None:
    data = load_dataset("digits", size=8, limit=160)

    def run(out: Path, *, resume: bool = False, callbacks=()) -> dict:
        torch.manual_seed(0)
        config = TrainConfig(epochs=3, batch_size=32, lr=5e-3, out_dir=str(out), resume=resume, progress=False,
                             seed=7)
        return fit(small_cnn(num_classes=10, in_channels=1, dropout=0.2), data, config, callbacks=callbacks)

    full = run(tmp_path / "full")
    with pytest.raises(Interrupt):
        run(tmp_path / "cut", callbacks=[_stop_after(2)])
    assert read_checkpoint(tmp_path / "cut" / "last.pt")["epoch"] == 2
    resumed = run(tmp_path / "cut", resume=True)
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3]
    for key, value in full.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, rtol=0, atol=0)
    assert resumed.history[-1]["val_loss"] == full.history[-1]["val_loss"]


def test_existing_run_is_never_overwritten_and_foreign_checkpoints_are_rejected(tmp_path: Path) -> None:
    data = load_dataset("digits", size=8, limit=64)
    config = dict(epochs=1, batch_size=32, out_dir=str(tmp_path), progress=False)
    fit(small_cnn(num_classes=10, in_channels=1, width=8), data, TrainConfig(**config), model_spec=None)
    before = (tmp_path / "last.pt").read_bytes()
    with pytest.raises(FileExistsError, match=r"`out_dir` already holds a checkpoint.*Received out_dir="):
        fit(small_cnn(num_classes=10, in_channels=1, width=8), data, TrainConfig(**config))
    with pytest.raises(ValueError, match=r"`checkpoint` must hold weights of this model.*shape mismatch"):
        fit(small_cnn(num_classes=10, in_channels=1, width=12), data, TrainConfig(**config, resume=True))
    assert (tmp_path / "last.pt").read_bytes() == before
    with pytest.raises(ValueError, match=r"holds a caller-built model; pass `model`"):
        load_model(tmp_path / "last.pt")
    (tmp_path / "junk.pt").write_bytes(b"\x00garbage")
    with pytest.raises(ValueError, match=r"`checkpoint` must be a readable dsconv checkpoint"):
        read_checkpoint(tmp_path / "junk.pt")
    with pytest.raises(FileNotFoundError, match=r"`checkpoint` must be an existing file"):
        fit(small_cnn(), data, TrainConfig(epochs=1, out_dir=str(tmp_path / "fresh"), resume=True, progress=False))


def test_corrupt_data_fails_before_anything_is_overwritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    from dsconv.cli import main

    rng = np.random.default_rng(0)
    for split, count in (("train", 4), ("val", 2)):
        for name in ("a", "b"):
            (tmp_path / "imgs" / split / name).mkdir(parents=True)
            for i in range(count):
                Image.fromarray(rng.integers(0, 255, (10, 10, 3), dtype=np.uint8)).save(tmp_path / "imgs" / split / name / f"{i}.png")
    out = tmp_path / "run"
    args = ["train", SMALL, "--data", f"images:{tmp_path / 'imgs'}", "--size", "8", "--epochs", "1", "--out", str(out),
            "--no-progress"]
    assert main(args) == 0
    assert json.loads((out / "confusion.json").read_text())["classes"] == ["a", "b"]
    assert int(np.sum(json.loads((out / "confusion.json").read_text())["matrix"])) == 4  # the val/ folder
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    (tmp_path / "imgs" / "train" / "a" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
    assert main([*args, "--overwrite"]) == 2
    assert "broken.jpg" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_amp_channels_last_and_a_zoo_model_on_keywords(tmp_path: Path) -> None:
    result = train("ds_cnn_s", "keywords", TrainConfig(epochs=1, batch_size=32, amp=True, channels_last=True,
                                                        progress=False), model_kwargs={"width": 0.25})
    assert result.confusion.shape == (4, 4) and 0.0 <= result.val_acc <= 1.0
    assert np.isfinite(result.history[0]["train_loss"])


def test_shift_task_regression_separable_cannot_fit_two_shifts() -> None:
    # The seed's claim: one separable layer cannot represent two different shifts; a dense layer can.
    losses = {}
    for separable in (True, False):
        result = train("dsconv.train.smallnet:conv_map", "shift_task",
                       TrainConfig(epochs=10, batch_size=64, lr=0.05, progress=False),
                       model_kwargs={"separable": separable, "kernel_size": 3})
        assert result.val_acc is None and result.confusion is None
        losses[separable] = result.val_loss
    assert losses[False] < 1e-3 < 0.2 < losses[True]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": 0}, r"`epochs` must be a positive integer"),
        ({"optimizer": "lion"}, r"`optimizer` must be one of 'adamw', 'sgd'. Received optimizer='lion'"),
        ({"lr": -1.0}, r"`lr` must be a finite number > 0"),
        ({"resume": True}, r"`resume` needs an `out_dir`"),
        ({"label_smoothing": -0.1}, r"`label_smoothing` must be a number >= 0"),
    ],
)
def test_config_errors(kwargs: dict, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        TrainConfig(**kwargs)


def test_cli_train_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dsconv.cli import main

    out = tmp_path / "run"
    args = ["train", SMALL, "--data", "digits", "--size", "8", "--limit", "64", "--epochs", "1", "--out", str(out),
            "--no-progress", "--model-arg", "width=8"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["epochs"] == 1 and Path(summary["checkpoint"]) == out / "last.pt"
    assert main(args) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["train", SMALL, "--data", "digits", "--model-arg", "oops"]) == 2
    assert "`--model-arg` must look like key=value" in capsys.readouterr().err
    assert main(["train", str(out / "last.pt"), "--eval-only"]) == 0
    evaluated = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert evaluated["samples"] == 359 and evaluated["val_acc"] == pytest.approx(summary["val_acc"])
    assert main(["train", SMALL]) == 2
    assert "`--data` is required for training" in capsys.readouterr().err
