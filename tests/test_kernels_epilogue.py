"""Activations fused into the Numba kernels (depthwise row epilogue, bias + activation pass, the fused block's
pointwise epilogues) against NumPy, and thread-count independence of the fused block."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from dsconv.kernels import FusedSeparableParams, _cl
from dsconv.kernels.fused import _np_matmul, apply_activation
from dsconv.kernels.modules import _torch_mm

ACTS = ["none", "relu", "relu6"]


@pytest.mark.parametrize("act", ACTS)
def test_forward_act_equals_forward_then_activation(act, rng):
    c, h, w = 5, 6, 7
    x = (4 * rng.standard_normal((2, 1, h, w * c))).astype(np.float32)
    wt = rng.standard_normal((1, 3, 3 * c)).astype(np.float32)
    b = rng.standard_normal(c).astype(np.float32)
    plain = np.empty((2, 1, h, w * c), np.float32)
    fused = np.empty_like(plain)
    _cl.forward(x, wt, b, plain, (1, 1, 1), (0, 1, 1), (1, 1, 1))
    _cl.forward_act(x, wt, b, fused, (1, 1, 1), (0, 1, 1), (1, 1, 1), _cl.ACT_CODES[act])
    np.testing.assert_array_equal(fused, apply_activation(plain, act))


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("add_bias", [True, False])
def test_bias_act_in_place(act, add_bias, rng):
    a = (8 * rng.standard_normal((7, 9))).astype(np.float32)
    bias = rng.standard_normal(9).astype(np.float32)
    expected = apply_activation(a + bias if add_bias else a.copy(), act)
    _cl.bias_act(a, bias, _cl.ACT_CODES[act], add_bias)
    np.testing.assert_allclose(a, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("matmul", [_np_matmul, _torch_mm])
@pytest.mark.parametrize("act", ACTS)
def test_matmul_epilogues(matmul, act, rng):
    a = rng.standard_normal((6, 4)).astype(np.float32)
    b = (3 * rng.standard_normal((4, 5))).astype(np.float32)
    bias = rng.standard_normal(5).astype(np.float32)
    out = np.empty((6, 5), np.float32)
    matmul(a, b, bias, out, _cl.ACT_CODES[act])
    np.testing.assert_allclose(out, apply_activation(a @ b + bias, act), rtol=1e-5, atol=1e-5)


def test_fused_block_does_not_depend_on_thread_count(rng):
    x = rng.standard_normal((2, 9, 8, 6)).astype(np.float32)
    dw = rng.standard_normal((6, 1, 3, 3)).astype(np.float32)
    pw = rng.standard_normal((10, 6, 1, 1)).astype(np.float32)
    params = FusedSeparableParams.prepare(x.shape, dw, pw, rng.standard_normal(6).astype(np.float32),
                                          rng.standard_normal(10).astype(np.float32), 1, 1, act_dw="relu6",
                                          act_pw="relu", tile_bytes=64)
    previous = numba.get_num_threads()
    results = []
    try:
        for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(threads)
            results.append(params.run(x).copy())
    finally:
        numba.set_num_threads(previous)
    np.testing.assert_array_equal(results[0], results[1])


def test_whole_images_share_a_tile_when_they_fit(rng):
    x = rng.standard_normal((5, 6, 6, 4)).astype(np.float32)
    dw = rng.standard_normal((4, 1, 3, 3)).astype(np.float32)
    pw = rng.standard_normal((7, 4, 1, 1)).astype(np.float32)
    image_bytes = 6 * 6 * 4 * 4  # one image's depthwise output
    grouped = FusedSeparableParams.prepare(x.shape, dw, pw, padding=1, act_dw="relu", tile_bytes=2 * image_bytes)
    single = FusedSeparableParams.prepare(x.shape, dw, pw, padding=1, act_dw="relu", tile_bytes=image_bytes)
    assert (grouped.images_per_tile, single.images_per_tile, grouped.rows_per_tile) == (2, 1, 6)
    np.testing.assert_allclose(grouped.run(x), single.run(x), rtol=1e-6, atol=1e-6)  # batch 5: tiles of 2, 2, 1


@pytest.mark.parametrize("width", [4, 13])  # one block of four outputs; three blocks and a remainder
def test_stride1_blocked_rows_match_reference(width, rng):
    import dsconv.functional as F
    from dsconv.kernels import depthwise_conv2d

    x = rng.standard_normal((2, 5, width, 20)).astype(np.float32)
    w = rng.standard_normal((20, 1, 3, 3)).astype(np.float32)
    b = rng.standard_normal(20).astype(np.float32)
    got = depthwise_conv2d(x, w, b, 1, "same", data_format="channels_last")
    expected = F.depthwise_conv2d(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), 1, "same",
                                  data_format="channels_last")
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_optimize_defaults_to_the_one_region_mkl_block_then_onednn():
    # the default follows benchmarks/NOTES.md: the one-region MKL block was faster than oneDNN's two stages on
    # every fused-block shape at batch 1 but the first, and on whole models; without MKL, oneDNN's linear
    import torch
    from torch import nn

    from dsconv.kernels import _mkl
    from dsconv.kernels.optimize import optimize

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, groups=4), nn.ReLU(), nn.Conv2d(4, 6, 1), nn.ReLU6())
    variants = {m: optimize(model, matmul=m) for m in ("auto", "onednn", "mkl", "torch", "numpy")}
    assert {m: f[0].matmul for m, f in variants.items()} == {
        "auto": "mkl" if _mkl.available() else "onednn", "onednn": "onednn", "mkl": "mkl", "torch": "torch",
        "numpy": "numpy"}
    x = torch.randn(2, 4, 5, 5)
    with torch.inference_mode():
        for fast in variants.values():
            torch.testing.assert_close(fast(x), model(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("width", [5, 12])  # short and long interiors of the stride-2 rows
def test_stride2_paired_rows_match_reference(width, rng):
    import dsconv.functional as F
    from dsconv.kernels import depthwise_conv2d

    x = rng.standard_normal((2, 7, width, 24)).astype(np.float32)
    w = rng.standard_normal((24, 1, 3, 3)).astype(np.float32)
    got = depthwise_conv2d(x, w, None, 2, 1, data_format="channels_last")
    expected = F.depthwise_conv2d(x.astype(np.float64), w.astype(np.float64), None, 2, 1, data_format="channels_last")
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
