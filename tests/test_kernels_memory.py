"""Aligned buffers (``dsconv.kernels._memory``) and that the kernels' own allocations use them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsconv.kernels import _memory, depthwise_conv2d, depthwise_conv2d_backward, fused_separable_conv2d
from dsconv.kernels.depthwise import cl_input, cl_weight, make_problem


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(0, 7), min_size=0, max_size=4), dtype=st.sampled_from([np.float32, np.float64, np.uint8]))
def test_empty_is_aligned_with_the_requested_shape_and_dtype(shape, dtype):
    a = _memory.empty(tuple(shape), dtype)
    assert a.shape == tuple(shape) and a.dtype == np.dtype(dtype) and a.flags.c_contiguous and a.flags.writeable
    assert _memory.is_aligned(a)
    a[...] = 1  # the whole buffer is writable memory of its own
    assert np.all(a == 1)


def test_empty_accepts_an_int_and_zeros_fills():
    assert _memory.empty(5, np.float32).shape == (5,)
    z = _memory.zeros((3, 4), np.float64)
    assert _memory.is_aligned(z) and not z.any()


def test_contiguous_returns_the_array_itself_when_no_copy_is_needed():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert _memory.contiguous(a, np.float32) is a  # the caller's array is used as it is, aligned or not


@pytest.mark.parametrize("make", [
    lambda: np.arange(12, dtype=np.float64).reshape(3, 4),  # dtype change
    lambda: np.arange(12, dtype=np.float32).reshape(3, 4).T,  # not contiguous
    lambda: np.arange(24, dtype=np.float32).reshape(4, 6)[:, ::2],  # strided view
])
def test_contiguous_copies_into_an_aligned_buffer_with_the_same_values(make):
    a = make()
    c = _memory.contiguous(a, np.float32)
    assert c.dtype == np.float32 and c.flags.c_contiguous and _memory.is_aligned(c)
    np.testing.assert_array_equal(c, a.astype(np.float32))


def test_copy_always_copies():
    a = np.arange(10, dtype=np.float32)[1:]  # 4 bytes past an allocation: never 64-byte aligned
    c = _memory.copy(a)
    assert c is not a and _memory.is_aligned(c) and not _memory.is_aligned(a)
    np.testing.assert_array_equal(c, a)
    c[0] = -1
    assert a[0] == 1


def test_the_kernels_return_aligned_arrays_and_prepare_aligned_operands():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 9, 9)).astype(np.float32)[:, :, 1:, 1:]  # a strided, unaligned view
    w = rng.standard_normal((10, 1, 3, 3)).astype(np.float32)
    y = depthwise_conv2d(x, w, padding=1)
    assert _memory.is_aligned(y)
    gx, gw, gb = depthwise_conv2d_backward(np.ones_like(y), x, w, padding=1)
    assert _memory.is_aligned(gx) and _memory.is_aligned(gw) and gb.shape == (10,)
    p = make_problem(x.shape, (3, 3), 2, (1, 1), ((1, 1), (1, 1)), (1, 1), (8, 8))
    assert _memory.is_aligned(cl_weight(w, p, np.float32))
    x_rep = cl_input(np.moveaxis(x, 1, -1), p, np.float32)  # multiplier 2: a repeated copy
    assert _memory.is_aligned(x_rep)
    np.testing.assert_array_equal(x_rep.reshape(2, 8, 8, 5, 2), np.repeat(np.moveaxis(x, 1, -1)[..., None], 2, -1))
    out = fused_separable_conv2d(x, w[::2], rng.standard_normal((6, 5, 1, 1)).astype(np.float32), padding=1)
    assert _memory.is_aligned(out)
