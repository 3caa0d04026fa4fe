"""The one-region fused block (``matmul="mkl"``): depthwise rows and MKL's packed product in one parallel call.

Checked against PyTorch's unfused composition in float64 (the second oracle) over a grid and random cases,
with many chunks forced by small tiles, at other thread counts and from several Python threads at once.
"""

from __future__ import annotations

import threading

import numba
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dsconv.kernels import _cl, _fused_mkl, _mkl
from dsconv.kernels.depthwise import cl_input
from dsconv.kernels.modules import FusedSeparable2d, _nhwc

pytestmark = pytest.mark.skipif(not _mkl.available(), reason="this PyTorch build has no MKL")


def _operands(c: int, m: int, c_out: int, k: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(c * m, 1, k, k, generator=gen), torch.randn(c * m, generator=gen),
            torch.randn(c_out, c * m, 1, 1, generator=gen) / (c * m) ** 0.5, torch.randn(c_out, generator=gen))


def _eager(x: torch.Tensor, ops, stride, padding, dilation, act_dw: str, act_pw: str) -> torch.Tensor:
    """The unfused block in float64 (``padding`` an int pair, as F.conv2d takes it)."""
    acts = {"none": lambda t: t, "relu": torch.relu, "relu6": lambda t: t.clamp(0, 6)}
    dw, b1, pw, b2 = (t.double() for t in ops)
    d = torch.nn.functional.conv2d(x.double(), dw, b1, stride, padding, dilation, x.shape[1])
    return acts[act_pw](torch.nn.functional.conv2d(acts[act_dw](d), pw, b2))


@pytest.mark.parametrize("c, m, c_out, size, stride, padding, dilation, batch", [
    (8, 1, 12, (9, 11), 1, 1, 1, 1), (8, 1, 12, (9, 11), 2, 1, 1, 3), (6, 2, 5, (7, 8), 1, 1, 1, 2),
    (16, 1, 24, (10, 10), 1, 2, 2, 1), (4, 1, 7, (5, 13), (2, 1), (0, 1), 1, 2), (24, 1, 8, (3, 3), 1, 0, 1, 4)])
@pytest.mark.parametrize("acts", [("relu", "relu"), ("relu6", "none")])
def test_one_region_block_matches_the_unfused_block(c, m, c_out, size, stride, padding, dilation, batch, acts):
    ops = _operands(c, m, c_out, 3)
    block = FusedSeparable2d(*ops, stride, padding, dilation, *acts, matmul="mkl")
    x = torch.randn(batch, c, *size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y = block(x)
        assert isinstance(block._plan(x)[1], _fused_mkl.OneRegionPlan)
        assert y.dtype == torch.float32 and y.is_contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(y.double(), _eager(x, ops, stride, padding, dilation, *acts), rtol=1e-4, atol=1e-4)


@settings(max_examples=25, deadline=None)
@given(c=st.integers(1, 20), m=st.integers(1, 2), c_out=st.integers(1, 20), h=st.integers(1, 12),
       w=st.integers(1, 12), stride=st.integers(1, 2), batch=st.integers(1, 3), tile=st.sampled_from([1, 512, 1 << 20]))
def test_random_blocks_and_chunkings_match_the_unfused_block(c, m, c_out, h, w, stride, batch, tile):
    ops = _operands(c, m, c_out, 3, seed=c * 31 + h)
    block = FusedSeparable2d(*ops, stride, 1, 1, "relu6", "relu", matmul="mkl")
    x = torch.randn(batch, c, h, w, generator=torch.Generator().manual_seed(w))
    with torch.no_grad():
        params = block._params(tuple(x.shape), np.dtype(np.float32))
        p = params.problem
        plan = _fused_mkl.OneRegionPlan.prepare(p, params.w_cl, params.dw_bias, params.pw_t, 2, tile_bytes=tile)
        assert plan.bounds[0] == 0 and plan.bounds[-1] == p.batch * -(-p.out_size[1] // plan.geometry[22])
        assert np.all(np.diff(plan.bounds) > 0)  # no empty chunk
        y = plan.run(cl_input(_nhwc(x), p, np.dtype(np.float32)), params.w_cl, params.dw_bias, params.pw_bias,
                     _cl.ACT_CODES["relu6"], _cl.ACT_CODES["relu"])
        ref = _eager(x, ops, stride, 1, 1, "relu6", "relu").permute(0, 2, 3, 1).reshape(-1, c_out)
        torch.testing.assert_close(torch.from_numpy(y).double(), ref, rtol=1e-4, atol=1e-4)


def test_tiles_bound_the_chunks_and_every_thread_gets_one():
    ops = _operands(32, 1, 16, 3)
    block = FusedSeparable2d(*ops, 1, 1, 1, "relu", "relu", matmul="mkl")
    params = block._params((1, 32, 56, 56), np.dtype(np.float32))
    p = params.problem
    for threads, tile, chunks in [(2, 1 << 20, 2), (2, 64 << 10, 8), (3, 1 << 20, 3), (2, 1, 28)]:
        plan = _fused_mkl.OneRegionPlan.prepare(p, params.w_cl, params.dw_bias, params.pw_t, threads, tile_bytes=tile)
        assert plan.bounds.shape[0] - 1 == chunks  # 28 tasks of two 56-pixel rows, 14 KiB each
        assert plan.tile_size == (-(-28 // chunks) * 2) * 56 * 32


def test_few_channels_and_many_pixels_keep_the_two_stage_product():
    ops = _operands(32, 1, 16, 3)
    block = FusedSeparable2d(*ops, 1, 1, 1, "relu", "relu", matmul="mkl")
    assert _fused_mkl.prefers_two_stages(32, 112 * 112) and not _fused_mkl.prefers_two_stages(192, 112 * 112)
    assert not _fused_mkl.prefers_two_stages(144, 6271)
    with torch.no_grad():
        for size, one_region in ((112, False), (56, True)):  # 12544 and 3136 pixels
            x = torch.randn(1, 32, size, size)
            assert isinstance(block._plan(x)[1], _fused_mkl.OneRegionPlan) is one_region
            torch.testing.assert_close(block(x).double(), _eager(x, ops, 1, 1, 1, "relu", "relu"), rtol=1e-4, atol=1e-4)


def test_results_do_not_depend_on_the_thread_count():
    ops = _operands(24, 1, 40, 3)
    x = torch.randn(2, 24, 20, 20)
    results = []
    previous = numba.get_num_threads()
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            block = FusedSeparable2d(*ops, 1, 1, 1, "relu", "none", matmul="mkl")  # plans for this thread count
            with torch.no_grad():
                results.append(block(x))
    finally:
        numba.set_num_threads(previous)
    torch.testing.assert_close(results[0], results[1], rtol=1e-5, atol=1e-5)  # MKL may block rows differently


def test_one_module_runs_in_several_python_threads_at_once():
    ops = _operands(16, 1, 24, 3)
    block = FusedSeparable2d(*ops, 1, 1, 1, "relu6", "relu", matmul="mkl")
    inputs = [torch.randn(2, 16, 15, 15, generator=torch.Generator().manual_seed(i)) for i in range(4)]
    with torch.no_grad():
        expected = [block(x) for x in inputs]
        got: dict[int, list[torch.Tensor]] = {i: [] for i in range(4)}

        def work(i: int) -> None:
            with torch.no_grad():
                for _ in range(20):
                    got[i].append(block(inputs[i]))

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for i in range(4):
        for y in got[i]:
            torch.testing.assert_close(y, expected[i], rtol=0, atol=0)


def test_a_worker_runs_its_chunks_through_one_tile():
    ops = _operands(160, 1, 24, 3)
    block = FusedSeparable2d(*ops, 1, 1, 1, "relu", "relu", matmul="mkl")
    x = torch.randn(2, 160, 30, 30)  # 1.15 MB of depthwise output: more than one 1 MiB tile per worker
    ref = _eager(x, ops, 1, 1, 1, "relu", "relu")
    previous = numba.get_num_threads()
    try:
        with torch.no_grad():
            for threads in (1, previous):  # the plan is made for one thread, then runs on more
                numba.set_num_threads(threads)
                torch.testing.assert_close(block(x).double(), ref, rtol=1e-4, atol=1e-4)
                plan = block._cache[("plan", x.shape, x.dtype)][1]
                assert len(plan.bounds) - 1 == 2  # made for one thread: both chunks on one worker, then one each
    finally:
        numba.set_num_threads(previous)
