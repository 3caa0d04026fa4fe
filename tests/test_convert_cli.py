"""``dsconv convert`` end to end on saved models (pickled module and state dict + factory)."""

from __future__ import annotations

import json

import torch
from torch import nn

from dsconv.cli import main
from dsconv.convert import load_model


def make_model(width: int = 16) -> nn.Module:
    """Factory used through ``--factory test_convert_cli:make_model``."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
                         nn.Conv2d(width, width, 3, padding=1))


def test_convert_pickled_module(tmp_path, capsys):
    torch.save(make_model(), tmp_path / "model.pt")
    out, report = tmp_path / "sep.pt", tmp_path / "report.json"
    code = main(["convert", str(tmp_path / "model.pt"), "-o", str(out), "--rank", "9", "--force", "--fold-bn",
                 "--input-size", "3", "8", "8", "--report", str(report)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "criterion rank=9: 2/2 convolutions converted" in printed
    data = json.loads(report.read_text())
    assert [row["bn_folded"] for row in data["layers"]] == [True, False]
    assert data["output_error"] < 1e-5
    converted = load_model(out)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(converted(x), make_model().eval()(x), rtol=1e-4, atol=1e-5)
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporaries


def test_convert_state_dict_with_factory(tmp_path, capsys):
    torch.save(make_model(8).state_dict(), tmp_path / "weights.pt")
    code = main(["convert", str(tmp_path / "weights.pt"), "-o", str(tmp_path / "out.pt"), "--energy", "0.9",
                 "--factory", "test_convert_cli:make_model", "--factory-kwargs", '{"width": 8}',
                 "--input-size", "3", "8", "8", "--report", str(tmp_path / "report.md")])
    assert code == 0
    assert "criterion energy=0.9" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "out.pt").is_file()


def test_convert_cli_errors(tmp_path, capsys):
    torch.save(make_model(), tmp_path / "model.pt")
    args = ["convert", str(tmp_path / "model.pt"), "-o", str(tmp_path / "o.pt"), "--input-size", "3", "8", "8"]
    assert main(args + ["--energy", "1.5"]) == 2
    assert "`energy` must be in (0, 1]. Received energy=1.5" in capsys.readouterr().err
    assert main(args + ["--rank", "1", "--factory", "nodots"]) == 2
    assert "`factory` must look like 'package.module:function'" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "missing.pt"), "-o", str(tmp_path / "o.pt"), "--rank", "1"]) == 2
    assert "`path` must be an existing model file" in capsys.readouterr().err
    assert not (tmp_path / "o.pt").exists()
