"""The channels-first forward kernel (dsconv.kernels._cf) against the NumPy reference and PyTorch, and its routing."""

from __future__ import annotations

import numba
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsconv.functional import depthwise_conv3d as reference_conv3d
from dsconv.functional.shapes import conv_output_size
from dsconv.kernels import _cf, _memory, autograd, depthwise_conv1d, depthwise_conv2d
from dsconv.kernels.depthwise import problem_for


def _run(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride, pads, dilation) -> np.ndarray:
    """``_cf.run`` on 3-D channels-first data with before-pads ``pads``; the after-pads are the same."""
    out_size = conv_output_size(x.shape[2:], w.shape[2:], stride, dilation, [(p, p) for p in pads])
    out = np.full((x.shape[0], w.shape[0], *out_size), np.nan, w.dtype)
    return _cf.run(x, np.ascontiguousarray(w.reshape(w.shape[0], *w.shape[2:])), b, out, stride, pads, dilation)


def _reference(x, w, b, stride, pads, dilation) -> np.ndarray:
    return reference_conv3d(x, w, b, stride, [(p, p) for p in pads], dilation)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), batch=st.integers(1, 2), channels=st.integers(1, 3), multiplier=st.integers(1, 3),
       kernel=st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4)),
       stride=st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 3)),
       dilation=st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 2)),
       pads=st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2)),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_random_geometries_match_the_reference(data, batch, channels, multiplier, kernel, stride, dilation, pads,
                                               dtype):
    # widths on both sides of the 16 outputs that switch between in-place rows and the flat run
    spatial = tuple(data.draw(st.integers(max((k - 1) * d + 1 - 2 * p, 1), hi))
                    for k, d, p, hi in zip(kernel, dilation, pads, (5, 12, 40)))
    rng = np.random.default_rng(sum(spatial))
    x = rng.standard_normal((batch, channels, *spatial)).astype(dtype)
    w = rng.standard_normal((channels * multiplier, 1, *kernel)).astype(dtype)
    b = rng.standard_normal(channels * multiplier).astype(dtype)
    got = _run(x, w, b, stride, pads, dilation)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, _reference(x, w, b, stride, pads, dilation), rtol=tol, atol=tol)


@pytest.mark.parametrize("shape,stride", [((2, 3, 1, 30, 33), 1), ((1, 4, 1, 29, 40), 2), ((1, 2, 1, 20, 9), 2),
                                          ((1, 2, 1, 17, 50), 3), ((2, 5, 1, 7, 7), 1)])
def test_3x3_rows_in_place_and_flat_match_pytorch(shape, stride):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(np.float32)
    c = shape[1]
    w = rng.standard_normal((c, 1, 1, 3, 3)).astype(np.float32)
    b = rng.standard_normal(c).astype(np.float32)
    got = _run(x, w, b, (1, stride, stride), (0, 1, 1), (1, 1, 1))
    ref = F.conv2d(torch.from_numpy(x[:, :, 0]), torch.from_numpy(w[:, :, 0]), torch.from_numpy(b), stride, 1, 1, c)
    torch.testing.assert_close(torch.from_numpy(got[:, :, 0]), ref, rtol=1e-5, atol=1e-5)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), multiplier=st.integers(1, 2), kernel=st.tuples(st.integers(1, 2), st.integers(1, 5), st.integers(1, 5)),
       stride=st.tuples(st.just(1), st.integers(1, 3), st.integers(1, 3)),
       dilation=st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 3)),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_same_padding_runs_in_the_masked_layout_and_matches_the_reference(data, multiplier, kernel, stride, dilation,
                                                                          dtype, count_calls):
    # "same" padding (total (k - 1) * d, split either way): no component is wider than the output rows
    masked, plain = count_calls(_cf, "forward_masked"), count_calls(_cf, "forward")  # kept across examples
    before_calls = len(masked), len(plain)
    spatial = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 20)), data.draw(st.integers(1, 20)))
    total = [(k - 1) * d for k, d in zip(kernel, dilation)]
    before = [data.draw(st.integers(0, t)) for t in total]
    pads = [(b, t - b) for b, t in zip(before, total)]
    rng = np.random.default_rng(sum(spatial) + sum(before))
    x = rng.standard_normal((2, 3, *spatial)).astype(dtype)
    w = rng.standard_normal((3 * multiplier, 1, *kernel)).astype(dtype)
    b = rng.standard_normal(3 * multiplier).astype(dtype)
    out_size = conv_output_size(spatial, kernel, stride, dilation, pads)
    assert _cf.masked_layout(spatial[1:], kernel[1:], out_size[1:], stride[1:], tuple(before[1:]), dilation[1:])
    out = np.full((2, 3 * multiplier, *out_size), np.nan, dtype)
    _cf.run(x, np.ascontiguousarray(w[:, 0]), b, out, stride, tuple(before), dilation)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, reference_conv3d(x, w, b, stride, pads, dilation), rtol=tol, atol=tol)
    assert (len(masked) - before_calls[0], len(plain) - before_calls[1]) == (1, 0)


def test_masked_layout_only_where_no_component_is_wider_than_the_output_rows():
    assert _cf.masked_layout((14, 14), (3, 3), (14, 14), (1, 1), (1, 1), (1, 1)) is not None
    assert _cf.masked_layout((14, 14), (3, 3), (7, 7), (2, 2), (0, 0), (1, 1)) is not None  # TF "same", stride 2
    assert _cf.masked_layout((14, 14), (3, 3), (12, 12), (1, 1), (0, 0), (1, 1)) is None  # "valid"
    assert _cf.masked_layout((15, 15), (3, 3), (7, 7), (2, 2), (0, 0), (1, 1)) is None  # ceil(15 / 2) = 8 > 7
    offs, masks, rows, rb = _cf.masked_layout((7, 7), (3, 3), (7, 7), (1, 1), (1, 1), (1, 1))
    assert rb == 2 and rows == 2 + 9  # one row above the first read, and the reads below the last row
    assert masks.reshape(3, 7, 7)[0, :, 0].sum() == 0 and masks.reshape(3, 7, 7)[2, :, 6].sum() == 0
    assert masks.reshape(3, 7, 7)[1].all() and not masks.flags.writeable


def test_masked_layout_keeps_an_infinity_out_of_the_wrapped_columns():
    x = np.zeros((1, 1, 1, 6, 8), np.float32)
    x[0, 0, 0, 3, 0] = np.inf  # read, unmasked, only by row 2's and row 4's last columns... through the wrap
    w = np.ones((1, 1, 1, 3, 3), np.float32)
    out = _run(x, w, np.zeros(1, np.float32), (1, 1, 1), (0, 1, 1), (1, 1, 1))
    ref = _reference(x, w, np.zeros(1, np.float32), (1, 1, 1), (0, 1, 1), (1, 1, 1))
    np.testing.assert_array_equal(np.isinf(out), np.isinf(ref))
    assert np.isfinite(out[0, 0, 0, 2:5, 7]).all()


def test_output_slices_with_every_depth_tap_in_the_padding_are_the_bias():
    x = np.random.default_rng(2).standard_normal((1, 2, 1, 6, 20))
    w = np.random.default_rng(3).standard_normal((2, 1, 1, 3, 3))
    b = np.array([0.5, -2.0])
    out = np.full((1, 2, 3, 6, 20), np.nan)
    _cf.run(x, np.ascontiguousarray(w[:, 0]), b, out, (1, 1, 1), (2, 1, 1), (1, 1, 1))  # depth pads (2, 0)
    np.testing.assert_array_equal(out[:, :, :2], np.broadcast_to(b[None, :, None, None, None], (1, 2, 2, 6, 20)))
    np.testing.assert_allclose(out, reference_conv3d(x, w, b, 1, [(2, 0), (1, 1), (1, 1)]), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("width, dilation", [(9, 2), (40, 2), (9, 1)])  # flat run, rows in place, masked layout
def test_results_do_not_depend_on_the_thread_count(width, dilation):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 7, 1, 15, width)).astype(np.float32)
    w = rng.standard_normal((14, 1, 1, 3, 3)).astype(np.float32)
    b = rng.standard_normal(14).astype(np.float32)
    args = (1, 2, 1), (0, 1, 1), (1, 1, dilation)
    assert (_cf.masked_layout((15, width), (3, 3), (8, width + 2 - 2 * dilation), (2, 1), (1, 1), (1, dilation))
            is not None) == (dilation == 1)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = _run(x, w, b, *args)
    finally:
        numba.set_num_threads(threads)
    np.testing.assert_array_equal(one, _run(x, w, b, *args))


def test_scratch_rows_start_on_64_bytes_and_fit_the_padded_slices():
    size, flat = _cf.scratch_sizes((4, 10, 33), (3, 3, 3), (4, 5, 17), (1, 2, 2), (1, 1, 1))
    assert size % 16 == 0 and flat % 16 == 0
    assert size >= 4 * 2 * 2 * (5 + 1) * (17 + 1)
    assert _cf.scratch_sizes((1, 10, 10), (1, 3, 3), (1, 10, 10), (1, 1, 1), (1, 1, 1))[1] >= 10 * 12


def _problem(shape, kernel, stride=1, padding=1):
    w = np.ones((shape[1], 1, *kernel), np.float32)
    return problem_for(shape, w, stride, padding, 1)[1]


def test_prefers_forward_also_narrow_rows_in_the_masked_layout():
    f32, bits = np.dtype(np.float32), np.dtype(np.uint16)
    assert _cf.prefers_forward(_problem((1, 8, 14, 14), (3, 3), 2), f32)  # 7x7 outputs, "same"
    assert _cf.prefers_forward(_problem((1, 8, 7, 7), (3, 3)), f32)
    assert not _cf.prefers_forward(_problem((1, 8, 6, 6), (3, 3)), f32)  # 36 outputs
    assert not _cf.prefers_forward(_problem((1, 8, 9, 9), (3, 3), 1, 0), f32)  # "valid": no masked layout
    assert not _cf.prefers_forward(_problem((1, 8, 7, 7), (3, 3)), bits)
    assert _cf.prefers_forward(_problem((1, 8, 28, 28), (3, 3), 1, 0), f32)  # wide rows: as prefers


def test_prefers_wide_float_rows_only():
    f32, f64, bits = np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.uint16)
    assert _cf.prefers(_problem((1, 8, 28, 28), (3, 3), 2), f32)  # 14 outputs per row
    assert _cf.prefers(_problem((1, 8, 28, 28), (3, 3), 2), f64)
    assert not _cf.prefers(_problem((1, 8, 14, 14), (3, 3), 2), f32)  # 7 outputs per row
    assert not _cf.prefers(_problem((1, 8, 28, 28), (3, 3)), bits)  # bfloat16 bits
    assert _cf.prefers(_problem((1, 8, 40), (5,), 1, 2), f32)  # 1-D


@pytest.mark.parametrize("n,shape", [(1, (2, 6, 50)), (2, (2, 6, 20, 24))])
def test_the_numpy_api_routes_wide_channels_first_inputs_here(count_calls, n, shape):
    calls = count_calls(_cf, "run")
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((12, 1, *(3,) * n)).astype(np.float32)
    b = rng.standard_normal(12).astype(np.float32)
    conv = depthwise_conv1d if n == 1 else depthwise_conv2d
    got = conv(x, w, b, 1, 1)
    assert len(calls) == 1
    ref = (F.conv1d if n == 1 else F.conv2d)(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), 1, 1, 1, 6)
    np.testing.assert_allclose(got, ref.numpy(), rtol=1e-5, atol=1e-5)
    assert got.dtype == np.float32 and got.flags.c_contiguous
    conv(np.ascontiguousarray(np.moveaxis(x, 1, -1)), w, b, 1, 1, data_format="channels_last")
    conv(x[..., :10], w, b, 1, 0)  # 8 outputs per row, "valid" padding: the channels-last kernel
    assert len(calls) == 1
    conv(x[..., :10], w, b, 1, 1)  # 10 per row, "same" padding: the masked layout if the slices are large enough
    assert len(calls) == 1 + (n == 2)


def test_float16_input_is_computed_in_float32_and_returned_as_float16():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((1, 3, 20, 20)).astype(np.float16)
    w = rng.standard_normal((3, 1, 3, 3)).astype(np.float16)
    got = depthwise_conv2d(x, w, None, 1, 1)
    assert got.dtype == np.float16
    ref = F.conv2d(torch.from_numpy(x).float(), torch.from_numpy(w).float(), None, 1, 1, 1, 3)
    np.testing.assert_allclose(got.astype(np.float32), ref.numpy(), rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("make", [lambda x: x, lambda x: x[:, :, :, ::2], lambda x: x.transpose(2, 3)],
                         ids=["contiguous", "strided", "transposed"])
def test_torch_tensors_in_nchw_run_here_forward_and_backward(count_calls, make):
    calls = count_calls(_cf, "run")
    gen = torch.Generator().manual_seed(7)
    base = torch.randn(2, 4, 24, 60, generator=gen, dtype=torch.float64)
    x = make(base).requires_grad_()
    w = torch.randn(8, 1, 3, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    b = torch.randn(8, generator=gen, dtype=torch.float64, requires_grad=True)
    out = autograd.depthwise_conv_torch(x, w, b, (1, 2), ((1, 1), (0, 2)), 1)
    assert len(calls) == 1 and out.is_contiguous()
    ref = F.conv2d(F.pad(x, (0, 2, 1, 1)), w, b, (1, 2), 0, 1, 4)
    torch.testing.assert_close(out, ref)
    g = torch.randn(out.shape, generator=gen, dtype=torch.float64)
    got = torch.autograd.grad(out, (x, w, b), g)
    want = torch.autograd.grad(ref, (x, w, b), g)
    for a, e in zip(got, want):
        torch.testing.assert_close(a, e)


def test_gradcheck_through_the_channels_first_forward(count_calls):
    calls = count_calls(_cf, "run")
    gen = torch.Generator().manual_seed(8)
    x = torch.randn(1, 2, 5, 14, generator=gen, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 1, 3, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda *a: autograd.depthwise_conv_torch(*a, 1, 1, 1), (x, w, b))
    assert calls


def test_channels_last_and_bfloat16_tensors_stay_on_the_channels_last_kernel(count_calls):
    calls = count_calls(_cf, "run")
    x = torch.randn(1, 4, 20, 20)
    w = torch.randn(4, 1, 3, 3)
    autograd.depthwise_conv_torch(x.contiguous(memory_format=torch.channels_last), w, None, 1, 1, 1)
    autograd.depthwise_conv_torch(x.bfloat16(), w.bfloat16(), None, 1, 1, 1)
    assert not calls


def test_a_kernel_of_ones_counts_the_taps_inside_the_input():
    x = _memory.empty((1, 2, 1, 8, 30), np.float32)
    x[...] = 1.0
    w = np.ones((2, 1, 1, 3, 3), np.float32)
    out = _run(x, w, np.zeros(2, np.float32), (1, 1, 1), (0, 1, 1), (1, 1, 1))
    assert out[0, 0, 0, 3, 5] == 9.0 and out[0, 0, 0, 0, 0] == 4.0
