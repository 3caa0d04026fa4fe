"""Smoke tests of ``dsconv bench`` with tiny settings (``--quick``): files are written, tables are sane.

No timing assertions: the numbers of a smoke run mean nothing.
"""

from __future__ import annotations

import json

import pytest

from dsconv.cli import main
from dsconv.cost.roofline import Machine
from dsconv.kernels.bench.timing import interleaved
from dsconv.kernels import _mkl
from dsconv.kernels.modules import bf16_available


def test_machine_layers_models_quick(tmp_path, capsys):
    assert main(["bench", "--machine", "--quick", "--out-dir", str(tmp_path)]) == 0
    machine = Machine.from_json(tmp_path / "machine.json")
    assert machine.dram_gbs > 0 and machine.cache_gbs > 0 and machine.peak_gflops > 0
    curve = json.loads((tmp_path / "results" / "machine.json").read_text())["copy_gbs_by_footprint_mib"]
    assert list(curve) == ["0.5", "8"] and all(v > 0 for v in curve.values())
    assert main(["bench", "layers", "--quick", "--backward", "--batch", "1", "--repeats", "1",
                 "--out-dir", str(tmp_path)]) == 0
    layers = json.loads((tmp_path / "results" / "layers.json").read_text())
    row = layers["rows"][0]
    assert set(row["times_s"]) == {"dsconv", "torch_nchw", "torch_cl", "onnxruntime"}
    assert layers["launch_floor_s"] > 0
    assert row["stream_roof_s"] > 0 and set(row["pct_of_stream_roof"]) == set(row["times_s"])
    assert set(row["speedup"]) == {"torch_nchw", "torch_cl", "onnxruntime"}
    for section in ("separable", "backward"):
        assert json.loads((tmp_path / "results" / f"{section}.json").read_text())["rows"]
        assert (tmp_path / "figures" / f"{section}.png").stat().st_size > 0
    separable = json.loads((tmp_path / "results" / "separable.json").read_text())["rows"]
    assert "onnxruntime" in separable[0]["times_s"]
    assert main(["bench", "models", "--quick", "--batch", "1", "--repeats", "1", "--no-onnx",
                 "--out-dir", str(tmp_path)]) == 0
    models = json.loads((tmp_path / "results" / "models.json").read_text())["rows"]
    expected = {"dsconv", "dsconv_torch", "dsconv_numpy", "torch_eager", "torch_eager_cl"}
    if _mkl.available():  # the default is then "mkl", and oneDNN's two-stage block is a column of its own
        expected |= {"dsconv_onednn"}
    if bf16_available():
        expected |= {"dsconv_bf16", "torch_eager_bf16_cl"}
        # an untrained network in bfloat16 drifts by some 10-30% of its output; no more than PyTorch's own does
        assert models[0]["max_abs_diff_bf16"] <= 1.5 * models[0]["max_abs_diff_torch_bf16"]
    else:
        assert models[0]["max_abs_diff_bf16"] is None
    assert models[0]["max_abs_diff"] < 1e-3 and set(models[0]["times_s"]) == expected
    assert (tmp_path / "figures" / "scaling.png").is_file()
    text = (tmp_path / "RESULTS.md").read_text()
    for heading in ("## Machine roofs", "## Depthwise 3x3 forward", "## Fused separable block",
                    "## Depthwise 3x3 backward", "## Whole models", "## Scaling"):
        assert heading in text
    assert "threads 2" in text and "float32" in text and "allocator" in text
    assert text.count("Launch floor in this run") == 3  # forward, fused block and backward sections
    assert text.count("Against the faster PyTorch layout of each row") == 3
    assert text.count("Against the stream roof") == 3 and "dsconv % stream roof" in text


@pytest.mark.parametrize("sizes", [(10, 3, 10), (40, 7, 10), (10, 0, 37), (5, 5, 200), (1000, 1, 3)])
def test_stream_reads_every_source_element_and_writes_every_destination_element(sizes):
    """The stream roof's kernel: per task, the start of its share of ``a`` copied into its share of ``dst``,
    the rest of that share filled with the sum of what it read besides (so every element is read and
    written), whatever the sizes."""
    import numpy as np

    from dsconv.kernels.bench.machine import stream

    na, nb, nd = sizes
    rng = np.random.default_rng(0)
    a, b = rng.random(na, dtype=np.float32), rng.random(nb, dtype=np.float32)
    dst = np.full(nd, np.nan, np.float32)
    stream(a, b, dst)()
    chunks = 64
    for k in range(chunks):
        a0, a1, d0, d1 = k * na // chunks, (k + 1) * na // chunks, k * nd // chunks, (k + 1) * nd // chunks
        m = min(a1 - a0, d1 - d0)
        np.testing.assert_array_equal(dst[d0:d0 + m], a[a0:a0 + m])
        rest = a[a0 + m:a1].sum(dtype=np.float64) + b[k * nb // chunks:(k + 1) * nb // chunks].sum(dtype=np.float64)
        np.testing.assert_allclose(dst[d0 + m:d1], rest, rtol=1e-5)
    assert not np.isnan(dst).any()


def test_stream_rejects_arrays_it_cannot_use_in_place():
    import numpy as np

    from dsconv.kernels.bench.machine import stream

    a = np.zeros(8, np.float32)
    with pytest.raises(ValueError, match="`dst` must be a C-contiguous float32 array.*float64"):
        stream(a, a, np.zeros(8))
    with pytest.raises(ValueError, match="`dst` must be a C-contiguous float32 array.*contiguous=False"):
        stream(a, a, np.zeros((4, 4), np.float32)[:, ::2])
    # a source is read in place too: a copy would be other memory than the layer's
    with pytest.raises(ValueError, match="`b` must be a C-contiguous float32 array.*contiguous=False"):
        stream(a, np.zeros((4, 4), np.float32).T, a)
    with pytest.raises(ValueError, match="`a` must be a C-contiguous float32 array.*float64"):
        stream(np.zeros(8), a, a)


def test_stream_line_counts_rows_at_60_percent_per_batch():
    from dsconv.kernels.bench.report import stream_line

    def row(batch, pct):
        return {"batch": batch, "pct_of_stream_roof": {"dsconv": pct}}

    line = stream_line([row(1, 50.0), row(1, 80.0), row(8, 60.0), row(8, 90.0)])
    assert "rows at or above 60%: 3 of 4 (batch 1: 1 of 2, batch 8: 2 of 2)" in line
    assert "**68%**" in line  # (50 * 80 * 60 * 90) ** 0.25 = 67.9


@pytest.mark.parametrize("family", ["mobilenet_v1", "mobilenet_v2"])
def test_onnx_runtime_separable_block_computes_the_fused_block(family):
    """The benchmark's ONNX Runtime column runs the same function as the fused block it is compared with
    (the family's activations: ReLU/ReLU for V1, ReLU6/none for V2), at both strides."""
    import numpy as np
    import torch

    from dsconv.kernels.bench.layers import SEPARABLE_ACTS, _ort_separable
    from dsconv.kernels.modules import FusedSeparable2d

    act_dw, act_pw = SEPARABLE_ACTS[family]
    rng = np.random.default_rng(0)
    for stride in (1, 2):
        x = rng.standard_normal((2, 8, 10, 10), dtype=np.float32) * 4  # large enough for ReLU6 to clip
        dw, pw = rng.standard_normal((8, 1, 3, 3), dtype=np.float32), rng.standard_normal((5, 8, 1, 1), dtype=np.float32)
        b1, b2 = rng.standard_normal(8, dtype=np.float32), rng.standard_normal(5, dtype=np.float32)
        got = _ort_separable(x, dw, b1, pw, b2, stride, act_dw, act_pw, threads=1)()[1]
        block = FusedSeparable2d(*(torch.from_numpy(a) for a in (dw, b1, pw, b2)), stride, 1, 1, act_dw, act_pw)
        with torch.inference_mode():
            expected = block(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
        if act_pw == "none":
            assert (got < 0).any()  # no activation after the projection


def test_fastest_torch_line_takes_the_faster_layout_per_row():
    from dsconv.kernels.bench.report import fastest_torch_line

    def row(batch, dsconv, nchw, cl):
        return {"batch": batch, "times_s": {"dsconv": dsconv, "torch_nchw": nchw, "torch_cl": cl}}

    # ratios: 2.0 (cl faster), 1.0 (nchw faster), 1.5 -> batch 1 geomean sqrt(2), batch 8 1.5
    line = fastest_torch_line([row(1, 1.0, 3.0, 2.0), row(1, 2.0, 2.0, 5.0), row(8, 2.0, 3.0, 4.0)])
    assert "**1.44x** (batch 1 1.41x, batch 8 1.50x)" in line and "1 of 3 rows below 1.2x, 0 below 1x" in line


def test_floor_line_counts_the_rows_no_single_call_can_bring_to_60_percent():
    from dsconv.kernels.bench.report import floor_line

    def row(roof_us, t_us):
        return {"roof_s": roof_us * 1e-6, "pct_of_roof": {"dsconv": 100.0 * roof_us / t_us}}

    # floor 10 us: roofs below 6 us are out of reach; of the other three, one is at >= 60%
    rows = [row(1.0, 12.0), row(5.9, 12.0), row(6.0, 9.0), row(50.0, 200.0), row(50.0, 80.0)]
    line = floor_line(rows, 10e-6)
    assert "10.0 us" in line and "2 of 5 rows" in line and "of the other 3, 2 are at or above 60%" in line


def test_bench_without_subcommand_prints_help(capsys):
    assert main(["bench"]) == 2
    assert "layers" in capsys.readouterr().out


def test_bad_threads_is_a_clean_error(tmp_path, capsys):
    assert main(["bench", "layers", "--quick", "--threads", "0", "--out-dir", str(tmp_path)]) == 2
    assert "`threads` must be a positive integer" in capsys.readouterr().err


def test_interleaved_returns_a_median_per_function():
    calls = {"a": 0, "b": 0}

    def bump(name):
        calls[name] += 1

    result = interleaved({"a": lambda: bump("a"), "b": lambda: bump("b")}, repeats=3, warmup=1)
    assert set(result) == {"a", "b"} and all(v >= 0 for v in result.values())
    assert calls == {"a": 4, "b": 4}


def test_interleaved_rejects_nothing_silently():
    with pytest.raises(ZeroDivisionError):
        interleaved({"bad": lambda: 1 / 0}, repeats=1)


def test_passive_wait_policy_is_recorded(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_WAIT_POLICY", "unchanged")  # monkeypatch restores the variables afterwards
    assert main(["bench", "layers", "--quick", "--batch", "1", "--repeats", "1", "--no-onnx",
                 "--omp-wait-policy", "passive", "--out-dir", str(tmp_path)]) == 0
    env = json.loads((tmp_path / "results" / "layers.json").read_text())["env"]
    assert env["OMP_WAIT_POLICY"] == "PASSIVE" and env["OPENBLAS_THREAD_TIMEOUT"] == "4"
    assert "logical CPUs" in env["machine"]


def test_layers_only_one_section(tmp_path):
    assert main(["bench", "--machine", "--quick", "--out-dir", str(tmp_path)]) == 0
    assert main(["bench", "layers", "--quick", "--only", "separable", "--batch", "1", "--repeats", "1",
                 "--no-onnx", "--out-dir", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "results" / "separable.json").read_text())["rows"]
    expected = {"dsconv", "dsconv_torch", "dsconv_numpy", "torch_nchw", "torch_cl"} | (
        {"dsconv_onednn"} if _mkl.available() else set())
    assert rows and set(rows[0]["times_s"]) == expected
    assert not (tmp_path / "results" / "layers.json").exists()
    assert not (tmp_path / "results" / "backward.json").exists()
    assert "## Fused separable block" in (tmp_path / "RESULTS.md").read_text()


def test_layers_only_rejects_unknown_section():
    from dsconv.kernels.bench import run_layers

    with pytest.raises(ValueError, match=r"`only` must be one of"):
        run_layers(None, only="models")


def test_models_option_times_the_named_models(tmp_path, capsys):
    assert main(["bench", "models", "--quick", "--batch", "1", "--repeats", "1", "--no-onnx", "--no-scaling",
                 "--models", "perception_net", "--out-dir", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "results" / "models.json").read_text())["rows"]
    assert [row["model"] for row in rows] == ["perception_net"]
    # the output compared has unit scale (calibrated batch norms), so the small difference means something
    assert rows[0]["max_abs_diff"] < 1e-3 < 0.1 < rows[0]["max_abs_output"]
    assert main(["bench", "models", "--quick", "--models", "mobilenet_v9", "--out-dir", str(tmp_path)]) == 2
    assert "mobilenet_v9" in capsys.readouterr().err


def test_calibrated_batch_norms_keep_activations_at_scale():
    import torch

    from dsconv import create_model
    from dsconv.kernels.bench.models import calibrate_batch_norms

    torch.manual_seed(0)
    model = create_model("mobilenet_v1", width=0.25, resolution=64).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        fresh = model.features(model.stem(x)).abs().mean()
        calibrate_batch_norms(model, 64)
        calibrated = model.features(model.stem(x)).abs().mean()
    assert not model.training and fresh < 1e-3 < 0.05 < calibrated
    assert all(m.momentum == 0.1 for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))


def test_matmul_variants_name_the_default_dsconv_and_skip_what_is_missing():
    from dsconv.kernels.bench.layers import matmul_variants

    def without_onednn(m):
        if m == "onednn":
            raise ValueError("no oneDNN")
        return "torch" if m == "auto" else m

    matmuls = ("auto", "onednn", "torch", "numpy")
    assert matmul_variants(matmuls, lambda m: "onednn" if m == "auto" else m) == [
        ("dsconv", "onednn"), ("dsconv_torch", "torch"), ("dsconv_numpy", "numpy")]
    assert matmul_variants(matmuls, without_onednn) == [("dsconv", "torch"), ("dsconv_numpy", "numpy")]


def test_bf16_lines_give_the_bfloat16_speed_ups_and_nothing_without_bf16_columns():
    from dsconv.kernels.bench.report import bf16_lines

    row = {"model": "m", "batch": 1, "times_s": {"dsconv": 0.010, "dsconv_bf16": 0.005, "torch_eager_bf16_cl": 0.020}}
    text = bf16_lines([row, {"model": "n", "batch": 8, "times_s": {"dsconv": 0.01}}])
    assert "- m N=1: 5.000 ms; 4.00x vs torch_eager_bf16_cl, 2.00x vs dsconv (float32)" in text
    assert "onnxruntime" not in text and "- n" not in text
    assert bf16_lines([{"model": "n", "batch": 8, "times_s": {"dsconv": 0.01}}]) == ""
