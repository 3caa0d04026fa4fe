"""Property tests of the reference ops: random shapes (hypothesis), adjoint identities, channel routing,
NaN/inf propagation, the seed's per-pixel formula, docstring examples and the torch-free import."""

from __future__ import annotations

import doctest
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from dsconv import functional as D
from dsconv.functional import conv, depthwise, layout, pointwise, separable

FORWARD = {1: D.depthwise_conv1d, 2: D.depthwise_conv2d, 3: D.depthwise_conv3d}
BACKWARD = {1: D.depthwise_conv1d_backward, 2: D.depthwise_conv2d_backward, 3: D.depthwise_conv3d_backward}
TORCH_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


@st.composite
def depthwise_problems(draw, n):
    """A random, valid depthwise problem in ``n`` dimensions."""
    channels = draw(st.integers(1, 3))
    multiplier = draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(n))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(n))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(n))
    size = tuple(d * (k - 1) + 1 + draw(st.integers(0, 4)) for k, d in zip(kernel, dilation))
    modes = ["valid", "same", "pairs"] + (["causal"] if n == 1 else [])
    mode = draw(st.sampled_from(modes))
    padding = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(n)) if mode == "pairs" else mode
    batch = draw(st.integers(1, 2))
    seed = draw(st.integers(0, 2**16))
    return batch, channels, multiplier, kernel, stride, padding, dilation, size, seed


def make_arrays(batch, channels, multiplier, kernel, size, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, channels, *size))
    weight = rng.standard_normal((channels * multiplier, 1, *kernel))
    return rng, x, weight


@pytest.mark.parametrize("n", [1, 2, 3])
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_random_shapes_match_torch(n, data):
    batch, channels, mult, kernel, stride, padding, dilation, size, seed = data.draw(depthwise_problems(n))
    rng, x, weight = make_arrays(batch, channels, mult, kernel, size, seed)
    pads, _ = D.conv_geometry(size, kernel, stride, padding, dilation)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(weight, requires_grad=True)
    ref = TORCH_CONV[n](F.pad(tx, [p for pair in reversed(pads) for p in pair]), tw, stride=stride,
                        dilation=dilation, groups=channels)
    grad_out = rng.standard_normal(ref.shape)
    ref.backward(torch.tensor(grad_out))
    data_format = data.draw(st.sampled_from(["channels_first", "channels_last"]))
    move = (lambda a: np.moveaxis(a, 1, -1)) if data_format == "channels_last" else (lambda a: a)
    out = FORWARD[n](move(x), weight, None, stride, padding, dilation, data_format=data_format)
    np.testing.assert_allclose(out, move(ref.detach().numpy()), rtol=1e-10, atol=1e-12)
    gx, gw, _ = BACKWARD[n](move(grad_out), move(x), weight, stride, padding, dilation, data_format=data_format)
    np.testing.assert_allclose(gx, move(tx.grad.numpy()), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gw, tw.grad.numpy(), rtol=1e-10, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(problem=depthwise_problems(2))
def test_backward_is_the_adjoint_of_forward(problem):
    """Without bias the op is bilinear: <f(x, w), g> = <x, grad_x> = <w, grad_w> (no torch involved)."""
    batch, channels, mult, kernel, stride, padding, dilation, size, seed = problem
    rng, x, weight = make_arrays(batch, channels, mult, kernel, size, seed)
    out = D.depthwise_conv2d(x, weight, None, stride, padding, dilation)
    grad_out = rng.standard_normal(out.shape)
    gx, gw, gb = D.depthwise_conv2d_backward(grad_out, x, weight, stride, padding, dilation)
    inner = np.vdot(out, grad_out)
    np.testing.assert_allclose(np.vdot(x, gx), inner, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(np.vdot(weight, gw), inner, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(gb, grad_out.sum(axis=(0, 2, 3)), rtol=1e-12)


@settings(max_examples=20, deadline=None)
@given(problem=depthwise_problems(2))
def test_depthwise_equals_dense_conv_with_block_diagonal_weight(problem):
    """The depthwise op is the dense conv whose weight is zero off the channel diagonal."""
    batch, channels, mult, kernel, stride, padding, dilation, size, seed = problem
    _, x, weight = make_arrays(batch, channels, mult, kernel, size, seed)
    dense = np.zeros((channels * mult, channels, *kernel))
    for out_channel in range(channels * mult):
        dense[out_channel, out_channel // mult] = weight[out_channel, 0]
    np.testing.assert_allclose(D.depthwise_conv2d(x, weight, None, stride, padding, dilation),
                               D.conv2d(x, dense, None, stride, padding, dilation), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("multiplier", [1, 3])
def test_output_channel_c_times_m_plus_j_comes_from_input_channel_c(multiplier):
    channels = 4
    weight = np.random.default_rng(0).standard_normal((channels * multiplier, 1, 3, 3))
    for c in range(channels):
        x = np.zeros((1, channels, 5, 5))
        x[0, c] = 1.0
        out = D.depthwise_conv2d(x, weight, padding="same")
        nonzero = {o for o in range(channels * multiplier) if np.any(out[0, o] != 0)}
        assert nonzero == {c * multiplier + j for j in range(multiplier)}


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_nan_and_inf_stay_in_their_channel(bad, data_format):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 3, 6, 6))
    x[0, 1, 2, 3] = bad
    weight = rng.standard_normal((6, 1, 3, 3))
    x_in = np.moveaxis(x, 1, -1) if data_format == "channels_last" else x
    out = D.depthwise_conv2d(x_in, weight, padding=1, data_format=data_format)
    out = np.moveaxis(out, -1, 1) if data_format == "channels_last" else out
    assert np.all(np.isfinite(out[:, [0, 1, 4, 5]]))  # channels 0 and 2 (multiplier 2) are untouched
    assert not np.all(np.isfinite(out[:, [2, 3]]))
    # Only the 3x3 neighbourhood of the bad pixel is affected, and exactly it.
    assert np.array_equal(~np.isfinite(out[0, 2]), np.pad(np.ones((3, 3), bool), ((1, 2), (2, 1))))
    gx, gw, gb = D.depthwise_conv2d_backward(np.ones_like(out), x, weight, padding=1)
    assert np.all(np.isfinite(gw[[0, 1, 4, 5]])) and not np.all(np.isfinite(gw[[2, 3]]))
    assert np.all(np.isfinite(gx)) and np.all(np.isfinite(gb))


def seed_naive_depthwise(input_tensor, kernels):
    """The seed guide's loop, ``Output[h,w,c] = sum_ij Input[h+i, w+j, c] * Kernel[i, j, c]`` (HWC, valid)."""
    height, width, channels = input_tensor.shape
    k = kernels.shape[0]
    output = np.zeros((height - k + 1, width - k + 1, channels))
    for c in range(channels):
        for i in range(height - k + 1):
            for j in range(width - k + 1):
                output[i, j, c] = np.sum(input_tensor[i:i + k, j:j + k, c] * kernels[:, :, c])
    return output


def test_matches_the_seed_formula():
    rng = np.random.default_rng(7)
    image, kernels = rng.standard_normal((8, 7, 3)), rng.standard_normal((3, 3, 3))
    weight = D.keras_to_torch_depthwise(kernels[..., None])  # (3, 3, C, 1) -> (C, 1, 3, 3)
    out = D.depthwise_conv2d(image[None], weight, data_format="channels_last")[0]
    np.testing.assert_allclose(out, seed_naive_depthwise(image, kernels), rtol=1e-12, atol=1e-12)


def test_empty_batch():
    out = D.depthwise_conv2d(np.zeros((0, 2, 5, 5)), np.ones((4, 1, 3, 3)), padding="same")
    assert out.shape == (0, 4, 5, 5)
    gx, gw, gb = D.depthwise_conv2d_backward(np.zeros((0, 4, 5, 5)), np.zeros((0, 2, 5, 5)), np.ones((4, 1, 3, 3)),
                                             padding="same")
    assert gx.shape == (0, 2, 5, 5) and np.all(gw == 0) and np.all(gb == 0)


def test_inputs_are_not_modified_and_outputs_are_contiguous():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 5, 5, 2))
    weight = rng.standard_normal((2, 1, 3, 3))
    x_copy, weight_copy = x.copy(), weight.copy()
    out = D.depthwise_conv2d(x, weight, padding="same", data_format="channels_last")
    grads = D.depthwise_conv2d_backward(out, x, weight, padding="same", data_format="channels_last")
    assert np.array_equal(x, x_copy) and np.array_equal(weight, weight_copy)
    assert all(a.flags.c_contiguous for a in (out, *grads))


@pytest.mark.parametrize("module", [conv, depthwise, layout, pointwise, separable, D.shapes], ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    result = doctest.testmod(module, extraglobs={"np": np}, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_functional_never_imports_torch():
    code = "import sys, dsconv.functional; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
