"""dsconv.export: ONNX parity vs onnxruntime, TorchScript round trip, BN folding, int8 quantisation report, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from dsconv.export import export_model, export_torchscript, fold_bn  # noqa: E402
from dsconv.train import TrainConfig, train  # noqa: E402


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    train("dsconv.train.smallnet:small_cnn", "digits",
          TrainConfig(epochs=2, batch_size=32, lr=1e-2, out_dir=str(out), progress=False), size=8)
    return out / "best.pt"


def test_cli_exports_checkpoint_to_onnx_with_folding_and_int8(checkpoint: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    from dsconv.cli import main

    out = tmp_path / "digits.onnx"
    code = main(["export", str(checkpoint), "--format", "onnx", "--out", str(out), "--fold-bn", "--quantize", "static",
                 "--samples", "200", "--report", str(tmp_path / "report.json")])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report == json.loads((tmp_path / "report.json").read_text())
    assert report["export"]["max_abs_diff"] < 1e-4 and out.is_file()
    assert len(report["fold"]["pairs"]) == 5 and len(report["fold"]["fused_with_activation"]) == 5
    quant = report["quantization"]
    assert Path(quant["int8_path"]) == tmp_path / "digits.int8.onnx" and quant["samples"] == 200
    assert quant["fp32_accuracy"] > 0.5 and abs(quant["accuracy_change"]) < 0.1 and quant["top1_agreement"] > 0.9
    assert quant["int8_bytes"] > 0 and quant["size_ratio"] == pytest.approx(quant["int8_bytes"] / quant["fp32_bytes"])


def test_torchscript_round_trip_and_zoo_names(checkpoint: Path, tmp_path: Path) -> None:
    report = export_model(str(checkpoint), tmp_path / "m.pt", format="torchscript")
    assert report["export"]["max_abs_diff"] == 0.0 and report["input_shape"] == [1, 8, 8]
    zoo = export_model("mobilenet_v1", tmp_path / "mnv1.pt", format="torchscript", fold=True,
                       model_kwargs={"width": 0.25, "num_classes": 3, "resolution": 32})
    assert zoo["export"]["max_abs_diff"] < 1e-4 and len(zoo["fold"]["pairs"]) == 27


def test_fold_bn_keeps_outputs_of_inverted_residuals() -> None:
    from dsconv.models import create_model

    torch.manual_seed(0)
    model = create_model("mobilenet_v2", num_classes=4, width=0.25, resolution=32).train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(8, 3, 32, 32))  # non-trivial running statistics
    x = torch.randn(2, 3, 32, 32)
    folded, report = fold_bn(model, x)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    torch.testing.assert_close(folded(x), model.eval()(x), rtol=1e-4, atol=1e-4)
    assert report.max_abs_diff < 1e-4 and len(report.fused) < len(report.pairs)  # projections have no activation


def test_fold_bn_leaves_a_shared_conv_output_alone() -> None:
    class Shared(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.bn = torch.nn.Conv2d(2, 2, 3, padding=1), torch.nn.BatchNorm2d(2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.conv(x)
            return self.bn(y) + y  # the pre-BN output is used twice: folding would change the result

    model = Shared().train()
    model(torch.randn(4, 2, 5, 5))
    folded, report = fold_bn(model, torch.randn(2, 2, 5, 5))
    assert report.pairs == [] and isinstance(folded.bn, torch.nn.BatchNorm2d)


def test_export_errors_write_nothing(checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"`quantize` needs format='onnx'"):
        export_model(str(checkpoint), tmp_path / "a.pt", format="torchscript", quantize="static")
    with pytest.raises(ValueError, match=r"`data` must name a data set for static quantisation"):
        export_model("mobilenet_v1", tmp_path / "b.onnx", quantize="static", model_kwargs={"width": 0.25})
    with pytest.raises(ValueError, match=r"`model` must be a registered zoo name .*Received model='nope'"):
        export_model("nope", tmp_path / "c.onnx")
    with pytest.raises(ValueError, match=r"`format` must be one of 'onnx', 'torchscript'"):
        export_model("mobilenet_v1", tmp_path / "d.tflite", format="tflite")
    with pytest.raises(FileNotFoundError, match=r"`path` must be in an existing folder"):
        export_torchscript(torch.nn.Linear(2, 2), (2,), tmp_path / "missing" / "e.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == []
