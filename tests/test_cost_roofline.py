"""Roofline bounds: the Machine file format, per-layer bounds, and depthwise layers' share of the time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from torch import nn

from dsconv.cost import Machine, conv_cost, depthwise_cost, layer_bound, pointwise_cost, profile, roofline
from dsconv.cost.report import roofline_to_markdown


def test_machine_json_round_trip(tmp_path: Path) -> None:
    machine = Machine(dram_gbs=50.0, peak_gflops=200.0, cache_gbs=150.0, name="box")
    path = machine.save(tmp_path / "machine.json")
    assert Machine.from_json(path) == machine
    assert json.loads(machine.to_json())["peak_gflops"] == 200.0
    # A bench may record more keys; they are ignored. cache_gbs is optional.
    extra = tmp_path / "bench.json"
    extra.write_text(json.dumps({"dram_gbs": 45, "peak_gflops": 233, "name": "x", "threads": 2}))
    loaded = Machine.from_json(extra)
    assert (loaded.dram_gbs, loaded.peak_gflops, loaded.cache_gbs) == (45, 233, None)


def test_machine_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"`dram_gbs` must be a finite number > 0. Received dram_gbs=0"):
        Machine(dram_gbs=0, peak_gflops=1)
    with pytest.raises(ValueError, match=r"`peak_gflops` must be a finite number > 0. Received peak_gflops=-3"):
        Machine(dram_gbs=1, peak_gflops=-3)
    with pytest.raises(FileNotFoundError, match=r"`path` must be an existing machine JSON file"):
        Machine.from_json(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"dram_gbs": 45}))
    with pytest.raises(ValueError, match=r"`path` must hold a JSON object with `dram_gbs` and `peak_gflops`"):
        Machine.from_json(bad)
    bad.write_text("{not json")
    with pytest.raises(ValueError, match=r"`path` must contain valid JSON"):
        Machine.from_json(bad)
    with pytest.raises(ValueError, match=r"`name` must be one of 'this-2core-zen4'. Received name='cray'"):
        Machine.preset("cray")
    with pytest.raises(ValueError, match=r"`memory`='cache' needs a machine with `cache_gbs`"):
        Machine(dram_gbs=1, peak_gflops=1).bandwidth_gbs("cache")


def test_preset_states_its_source() -> None:
    machine = Machine.preset("this-2core-zen4")
    assert (machine.peak_gflops, machine.dram_gbs) == (233.0, 45.0)
    assert "kernels.md" in machine.source
    assert machine.ridge_point() == pytest.approx(233 / 45)


def test_layer_bounds_by_hand() -> None:
    machine = Machine(dram_gbs=10.0, peak_gflops=100.0, cache_gbs=40.0)
    t_mem, t_cmp = layer_bound(2_000_000, 1_000_000, machine)
    assert (t_mem, t_cmp) == pytest.approx((1e-4, 2e-5))
    dw = depthwise_cost(64, 3, (28, 28), padding=1)  # about 2 FLOP per byte: below the ridge (10)
    pw = pointwise_cost(64, 64, (28, 28))  # about 25 FLOP per byte: above it
    result = roofline([dw, pw], machine)
    assert [r.bound for r in result.rows] == ["memory", "compute"]
    assert result.rows[0].time == pytest.approx(dw.bytes_total / 10e9)
    assert result.rows[1].time == pytest.approx(pw.flops / 100e9)
    assert result.time == pytest.approx(sum(r.time for r in result.rows))
    cached = roofline([dw, pw], machine, memory="cache")
    assert cached.time < result.time
    with pytest.raises(TypeError, match=r"`costs` must be a Profile or a sequence of LayerCost"):
        roofline(3, machine)
    with pytest.raises(TypeError, match=r"`machine` must be a dsconv.cost.Machine"):
        roofline([dw], {"dram_gbs": 1})


def test_depthwise_share_of_time_exceeds_share_of_macs() -> None:
    layers: list[nn.Module] = [nn.Conv2d(3, 16, 3, 2, 1)]
    for c_in, c_out in ((16, 32), (32, 64), (64, 64)):
        layers += [nn.Conv2d(c_in, c_in, 3, 1, 1, groups=c_in), nn.Conv2d(c_in, c_out, 1)]
    model = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))
    prof = profile(model, (3, 32, 32))
    result = roofline(prof, Machine.preset("this-2core-zen4"))
    shares = result.time_share()
    assert shares["depthwise"] > result.macs_share["depthwise"]
    assert result.macs_share["depthwise"] == pytest.approx(prof.by_kind()["depthwise"].macs_share)
    assert sum(shares.values()) == pytest.approx(1.0)
    assert {r.bound for r in result.rows if r.kind == "depthwise"} == {"memory"}
    text = roofline_to_markdown(result, top=3)
    assert "depthwise layers take" in text and "| layer | kind | FLOPs/byte | bound | time (us) |" in text
    data = json.loads(json.dumps(result.to_dict()))
    assert data["time_s"] == pytest.approx(result.time)
