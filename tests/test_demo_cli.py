"""``dsconv demo`` / ``dsconv experiment``: output folders, bad input and one real end-to-end run."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from dsconv.cli import main
from dsconv.experiments._demo import prepare_out_dir


def test_prepare_out_dir_never_overwrites_silently(tmp_path):
    fresh = prepare_out_dir(tmp_path / "demo")
    assert fresh == tmp_path / "demo" and fresh.is_dir()
    (fresh / "index.html").write_text("previous run")
    now = dt.datetime(2026, 11, 21, 23, 15, 0)
    again = prepare_out_dir(tmp_path / "demo", now=now)
    assert again == tmp_path / "demo-20261121-231500" and again.is_dir()
    assert prepare_out_dir(tmp_path / "demo", force=True) == tmp_path / "demo"
    assert (fresh / "index.html").read_text() == "previous run"  # preparing never deletes anything
    with pytest.raises(FileExistsError, match=r"`out` already has a run from this second"):
        prepare_out_dir(tmp_path / "demo", now=now)


def test_prepare_out_dir_rejects_files_and_unwritable_places(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(FileExistsError, match=r"`out` must be a folder, not a file. Received out="):
        prepare_out_dir(blocker)
    with pytest.raises(PermissionError, match=r"`out` must be a folder that can be created and written"):
        prepare_out_dir(blocker / "sub")  # a path under a file can never be created


def test_cli_unknown_experiment_suggests_close_names(capsys, tmp_path):
    assert main(["experiment", "shift_tsk", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "dsconv experiment: error:" in err and "Did you mean 'shift_task'?" in err
    assert not (tmp_path / "x").exists()  # nothing created for a bad name
    assert main(["demo", "--only", "early_lat", "--out", str(tmp_path / "y"), "--no-progress"]) == 2
    assert "Did you mean 'early_late'?" in capsys.readouterr().err


def test_cli_unwritable_output_folder_is_a_clear_error(capsys, tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    assert main(["demo", "--out", str(blocker / "demo"), "--no-progress"]) == 2
    assert "`out` must be a folder that can be created and written" in capsys.readouterr().err
    assert main(["experiment", "mobilenet_tables", "--out", str(blocker)]) == 2
    assert "`out` must be a folder, not a file" in capsys.readouterr().err


def test_cli_experiment_list_and_missing_name(capsys):
    assert main(["experiment", "--list"]) == 0
    listing = capsys.readouterr().out
    assert "shift_task:" in listing and "conversion:" in listing
    assert main(["experiment"]) == 2
    assert "`name` must be given" in capsys.readouterr().err


def test_cli_experiment_runs_and_writes_a_report(capsys, tmp_path):
    out = tmp_path / "tables"
    assert main(["experiment", "mobilenet_tables", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "mobilenet_tables" in printed and "HOLDS" in printed and str(out / "index.html") in printed
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    entry = data["experiments"][0]
    assert entry["name"] == "mobilenet_tables" and entry["result"]["holds"] is True
    assert entry["figures"] == ["mobilenet_tables.png"]
    page = (out / "index.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 1 and "<table>" in page


def test_a_failing_experiment_is_reported_not_fatal(monkeypatch, capsys, tmp_path):
    from dsconv.experiments import get_experiment

    def explode(cfg, progress=None):
        raise RuntimeError("boom")

    monkeypatch.setattr(get_experiment("mobilenet_tables"), "run", explode)
    assert main(["experiment", "mobilenet_tables", "--out", str(tmp_path / "r"), "--no-progress"]) == 1
    printed = capsys.readouterr().out
    assert "RuntimeError: boom" in printed
    data = json.loads((tmp_path / "r" / "results.json").read_text(encoding="utf-8"))
    assert data["experiments"][0]["error"] == "RuntimeError: boom"
    assert "Failed:" in (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
