"""The channels-first backward kernel (dsconv.kernels._cf_grad) against the NumPy reference and PyTorch, and its
routing from the NumPy API and the autograd bridge."""

from __future__ import annotations

import numba
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsconv.functional import depthwise_conv3d_backward as reference_backward3d
from dsconv.kernels import _cf_grad, _memory, autograd, depthwise_conv1d_backward, depthwise_conv2d_backward


@pytest.fixture
def nan_buffers(monkeypatch):
    """Every uninitialised buffer the kernels allocate starts as NaN, so an element the kernel forgets to write
    shows up in the result."""
    real = _memory.empty

    def nan_empty(shape, dtype):
        a = real(shape, dtype)
        if np.dtype(dtype).kind == "f":
            a.fill(np.nan)
        return a

    monkeypatch.setattr(_memory, "empty", nan_empty)


def _grads(x, w, g, stride, pads, dilation, need_x=True, need_w=True):
    """``_cf_grad.run`` on 3-D channels-first data with before-pads ``pads`` (``w`` is ``(C*M, 1, kd, kh, kw)``)."""
    return _cf_grad.run(x, g, np.ascontiguousarray(w[:, 0]), stride, pads, dilation, need_x, need_w)


def _out_size(spatial, kernel, stride, pads, after, dilation):
    return tuple((n + p + a - d * (k - 1) - 1) // s + 1
                 for n, k, s, p, a, d in zip(spatial, kernel, stride, pads, after, dilation))


# the NaN-filling patch is meant to stay in place for every generated input
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), batch=st.integers(1, 2), channels=st.integers(1, 3), multiplier=st.integers(1, 3),
       kernel=st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4)),
       stride=st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 3)),
       dilation=st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 2)),
       pads=st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2)),
       after=st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2)),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_random_geometries_match_the_reference(nan_buffers, data, batch, channels, multiplier, kernel, stride,
                                               dilation, pads, after, dtype):
    # widths on both sides of the 16 inputs that switch between rows written in place and the merged components
    spatial = tuple(data.draw(st.integers(max((k - 1) * d + 1 - p - a, 1), hi + (k - 1) * d))
                    for k, d, p, a, hi in zip(kernel, dilation, pads, after, (4, 10, 30)))
    rng = np.random.default_rng(sum(spatial))
    x = rng.standard_normal((batch, channels, *spatial)).astype(dtype)
    w = rng.standard_normal((channels * multiplier, 1, *kernel)).astype(dtype)
    out = _out_size(spatial, kernel, stride, pads, after, dilation)
    g = rng.standard_normal((batch, channels * multiplier, *out)).astype(dtype)
    gx, gw = _grads(x, w, g, stride, pads, dilation)
    rx, rw, _ = reference_backward3d(g, x, w, stride, list(zip(pads, after)), dilation)
    tol = 2e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(gx, rx, rtol=tol, atol=tol)
    np.testing.assert_allclose(gw, rw[:, 0], rtol=tol, atol=tol * max(1, g[0, 0].size ** 0.5))


@pytest.mark.parametrize("shape,stride,dilation", [
    ((2, 3, 30, 33), 1, 1),  # rows written in place
    ((2, 5, 7, 9), 1, 1),  # narrow rows: the merged components
    ((1, 4, 29, 40), 2, 1),
    ((1, 2, 20, 9), 2, 2),
    ((1, 2, 17, 50), 3, 1),
])
def test_3x3_gradients_match_pytorch(nan_buffers, shape, stride, dilation):
    gen = torch.Generator().manual_seed(1)
    c = shape[1]
    x = torch.randn(shape, generator=gen, requires_grad=True)
    w = torch.randn(c, 1, 3, 3, generator=gen, requires_grad=True)
    out = F.conv2d(x, w, None, stride, 1, dilation, c)
    g = torch.randn(out.shape, generator=gen)
    want = torch.autograd.grad(out, (x, w), g)
    gx, gw = _grads(x.detach().numpy()[:, :, None], w.detach().numpy()[:, :, None], g.numpy()[:, :, None],
                    (1, stride, stride), (0, 1, 1), (1, dilation, dilation))
    torch.testing.assert_close(torch.from_numpy(gx[:, :, 0]), want[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(torch.from_numpy(gw), want[1], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kernel,pads,after", [((3, 3, 3), (1, 1, 1), (1, 1, 1)), ((2, 1, 5), (0, 0, 3), (1, 0, 0)),
                                                ((3, 3, 3), (0, 0, 0), (0, 0, 0))])
def test_rows_in_place_sum_the_multiplier_and_the_depth_taps(nan_buffers, kernel, pads, after):
    # stride 1 and inputs 16 or more wide: grad_x rows written in place, several slices added into each
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 2, 4, 6, 21))
    w = rng.standard_normal((6, 1, *kernel))
    out = _out_size(x.shape[2:], kernel, (1, 1, 1), pads, after, (1, 1, 1))
    g = rng.standard_normal((2, 6, *out))
    gx, gw = _grads(x, w, g, (1, 1, 1), pads, (1, 1, 1))
    rx, rw, _ = reference_backward3d(g, x, w, 1, list(zip(pads, after)), 1)
    np.testing.assert_allclose(gx, rx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gw, rw[:, 0], rtol=1e-11, atol=1e-11)


def test_inputs_no_output_reads_get_zero_gradient(nan_buffers):
    # 1x1 kernel at stride 2: odd rows and columns are never read; 3x3 at stride 3: the last rows and columns
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 2, 1, 9, 20))
    w = rng.standard_normal((2, 1, 1, 1, 1))
    g = rng.standard_normal((1, 2, 1, 5, 10))
    gx, _ = _grads(x, w, g, (1, 2, 2), (0, 0, 0), (1, 1, 1))
    assert np.all(gx[..., 1::2, :] == 0) and np.all(gx[..., 1::2] == 0)
    np.testing.assert_array_equal(gx[0, :, 0, ::2, ::2], g[0, :, 0] * w[:, 0, 0, 0, 0, None, None])
    x = rng.standard_normal((1, 1, 2, 11, 20))
    w = rng.standard_normal((1, 1, 1, 3, 3))
    gx, _ = _grads(x, w, rng.standard_normal((1, 1, 1, 3, 6)), (2, 3, 3), (0, 0, 0), (1, 1, 1))
    assert np.all(gx[:, :, 1] == 0) and np.all(gx[..., 9:, :] == 0) and np.all(gx[..., 18:] == 0)


@pytest.mark.parametrize("width", [9, 40])  # merged components and rows in place
def test_results_do_not_depend_on_the_thread_count(width):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 7, 1, 15, width)).astype(np.float32)
    w = rng.standard_normal((14, 1, 1, 3, 3)).astype(np.float32)
    g = rng.standard_normal((3, 14, 1, 15, width)).astype(np.float32)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = _grads(x, w, g, (1, 1, 1), (0, 1, 1), (1, 1, 1))
    finally:
        numba.set_num_threads(threads)
    for a, b in zip(one, _grads(x, w, g, (1, 1, 1), (0, 1, 1), (1, 1, 1))):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("stride", [1, 2])
def test_either_gradient_alone_equals_both(stride):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 1, 16, 24))
    w = rng.standard_normal((6, 1, 1, 3, 3))
    g = rng.standard_normal((2, 6, 1, 16 // stride, 24 // stride))
    gx, gw = _grads(x, w, g, (1, stride, stride), (0, 1, 1), (1, 1, 1))
    only_x = _grads(x, w, g, (1, stride, stride), (0, 1, 1), (1, 1, 1), need_w=False)
    only_w = _grads(x, w, g, (1, stride, stride), (0, 1, 1), (1, 1, 1), need_x=False)
    assert only_x[1] is None and only_w[0] is None
    np.testing.assert_array_equal(only_x[0], gx)
    np.testing.assert_array_equal(only_w[1], gw)


def test_plan_groups_the_taps_by_component():
    order, offs, coffs, cstart, geometry = _cf_grad.plan((1, 3, 3), (1, 14, 14), (1, 2, 2), (0, 1, 1), (1, 1, 1))
    # taps (0,0),(0,2),(2,0),(2,2) in component (0,0); (0,1),(2,1) in (0,1); (1,0),(1,2) in (1,0); (1,1) in (1,1)
    assert order.tolist() == [0, 2, 6, 8, 1, 7, 3, 5, 4] and cstart.tolist() == [0, 4, 6, 8, 9]
    sd, sh, sw, pd, ph, pw, dd, bh, bw, rq, wq, pitch = geometry
    assert (bh, bw, rq, wq, pitch) == (1, 1, 15, 15, 16)
    assert offs[4] == 3 * rq * pitch and coffs[0] == pitch + 1 and coffs[3] == 0


@pytest.mark.parametrize("n,shape", [(1, (2, 6, 50)), (2, (2, 6, 20, 24))])
def test_the_numpy_api_routes_wide_channels_first_gradients_here(count_calls, n, shape):
    calls = count_calls(_cf_grad, "run")
    rng = np.random.default_rng(6)
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((12, 1, *(3,) * n)).astype(np.float32)
    g = rng.standard_normal((shape[0], 12, *shape[2:])).astype(np.float32)
    backward = depthwise_conv1d_backward if n == 1 else depthwise_conv2d_backward
    got = backward(g, x, w, 1, 1)
    assert len(calls) == 1
    xt, wt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(w).requires_grad_()
    bt = torch.zeros(12, requires_grad=True)
    out = (F.conv1d if n == 1 else F.conv2d)(xt, wt, bt, 1, 1, 1, 6)
    want = torch.autograd.grad(out, (xt, wt, bt), torch.from_numpy(g))
    for a, e in zip(got, want):
        assert a.dtype == np.float32 and a.flags.c_contiguous
        np.testing.assert_allclose(a, e.numpy(), rtol=1e-4, atol=1e-4)
    backward(np.ascontiguousarray(np.moveaxis(g, 1, -1)), np.ascontiguousarray(np.moveaxis(x, 1, -1)), w, 1, 1,
             data_format="channels_last")
    backward(g[..., :10], x[..., :10], w, 1, 1)  # 10 outputs per row: the channels-last kernels
    assert len(calls) == 1


def test_float16_gradients_are_computed_in_float32_and_returned_as_float16():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((1, 3, 20, 20)).astype(np.float16)
    w = rng.standard_normal((3, 1, 3, 3)).astype(np.float16)
    g = rng.standard_normal((1, 3, 20, 20)).astype(np.float16)
    got = depthwise_conv2d_backward(g, x, w, 1, 1)
    want = reference_backward3d(g.astype(np.float32)[:, :, None], x.astype(np.float32)[:, :, None],
                                w.astype(np.float32)[:, :, None], 1, [(0, 0), (1, 1), (1, 1)])
    for a, e in zip(got, want):
        assert a.dtype == np.float16
        np.testing.assert_allclose(a.astype(np.float32).reshape(e.shape), e, rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("make", [lambda x: x, lambda x: x[:, :, :, ::2], lambda x: x.transpose(2, 3)],
                         ids=["contiguous", "strided", "transposed"])
@pytest.mark.parametrize("need", ["both", "x", "weight"])
def test_torch_tensors_in_nchw_take_this_backward(count_calls, make, need):
    calls = count_calls(_cf_grad, "run")
    gen = torch.Generator().manual_seed(8)
    x = make(torch.randn(2, 4, 24, 60, generator=gen, dtype=torch.float64)).requires_grad_(need != "weight")
    w = torch.randn(8, 1, 3, 3, generator=gen, dtype=torch.float64, requires_grad=need != "x")
    out = autograd.depthwise_conv_torch(x, w, None, (1, 2), ((1, 1), (0, 2)), 1)
    ref = F.conv2d(F.pad(x, (0, 2, 1, 1)), w, None, (1, 2), 0, 1, 4)
    g = torch.randn(out.shape, generator=gen, dtype=torch.float64)
    inputs = [t for t in (x, w) if t.requires_grad]
    got = torch.autograd.grad(out, inputs, g)
    assert len(calls) == 1
    for a, e in zip(got, torch.autograd.grad(ref, inputs, g)):
        torch.testing.assert_close(a, e)
        assert a.dtype == torch.float64


def test_gradcheck_through_the_channels_first_backward(count_calls):
    calls = count_calls(_cf_grad, "run")
    gen = torch.Generator().manual_seed(9)
    x = torch.randn(2, 2, 5, 14, generator=gen, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 1, 3, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, generator=gen, dtype=torch.float64, requires_grad=True)
    for stride, dilation in [(1, 1), (2, 1), ((1, 2), 2)]:
        assert torch.autograd.gradcheck(
            lambda *a: autograd.depthwise_conv_torch(*a, stride, ((1, 1), (1, 0)), dilation), (x, w, b))
    assert calls


def test_channels_last_narrow_and_bfloat16_tensors_keep_the_channels_last_backward(count_calls):
    calls = count_calls(_cf_grad, "run")
    w = torch.randn(4, 1, 3, 3, requires_grad=True)
    for x in (torch.randn(1, 4, 20, 20).contiguous(memory_format=torch.channels_last), torch.randn(1, 4, 9, 9)):
        autograd.depthwise_conv_torch(x.requires_grad_(), w, None, 1, 1, 1).sum().backward()
    xb = torch.randn(1, 4, 20, 20, dtype=torch.bfloat16, requires_grad=True)
    autograd.depthwise_conv_torch(xb, w.detach().bfloat16().requires_grad_(), None, 1, 1, 1).sum().backward()
    assert not calls
