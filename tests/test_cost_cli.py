"""``dsconv cost`` and ``dsconv profile`` through ``dsconv.cli.main`` (parsing and printing only)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from torch import nn

from dsconv.cli import main


def tiny_model(width: float = 1.0, num_classes: int = 4) -> nn.Module:
    """A factory for ``--module test_cost_cli:tiny_model``."""
    c = max(1, int(8 * width))
    model = nn.Sequential(nn.Conv2d(3, c, 3, 2, 1), nn.Conv2d(c, c, 3, 1, 1, groups=c), nn.Conv2d(c, 2 * c, 1),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * c, num_classes))
    model.default_input_size = (3, 16, 16)
    return model


def not_a_model() -> int:
    return 3


def test_cost_prints_the_seed_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cost", "--in-channels", "192", "--out-channels", "384", "--kernel-size", "3", "--size", "56"]) == 0
    out = capsys.readouterr().out
    assert "Convolution 192x56x56 -> 384x56x56, kernel 3x3" in out
    assert "| MACs | 2,080,899,072 | 236,630,016 | 0.1137 |" in out
    assert "1/C_out + 1/k^2 = 0.1137; savings rho = 88.6%" in out


def test_cost_json_and_reduction(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["cost", "--in-channels", "192", "--out-channels", "384", "--kernel-size", "3", "--size", "56",
            "--reduction", "10", "--format", "json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["macs_ratio"] == pytest.approx(1 / 384 + 1 / 9)
    assert data["min_kernel_size"] == 4 and data["min_out_channels"] is None
    assert main([*argv[:-2]]) == 0
    assert "smallest C_out with k=3: impossible (needs k^2 > reduction)" in capsys.readouterr().out


def test_cost_3d_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cost", "--in-channels", "4", "--out-channels", "8", "--kernel-size", "3", "--size", "6",
                 "--dims", "3", "--padding", "0", "--stride", "2", "--format", "md"]) == 0
    assert "Convolution 4x6x6x6 -> 8x2x2x2, kernel 3x3x3" in capsys.readouterr().out
    assert main(["cost", "--in-channels", "0", "--out-channels", "8", "--kernel-size", "3", "--size", "6"]) == 2
    assert "`in_channels` must be a positive integer (>= 1). Received in_channels=0" in capsys.readouterr().err
    assert main(["cost", "--in-channels", "4", "--out-channels", "8", "--kernel-size", "9", "--size", "6",
                 "--padding", "valid"]) == 2
    assert "must not exceed the padded input size 6" in capsys.readouterr().err


def test_profile_module_formats(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    spec = f"{__name__}:tiny_model"
    assert main(["profile", "--module", spec, "--format", "json", "--width", "0.5"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["input_size"] == [3, 16, 16] and data["by_kind"]["depthwise"]["layers"] == 1
    assert main(["profile", "--module", spec, "--format", "csv", "--flops", "--input-size", "3", "8", "8"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert table[-1]["layer"] == "TOTAL" and "flops" in table[0]
    assert main(["profile", "--module", spec, "--format", "md", "--fold-bn", "--no-bias", "--preset",
                 "this-2core-zen4"]) == 0
    out = capsys.readouterr().out
    assert "| layer | type | kind |" in out and "Roofline lower bound on this-2core-zen4" in out
    assert main(["profile", "--module", spec]) == 0
    assert "By kind" in capsys.readouterr().out
    target = tmp_path / "p.md"
    assert main(["profile", "--module", spec, "--format", "md", "--bandwidth", "10", "--peak", "100",
                 "--output", str(target)]) == 0
    assert "Roofline lower bound on command line" in target.read_text()


def test_profile_machine_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    machine = tmp_path / "machine.json"
    machine.write_text(json.dumps({"name": "bench", "dram_gbs": 40.0, "peak_gflops": 200.0, "cache_gbs": 150.0}))
    assert main(["profile", "--module", f"{__name__}:tiny_model", "--format", "json", "--machine", str(machine),
                 "--memory", "cache"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["roofline"]["machine"]["name"] == "bench" and data["roofline"]["memory"] == "cache"


def test_profile_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "--module", f"{__name__}:tiny_model", "--input-size", "3", "1", "1",
                 "--format", "md"]) == 0  # a 1x1 input still fits (padding 1)
    capsys.readouterr()
    assert main(["profile", "--module", f"{__name__}:tiny_model", "--input-size", "5", "8", "8"]) == 2
    assert "layer `0` (Conv2d) failed" in capsys.readouterr().err
    assert main(["profile", "--module", f"{__name__}:not_a_model"]) == 2
    assert "`module` factory must return a torch.nn.Module" in capsys.readouterr().err
    assert main(["profile", "--module", "no_such_pkg_xyz:f"]) == 2
    assert "`module` must name an importable module" in capsys.readouterr().err
    assert main(["profile"]) == 2
    assert "Give exactly one of `name` and `module`" in capsys.readouterr().err
    assert main(["profile", "--module", f"{__name__}:tiny_model", "--bandwidth", "10"]) == 2
    assert "`--bandwidth` and `--peak` go together" in capsys.readouterr().err
    assert main(["profile", "--module", f"{__name__}:tiny_model", "--format", "csv", "--preset",
                 "this-2core-zen4"]) == 2
    assert "`--format` csv holds the layer table only" in capsys.readouterr().err


def test_profile_registered_model(capsys: pytest.CaptureFixture[str]) -> None:
    """A zoo model by name, with the factory's width and resolution (its default_input_size follows)."""
    assert main(["profile", "mobilenet_v1", "--width", "0.25", "--resolution", "64", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["input_size"] == [3, 64, 64]
    assert data["by_kind"]["depthwise"]["layers"] == 13 and data["by_kind"]["pointwise"]["layers"] == 13
    assert not [u for u in data["unaccounted"] if "cost rule" in u["reason"]]
