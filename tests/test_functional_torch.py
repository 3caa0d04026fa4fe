"""Pointwise, separable and dense/grouped reference ops against PyTorch (forward and autograd), and dtypes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dsconv import functional as D

RTOL, ATOL = 1e-10, 1e-12
TORCH_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
SIZES = {1: (9,), 2: (6, 7), 3: (5, 6, 5)}


def to_last(a):
    return np.ascontiguousarray(np.moveaxis(a, 1, -1))


def torch_pad(t, pads):
    return F.pad(t, [p for pair in reversed(pads) for p in pair])


def assert_close(got, want, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


# ----------------------------------------------------------------------------------------------- pointwise
POINTWISE = {1: (D.pointwise_conv1d, D.pointwise_conv1d_backward), 2: (D.pointwise_conv2d, D.pointwise_conv2d_backward),
             3: (D.pointwise_conv3d, D.pointwise_conv3d_backward)}


@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_pointwise_matches_torch(n, data_format):
    forward, backward = POINTWISE[n]
    rng = np.random.default_rng(n)
    x = rng.standard_normal((2, 5, *SIZES[n]))
    weight = rng.standard_normal((7, 5, *(1,) * n))
    bias = rng.standard_normal(7)
    grad_out = rng.standard_normal((2, 7, *SIZES[n]))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, weight, bias))
    ref = TORCH_CONV[n](tx, tw, tb)
    ref.backward(torch.tensor(grad_out))
    move = to_last if data_format == "channels_last" else (lambda a: a)

    assert_close(forward(move(x), weight, bias, data_format=data_format), move(ref.detach().numpy()))
    assert_close(forward(move(x), weight, data_format=data_format), move(ref.detach().numpy() - bias.reshape(-1, *(1,) * n)))
    gx, gw, gb = backward(move(grad_out), move(x), weight, data_format=data_format)
    assert_close(gx, move(tx.grad.numpy()))
    assert_close(gw, tw.grad.numpy())
    assert_close(gb, tb.grad.numpy())


# ----------------------------------------------------------------------------------------------- separable
SEPARABLE = {1: (D.separable_conv1d, D.separable_conv1d_backward), 2: (D.separable_conv2d, D.separable_conv2d_backward),
             3: (D.separable_conv3d, D.separable_conv3d_backward)}
DEPTHWISE = {1: D.depthwise_conv1d, 2: D.depthwise_conv2d, 3: D.depthwise_conv3d}
POINTWISE_FWD = {1: D.pointwise_conv1d, 2: D.pointwise_conv2d, 3: D.pointwise_conv3d}
GEOMETRIES = [(1, 0, 1), (2, "same", 1), (1, "valid", 2), (2, 1, 1)]


def separable_case(n, multiplier, seed=0):
    rng = np.random.default_rng(seed)
    channels, out_channels = 3, 4
    x = rng.standard_normal((2, channels, *SIZES[n]))
    dw = rng.standard_normal((channels * multiplier, 1, *(3,) * n))
    pw = rng.standard_normal((out_channels, channels * multiplier, *(1,) * n))
    dw_b, pw_b = rng.standard_normal(channels * multiplier), rng.standard_normal(out_channels)
    return x, dw, pw, dw_b, pw_b


@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
@pytest.mark.parametrize(("stride", "padding", "dilation"), GEOMETRIES, ids=str)
@pytest.mark.parametrize("n", [1, 2, 3])
def test_separable_matches_torch_composition(n, stride, padding, dilation, data_format):
    x, dw, pw, dw_b, pw_b = separable_case(n, multiplier=2)
    channels = x.shape[1]
    pads, out_size = D.conv_geometry(x.shape[2:], dw.shape[2:], stride, padding, dilation)
    tx, tdw, tpw, tdb, tpb = (torch.tensor(a, requires_grad=True) for a in (x, dw, pw, dw_b, pw_b))
    conv = TORCH_CONV[n]
    mid = conv(torch_pad(tx, pads), tdw, tdb, stride=stride, dilation=dilation, groups=channels)
    ref = conv(mid, tpw, tpb)
    grad_out = np.random.default_rng(1).standard_normal(ref.shape)
    ref.backward(torch.tensor(grad_out))
    move = to_last if data_format == "channels_last" else (lambda a: a)
    forward, backward = SEPARABLE[n]

    out = forward(move(x), dw, pw, dw_b, pw_b, stride, padding, dilation, data_format=data_format)
    assert_close(out, move(ref.detach().numpy()))
    grads = backward(move(grad_out), move(x), dw, pw, dw_b, stride, padding, dilation, data_format=data_format)
    wants = (move(tx.grad.numpy()), tdw.grad.numpy(), tdb.grad.numpy(), tpw.grad.numpy(), tpb.grad.numpy())
    for got, want in zip(grads, wants):
        assert_close(got, want)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_separable_is_exactly_pointwise_after_depthwise(n):
    x, dw, pw, dw_b, pw_b = separable_case(n, multiplier=1, seed=n)
    composed = POINTWISE_FWD[n](DEPTHWISE[n](x, dw, dw_b, 2, "same"), pw, pw_b)
    np.testing.assert_array_equal(SEPARABLE[n][0](x, dw, pw, dw_b, pw_b, 2, "same"), composed)


def test_separable_causal_1d():
    x, dw, pw, dw_b, pw_b = separable_case(1, multiplier=1)
    out = D.separable_conv1d(x, dw, pw, dw_b, pw_b, padding="causal", dilation=2)
    assert out.shape == (2, 4, 9)
    # Causality: changing the future (last step) leaves every earlier output step unchanged.
    x_future = x.copy()
    x_future[..., -1] += 100.0
    changed = D.separable_conv1d(x_future, dw, pw, dw_b, pw_b, padding="causal", dilation=2)
    np.testing.assert_array_equal(out[..., :-1], changed[..., :-1])
    assert not np.allclose(out[..., -1], changed[..., -1])


# ----------------------------------------------------------------------------------------------- dense / grouped
CONV = {1: D.conv1d, 2: D.conv2d, 3: D.conv3d}


@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
@pytest.mark.parametrize(("groups", "out_channels"), [(1, 6), (2, 6), (4, 8), (4, 4)])
@pytest.mark.parametrize(("stride", "padding", "dilation"), [(1, 0, 1), (2, "same", 1), ((1,), "valid", 2)], ids=str)
@pytest.mark.parametrize("n", [1, 2, 3])
def test_grouped_conv_matches_torch(n, stride, padding, dilation, groups, out_channels, data_format):
    rng = np.random.default_rng(groups)
    in_channels = 4
    stride = stride if isinstance(stride, int) else stride * n
    kernel = (3, 2, 1)[:n]
    x = rng.standard_normal((2, in_channels, *SIZES[n]))
    weight = rng.standard_normal((out_channels, in_channels // groups, *kernel))
    bias = rng.standard_normal(out_channels)
    pads, _ = D.conv_geometry(x.shape[2:], kernel, stride, padding, dilation)
    ref = TORCH_CONV[n](torch_pad(torch.tensor(x), pads), torch.tensor(weight), torch.tensor(bias),
                        stride=stride, dilation=dilation, groups=groups).numpy()
    move = to_last if data_format == "channels_last" else (lambda a: a)
    out = CONV[n](move(x), weight, bias, stride, padding, dilation, groups, data_format=data_format)
    assert_close(out, move(ref))


@pytest.mark.parametrize("multiplier", [1, 3])
def test_depthwise_equals_grouped_conv_with_groups_c(multiplier):
    rng = np.random.default_rng(multiplier)
    x = rng.standard_normal((2, 4, 7, 6))
    weight = rng.standard_normal((4 * multiplier, 1, 3, 2))
    expected = D.conv2d(x, weight, None, 2, "same", (2, 1), groups=4)
    assert_close(D.depthwise_conv2d(x, weight, None, 2, "same", (2, 1)), expected)


# ----------------------------------------------------------------------------------------------- dtypes
@pytest.mark.parametrize(("x_dtype", "w_dtype", "expected"), [
    (np.float32, np.float32, np.float32),
    (np.float32, np.float64, np.float64),
    (np.float64, np.float32, np.float64),
    (np.float16, np.float16, np.float16),
])
def test_output_dtype_is_result_type(x_dtype, w_dtype, expected):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 6, 6)).astype(x_dtype)
    dw = rng.standard_normal((2, 1, 3, 3)).astype(w_dtype)
    pw = rng.standard_normal((3, 2, 1, 1)).astype(w_dtype)
    bias = rng.standard_normal(2)  # float64 bias does not promote the output
    out = D.depthwise_conv2d(x, dw, bias, padding="same")
    assert out.dtype == expected
    assert D.pointwise_conv2d(x, pw).dtype == expected
    assert D.separable_conv2d(x, dw, pw).dtype == expected
    assert D.conv2d(x, dw, groups=2).dtype == expected
    grads = D.depthwise_conv2d_backward(np.ones_like(out), x, dw, padding="same")
    assert all(g.dtype == expected for g in grads)


def test_float32_matches_torch_float32():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 10, 9)).astype(np.float32)
    weight = rng.standard_normal((6, 1, 5, 5)).astype(np.float32)
    ref = F.conv2d(torch.tensor(x), torch.tensor(weight), padding=2, groups=3).numpy()
    out = D.depthwise_conv2d(x, weight, padding=2)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
