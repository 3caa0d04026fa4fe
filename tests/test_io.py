"""Atomic writes: whole file or nothing, ordinary permissions, clear errors."""

from __future__ import annotations

import os
import stat

import pytest

from dsconv._io import atomic_path, atomic_write_bytes, atomic_write_text


def test_write_replaces_whole_file(tmp_path):
    target = tmp_path / "report.json"
    atomic_write_text(target, "old")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary left behind


def test_failure_keeps_previous_file_and_cleans_up(tmp_path):
    target = tmp_path / "model.onnx"
    atomic_write_text(target, "previous")
    with pytest.raises(RuntimeError, match="exporter crashed"):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("exporter crashed")
    assert target.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_permissions_follow_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="`path` must be in an existing folder. Received path="):
        atomic_write_text(tmp_path / "missing" / "a.txt", "x")
