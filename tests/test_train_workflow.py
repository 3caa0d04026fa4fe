"""The README workflow on a user's image folder: train a zoo model, evaluate, export to ONNX and TorchScript, int8.

These are the exact commands the README shows (paths substituted), run through ``dsconv.cli.main``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")


def _image_folder(root: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for label, name in enumerate(("circle", "square")):
        (root / name).mkdir(parents=True)
        for i in range(6):
            yy, xx = np.mgrid[:40, :40]
            mask = (yy - 20) ** 2 + (xx - 20) ** 2 < 150 if label == 0 else (abs(yy - 20) < 12) & (abs(xx - 20) < 12)
            pixels = (rng.integers(0, 40, (40, 40, 3)) + 180 * mask[..., None]).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.{'png' if i % 2 else 'jpg'}")


@pytest.mark.slow
def test_readme_image_folder_workflow(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dsconv.cli import main

    data, run = tmp_path / "my_images", tmp_path / "runs" / "mine"
    _image_folder(data)
    (tmp_path / "runs").mkdir()
    train = ["train", "mobilenet_v1", "--width", "0.25", "--data", f"images:{data}", "--size", "32", "--epochs", "2",
             "--batch-size", "4", "--out", str(run), "--no-progress"]
    assert main(train) == 0
    assert {"last.pt", "best.pt", "metrics.json", "metrics.csv", "confusion.json"} <= {p.name for p in run.iterdir()}
    assert main([*train[:-3], "--epochs", "3", "--out", str(run), "--resume", "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["epochs"] == 3

    assert main(["train", str(run / "best.pt"), "--eval-only"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["samples"] == 2  # 20% of 12 images

    onnx_path = tmp_path / "mine.onnx"
    assert main(["export", str(run / "best.pt"), "--format", "onnx", "--out", str(onnx_path), "--fold-bn",
                 "--quantize", "static"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["export"]["max_abs_diff"] < 1e-3 and len(report["fold"]["pairs"]) == 27
    assert (tmp_path / "mine.int8.onnx").is_file() and report["quantization"]["int8_bytes"] < report["quantization"]["fp32_bytes"]

    assert main(["export", str(run / "best.pt"), "--format", "torchscript", "--out", str(tmp_path / "mine.pt")]) == 0
    assert json.loads(capsys.readouterr().out)["export"]["max_abs_diff"] < 1e-5
