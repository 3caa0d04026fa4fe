"""Channels-first <-> channels-last conversions (dsconv.kernels._layout) against NumPy's transposes."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsconv.kernels import _layout, _memory


@pytest.fixture
def always_parallel(monkeypatch):
    """Send arrays of any size through the Numba kernel."""
    monkeypatch.setattr(_layout, "PARALLEL_MIN", 0)


def _check(x: np.ndarray) -> None:
    cl = _layout.to_channels_last(x)
    np.testing.assert_array_equal(cl, np.moveaxis(x, 1, -1))
    assert cl.flags.c_contiguous and cl.dtype == x.dtype
    back = _layout.to_channels_first(cl)
    np.testing.assert_array_equal(back, x)
    assert back.flags.c_contiguous and back.dtype == x.dtype


# the fixture's patch holds for every example
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 3), c=st.integers(1, 70), spatial=st.lists(st.integers(1, 40), min_size=1, max_size=3),
       dtype=st.sampled_from([np.float32, np.float64, np.uint16, np.int16]))
def test_random_shapes_round_trip_through_the_kernel(n, c, spatial, dtype, always_parallel):
    x = np.random.default_rng(c).integers(0, 1000, (n, c, *spatial)).astype(dtype)
    _check(x)


@pytest.mark.parametrize("shape", [(1, 3, 224, 224), (2, 32, 56, 56), (1, 600, 20, 20), (2, 15, 100, 100),
                                   (1, 16, 20, 21, 22)])
def test_mobilenet_sized_arrays_take_the_kernel_and_match(shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    assert x.size >= _layout.PARALLEL_MIN and _layout._use_kernel(x)
    _check(x)
    assert _memory.is_aligned(_layout.to_channels_last(x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint16])
@pytest.mark.parametrize("c", [2, 3, 4])
@pytest.mark.parametrize("parallel", [False, True])
def test_two_to_four_channels_go_pixel_by_pixel(c, dtype, parallel, monkeypatch, count_calls):
    # several images, odd pixel counts, and (in parallel) tasks of 7 pixels, so chunks end mid-image
    monkeypatch.setattr(_layout, "_PIXEL_CHUNK", 7)
    if parallel:
        monkeypatch.setattr(_layout, "SERIAL_MAX", 0)
    used = count_calls(_layout, "pixels_parallel" if parallel else "pixels_serial")
    tiles = count_calls(_layout, "swap_last_two")
    rng = np.random.default_rng(c)
    for shape in [(3, c, 5, 9), (2, c, 11), (1, c, 3, 4, 5), (1, c, 1, 2)]:
        _check(rng.integers(0, 1000, shape).astype(dtype))
    assert len(used) == 8 and not tiles


@pytest.mark.parametrize("direction", ["to_channels_last", "to_channels_first"])
def test_pixel_loop_serial_up_to_serial_max(direction, count_calls):
    serial, parallel = count_calls(_layout, "pixels_serial"), count_calls(_layout, "pixels_parallel")
    c = 3
    largest = _layout.SERIAL_MAX // c * c
    for size, expect in [(largest, "serial"), (largest + c, "parallel")]:
        x = np.arange(size, dtype=np.float32).reshape(1, c, -1)
        if direction == "to_channels_first":
            x = np.ascontiguousarray(np.moveaxis(x, 1, -1))
        out = getattr(_layout, direction)(x)
        ref = np.moveaxis(x, 1, -1) if direction == "to_channels_last" else np.moveaxis(x, -1, 1)
        np.testing.assert_array_equal(out, ref)
        assert _memory.is_aligned(out)
        assert (len(serial), len(parallel)) == ((1, 0) if expect == "serial" else (1, 1))


def test_wake_runs_the_pixel_loop_in_parallel_at_any_size(count_calls):
    parallel = count_calls(_layout, "pixels_parallel")
    x = np.random.default_rng(3).standard_normal((1, 3, 8, 8)).astype(np.float32)
    np.testing.assert_array_equal(_layout.to_channels_last(x, wake=True), np.moveaxis(x, 1, -1))
    assert len(parallel) == 1
    np.testing.assert_array_equal(_layout.to_channels_last(x), np.moveaxis(x, 1, -1))
    assert len(parallel) == 1


def test_views_in_the_wanted_layout_are_returned_as_they_are():
    x = np.random.default_rng(0).standard_normal((2, 5, 6, 7)).astype(np.float32)
    cl = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    view = _layout.to_channels_last(np.moveaxis(cl, -1, 1))
    assert view.base is cl or np.shares_memory(view, cl)
    assert np.shares_memory(_layout.to_channels_first(np.moveaxis(x, 1, -1)), x)
    single = np.ones((3, 1, 4, 4), np.float32)  # one channel: both layouts are the same memory
    assert np.shares_memory(_layout.to_channels_last(single), single)


@pytest.mark.parametrize("make", [
    lambda x: x[:, :, ::2],  # strided
    lambda x: x[:, ::-1],  # negative stride
    lambda x: np.broadcast_to(x[:1], x.shape),  # zero stride
    lambda x: x.astype(np.float16),  # a dtype the kernel does not take
    lambda x: x.astype(np.int64),
])
def test_other_arrays_go_through_numpy_and_match(make, always_parallel):
    x = make(np.random.default_rng(1).standard_normal((2, 6, 10, 9)).astype(np.float32))
    assert not _layout._use_kernel(x)
    cl = _layout.to_channels_last(x)
    np.testing.assert_array_equal(cl, np.moveaxis(x, 1, -1))
    assert cl.flags.c_contiguous
    np.testing.assert_array_equal(_layout.to_channels_first(np.ascontiguousarray(np.moveaxis(x, 1, -1))), x)


def test_empty_arrays(always_parallel):
    for shape in [(0, 3, 4, 4), (2, 0, 4, 4), (2, 3, 0, 4)]:
        x = np.zeros(shape, np.float32)
        assert _layout.to_channels_last(x).shape == np.moveaxis(x, 1, -1).shape
        assert _layout.to_channels_first(np.moveaxis(x, 1, -1).copy()).shape == shape


def test_tiles():
    assert _layout.tiles(3, 50176) == (3, 512, True)  # few rows: all of them, long rows
    assert _layout.tiles(50176, 3) == (1365, 3, True)  # few columns: all of them, many rows
    assert _layout.tiles(128, 3136) == (32, 128, False)
    assert _layout.tiles(16, 16) == (32, 128, False)


@pytest.mark.parametrize("c", [3, 40])  # the pixel loop and the tiles
def test_results_do_not_depend_on_the_thread_count(c, always_parallel, monkeypatch):
    monkeypatch.setattr(_layout, "SERIAL_MAX", 0)
    x = np.random.default_rng(2).standard_normal((3, c, 33, 17)).astype(np.float32)
    previous = numba.get_num_threads()
    try:
        results = []
        for threads in (1, previous):
            numba.set_num_threads(threads)
            results.append(_layout.to_channels_last(x))
    finally:
        numba.set_num_threads(previous)
    np.testing.assert_array_equal(results[0], results[1])
