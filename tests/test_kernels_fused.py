"""The fused separable block against the unfused composition of reference ops."""

from __future__ import annotations

import numpy as np
import pytest

import dsconv.functional as F
from dsconv.kernels import FusedSeparableParams, fused_separable_conv2d
from dsconv.kernels.fused import apply_activation, fold_batch_norm

TOL = {"rtol": 1e-9, "atol": 1e-9}


def _unfused(x, dw, pw, b1, b2, stride, padding, dilation, act_dw, act_pw, data_format):
    h = F.depthwise_conv2d(x, dw, b1, stride, padding, dilation, data_format=data_format)
    h = apply_activation(h, act_dw)
    return apply_activation(F.pointwise_conv2d(h, pw, b2, data_format=data_format), act_pw)


@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
@pytest.mark.parametrize(
    ("stride", "padding", "dilation", "multiplier", "act_dw", "act_pw"),
    [(1, "same", 1, 1, "relu", "relu"), (2, 1, 1, 2, "relu6", "none"), (1, "valid", 2, 1, "none", "relu6"),
     (3, ((0, 2), (1, 0)), 1, 1, "relu", "relu6")],
)
@pytest.mark.parametrize("tile_bytes", [64, 1 << 20])  # one output row per tile, and one tile per image
def test_fused_equals_unfused(data_format, stride, padding, dilation, multiplier, act_dw, act_pw, tile_bytes, rng):
    c, c_out = 3, 5
    shape = (2, c, 10, 9) if data_format == "channels_first" else (2, 10, 9, c)
    x = rng.standard_normal(shape)
    dw = rng.standard_normal((c * multiplier, 1, 3, 3))
    pw = rng.standard_normal((c_out, c * multiplier, 1, 1))
    b1, b2 = rng.standard_normal(c * multiplier), rng.standard_normal(c_out)
    expected = _unfused(x, dw, pw, b1, b2, stride, padding, dilation, act_dw, act_pw, data_format)
    got = fused_separable_conv2d(x, dw, pw, b1, b2, stride, padding, dilation, act_dw=act_dw, act_pw=act_pw,
                                 data_format=data_format, tile_bytes=tile_bytes)
    np.testing.assert_allclose(got, expected, **TOL)


def test_no_activations_equal_reference_separable(rng):
    x = rng.standard_normal((1, 4, 7, 7)).astype(np.float32)
    dw, pw = rng.standard_normal((4, 1, 3, 3)).astype(np.float32), rng.standard_normal((6, 4, 1, 1)).astype(np.float32)
    got = fused_separable_conv2d(x, dw, pw, padding="same")
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, F.separable_conv2d(x, dw, pw, padding="same"), rtol=1e-4, atol=1e-4)


def test_prepared_params_reuse_output_buffer(rng):
    x = rng.standard_normal((2, 8, 8, 4)).astype(np.float32)
    dw, pw = rng.standard_normal((4, 1, 3, 3)).astype(np.float32), rng.standard_normal((6, 4, 1, 1)).astype(np.float32)
    params = FusedSeparableParams.prepare(x.shape, dw, pw, stride=2, padding=1, act_dw="relu")
    out = np.empty((2, 4, 4, 6), np.float32)
    assert params.run(x, out) is out
    expected = _unfused(x, dw, pw, None, None, 2, 1, 1, "relu", "none", "channels_last")
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


def test_fold_batch_norm_matches_conv_then_bn(rng):
    x = rng.standard_normal((1, 3, 6, 6))
    w, b = rng.standard_normal((3, 1, 3, 3)), rng.standard_normal(3)
    mean, var = rng.standard_normal(3), rng.random(3) + 0.5
    gamma, beta, eps = rng.standard_normal(3), rng.standard_normal(3), 1e-3
    conv = F.depthwise_conv2d(x, w, b, padding=1)
    bn = (conv - mean[:, None, None]) / np.sqrt(var[:, None, None] + eps) * gamma[:, None, None] + beta[:, None, None]
    fw, fb = fold_batch_norm(w, b, mean, var, gamma, beta, eps)
    np.testing.assert_allclose(F.depthwise_conv2d(x, fw, fb, padding=1), bn, **TOL)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"pw_weight": np.ones((5, 2, 1, 1))}, ValueError, r"`pw_weight` must have shape \(C_out, 3, 1, 1\)"),
        ({"act_dw": "gelu"}, ValueError, r"`act_dw` must be one of 'none', 'relu', 'relu6'. Received act_dw='gelu'"),
        ({"act_pw": None}, ValueError, r"`act_pw` must be one of"),
        ({"tile_bytes": 0}, ValueError, r"`tile_bytes` must be a positive integer"),
        ({"dw_weight": np.ones((3, 2, 3, 3))}, ValueError, r"`dw_weight` must have shape"),
        ({"pw_bias": np.ones(4)}, ValueError, r"`pw_bias` must have shape \(out_channels,\) = \(5,\)"),
    ],
)
def test_errors(kwargs, error, match):
    args = {"dw_weight": np.ones((3, 1, 3, 3)), "pw_weight": np.ones((5, 3, 1, 1)), "pw_bias": None} | kwargs
    options = {k: args.pop(k) for k in ("act_dw", "act_pw", "tile_bytes") if k in args}
    with pytest.raises(error, match=match):
        fused_separable_conv2d(np.ones((1, 3, 6, 6)), args["dw_weight"], args["pw_weight"], None, args["pw_bias"], **options)
