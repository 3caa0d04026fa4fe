"""dsconv.kernels NumPy-level depthwise ops against the NumPy reference (the specification).

One parametrized grid covers 1D/2D/3D, both layouts, every padding form, strides, dilations and depth
multipliers, forward and backward, in float64 (tight tolerance) with a float32 spot check; plus
non-contiguous inputs, thread-count independence and the reference's error messages.
"""

from __future__ import annotations

import functools

import numba
import numpy as np
import pytest

import dsconv.functional as F
import dsconv.kernels as K
from dsconv.kernels import _cl

TOL64 = {"rtol": 1e-10, "atol": 1e-10}
TOL32 = {"rtol": 1e-4, "atol": 1e-4}

# (kernel, stride, padding, dilation, multiplier)
GEOMETRIES = [
    (3, 1, 1, 1, 1),
    (3, 2, "same", 1, 2),
    (2, 1, "valid", 2, 1),
    (3, 3, "same", 2, 1),
    (5, 2, 2, 1, 1),
    (1, 1, 0, 1, 3),
    (4, 1, "same", 1, 1),
]
SPATIAL = {1: (11,), 2: (9, 8), 3: (5, 6, 7)}


def _x_shape(n: int, c: int, data_format: str, batch: int = 2) -> tuple[int, ...]:
    spatial = SPATIAL[n]
    return (batch, c, *spatial) if data_format == "channels_first" else (batch, *spatial, c)


def _explicit_pairs(n: int) -> tuple[tuple[int, int], ...]:
    return tuple((1, 2) if d % 2 == 0 else (0, 1) for d in range(n))


def _ops(n: int):
    return (getattr(F, f"depthwise_conv{n}d"), getattr(K, f"depthwise_conv{n}d"),
            getattr(F, f"depthwise_conv{n}d_backward"), getattr(K, f"depthwise_conv{n}d_backward"))


def _assert_backward_matches(rng, x, w, stride, padding, dilation) -> None:
    """Kernels' gradients of a channels-last ``x`` (2-D or 3-D, from ``w``'s kernel rank) against the
    reference's, for a random output gradient (nothing to check when the output is empty)."""
    n = w.ndim - 2
    f_fwd, _, f_bwd, k_bwd = _ops(n)
    out = f_fwd(x, w, None, stride, padding, dilation, data_format="channels_last")
    if out.size == 0:
        return
    g = rng.standard_normal(out.shape)
    for e, r in zip(f_bwd(g, x, w, stride, padding, dilation, data_format="channels_last"),
                    k_bwd(g, x, w, stride, padding, dilation, data_format="channels_last")):
        np.testing.assert_allclose(r, e, **TOL64)


@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_forward_and_backward_match_reference(n, data_format, geometry, rng):
    k, stride, padding, dilation, m = geometry
    c = 3
    x = rng.standard_normal(_x_shape(n, c, data_format))
    w = rng.standard_normal((c * m, 1, *(k,) * n))
    b = rng.standard_normal(c * m)
    ref_fwd, fwd, ref_bwd, bwd = _ops(n)
    expected = ref_fwd(x, w, b, stride, padding, dilation, data_format=data_format)
    got = fwd(x, w, b, stride, padding, dilation, data_format=data_format)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, **TOL64)
    g = rng.standard_normal(expected.shape)
    for e, r in zip(ref_bwd(g, x, w, stride, padding, dilation, data_format=data_format),
                    bwd(g, x, w, stride, padding, dilation, data_format=data_format)):
        assert r.shape == e.shape
        np.testing.assert_allclose(r, e, **TOL64)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_explicit_pairs_and_causal(n, rng):
    ref_fwd, fwd, ref_bwd, bwd = _ops(n)
    x = rng.standard_normal(_x_shape(n, 4, "channels_last"))
    w = rng.standard_normal((4, 1, *(3,) * n))
    pads = "causal" if n == 1 else _explicit_pairs(n)
    for padding in (pads, _explicit_pairs(n)):
        expected = ref_fwd(x, w, None, 1, padding, 1, data_format="channels_last")
        np.testing.assert_allclose(fwd(x, w, None, 1, padding, 1, data_format="channels_last"), expected, **TOL64)
        g = rng.standard_normal(expected.shape)
        for e, r in zip(ref_bwd(g, x, w, 1, padding, 1, data_format="channels_last"),
                        bwd(g, x, w, 1, padding, 1, data_format="channels_last")):
            np.testing.assert_allclose(r, e, **TOL64)


@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_float32_mobilenet_like_layer(data_format, rng):
    """The 3x3 fast path (all three rows valid) with interior and border pixels, in float32."""
    shape = (1, 48, 13, 12) if data_format == "channels_first" else (1, 13, 12, 48)
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((48, 1, 3, 3)).astype(np.float32)
    b = rng.standard_normal(48).astype(np.float32)
    for stride in (1, 2):
        expected = F.depthwise_conv2d(x, w, b, stride, 1, data_format=data_format)
        got = K.depthwise_conv2d(x, w, b, stride, 1, data_format=data_format)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, expected, **TOL32)
        g = rng.standard_normal(expected.shape).astype(np.float32)
        for e, r in zip(F.depthwise_conv2d_backward(g, x, w, stride, 1, data_format=data_format),
                        K.depthwise_conv2d_backward(g, x, w, stride, 1, data_format=data_format)):
            assert r.dtype == np.float32
            np.testing.assert_allclose(r, e, rtol=1e-3, atol=1e-3)


def test_float16_runs_in_float32_and_returns_float16(rng):
    x = rng.standard_normal((1, 3, 6, 6)).astype(np.float16)
    w = rng.standard_normal((3, 1, 3, 3)).astype(np.float16)
    got = K.depthwise_conv2d(x, w, padding=1)
    assert got.dtype == np.float16
    expected = F.depthwise_conv2d(x.astype(np.float32), w.astype(np.float32), padding=1)
    np.testing.assert_allclose(got.astype(np.float32), expected, rtol=1e-2, atol=1e-2)


def test_non_contiguous_inputs(rng):
    base = rng.standard_normal((2, 6, 10, 12))
    x = base[:, ::2, :, ::2]  # (2, 3, 10, 6), strided in channels and width
    w = rng.standard_normal((6, 1, 3, 3))[:, :, ::-1, :]  # negative strides
    np.testing.assert_allclose(K.depthwise_conv2d(x, w, None, 1, "same"), F.depthwise_conv2d(x, w, None, 1, "same"), **TOL64)
    x_cl = np.moveaxis(x, 1, -1)  # channels_last view, not contiguous
    g = rng.standard_normal((2, 10, 6, 6))
    for e, r in zip(F.depthwise_conv2d_backward(g, x_cl, w, 1, "same", data_format="channels_last"),
                    K.depthwise_conv2d_backward(g, x_cl, w, 1, "same", data_format="channels_last")):
        np.testing.assert_allclose(r, e, **TOL64)


def test_results_do_not_depend_on_thread_count(rng):
    x = rng.standard_normal((3, 17, 15, 32)).astype(np.float32)
    w = rng.standard_normal((32, 1, 3, 3)).astype(np.float32)
    g = rng.standard_normal((3, 9, 8, 32)).astype(np.float32)
    previous = numba.get_num_threads()
    results = []
    try:
        for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(threads)
            out = K.depthwise_conv2d(x, w, None, 2, "same", data_format="channels_last")
            grads = K.depthwise_conv2d_backward(g, x, w, 2, "same", data_format="channels_last")
            results.append((out, *grads))
    finally:
        numba.set_num_threads(previous)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)  # bitwise: the work split does not change the summation order


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"x": np.ones((1, 2, 5, 5), np.int64)}, TypeError, r"`x` must have a real floating dtype"),
        ({"x": np.ones((2, 5, 5))}, ValueError, r"`x` must be a 4D array"),
        ({"weight": np.ones((3, 1, 3, 3))}, ValueError, r"`weight` must have shape \(C \* depth_multiplier"),
        ({"bias": np.ones(5)}, ValueError, r"`bias` must have shape \(out_channels,\)"),
        ({"stride": 0}, ValueError, r"`stride` entries must be positive"),
        ({"padding": "full"}, ValueError, r"`padding` must be an int, a tuple, or one of"),
        ({"weight": np.ones((2, 1, 9, 9))}, ValueError, r"`kernel_size` \(dilated span 9"),
        ({"data_format": "NCHW"}, ValueError, r"`data_format` must be one of"),
    ],
)
def test_errors_match_the_reference(kwargs, error, match):
    args = {"x": np.ones((1, 2, 5, 5)), "weight": np.ones((2, 1, 3, 3)), "bias": None, "stride": 1,
            "padding": 0, "dilation": 1, "data_format": "channels_first"} | kwargs
    data_format = args.pop("data_format")
    for op in (F.depthwise_conv2d, K.depthwise_conv2d):
        with pytest.raises(error, match=match):
            op(*args.values(), data_format=data_format)


def test_backward_checks_grad_out_shape():
    x, w = np.ones((1, 2, 5, 5)), np.ones((2, 1, 3, 3))
    with pytest.raises(ValueError, match=r"`grad_out` must have the forward output's shape \(1, 2, 3, 3\)"):
        K.depthwise_conv2d_backward(np.ones((1, 2, 4, 4)), x, w)


@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
@pytest.mark.parametrize(("k", "padding", "dilation"), [(1, 2, 1), (3, ((3, 0), (0, 4)), 1), (2, (3, 1), 2)])
def test_padding_wider_than_the_kernel(data_format, k, padding, dilation, rng):
    """Stride-1 input gradients run the forward kernel with before-padding d*(k-1) - pad, negative here."""
    shape = (2, 5, 7, 6) if data_format == "channels_first" else (2, 7, 6, 5)
    x = rng.standard_normal(shape)
    w = rng.standard_normal((5, 1, k, k))
    expected = F.depthwise_conv2d(x, w, None, 1, padding, dilation, data_format=data_format)
    np.testing.assert_allclose(K.depthwise_conv2d(x, w, None, 1, padding, dilation, data_format=data_format), expected, **TOL64)
    g = rng.standard_normal(expected.shape)
    for e, r in zip(F.depthwise_conv2d_backward(g, x, w, 1, padding, dilation, data_format=data_format),
                    K.depthwise_conv2d_backward(g, x, w, 1, padding, dilation, data_format=data_format)):
        np.testing.assert_allclose(r, e, **TOL64)


@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("dilation", [1, 2])
@pytest.mark.parametrize("padding", [0, 1, ((2, 0), (3, 1))])
def test_backward_3x3_paths_every_width(stride, dilation, padding, rng):
    """Stride-1 input gradients (the forward kernel's four-pixel passes plus a remainder of 0-3), the tap-by-tap
    scatter of strided input gradients and the weight gradient, over widths that leave every remainder and
    windows that reach both borders."""
    for width in (4, 5, 6, 7, 8, 9, 10, 13):
        x = rng.standard_normal((2, 9, width + 2, 6))  # channels_last (N, H, W, C)
        _assert_backward_matches(rng, x, rng.standard_normal((6, 1, 3, 3)), stride, padding, dilation)


@pytest.mark.parametrize("padding", [0, 1, 2, ((0, 2), (1, 0)), ((3, 0), (1, 1))])
def test_forward_3x3_stride1_row_pairs_every_height_and_width(padding, rng):
    """The 3x3 stride-1 forward computes two output rows per task when all four input rows are valid: odd and
    even output heights (a lone last row), pairs that reach a padded border (row by row), widths that leave
    every remainder of the four-pixel passes, and channel counts that are not a multiple of the vector width."""
    for height in (1, 2, 3, 4, 5, 8):
        for width in (1, 3, 4, 6, 7, 9, 12):
            for c in (1, 5, 17):
                x = rng.standard_normal((2, height + 2, width + 2, c))  # channels_last (N, H, W, C)
                w = rng.standard_normal((c, 1, 3, 3))
                b = rng.standard_normal(c)
                expected = F.depthwise_conv2d(x, w, b, 1, padding, 1, data_format="channels_last")
                got = K.depthwise_conv2d(x, w, b, 1, padding, 1, data_format="channels_last")
                np.testing.assert_allclose(got, expected, **TOL64)
    x3 = rng.standard_normal((1, 3, 6, 7, 4))  # 3-D: pairs of rows within each output depth slice
    w3 = rng.standard_normal((4, 1, 1, 3, 3))
    np.testing.assert_allclose(K.depthwise_conv3d(x3, w3, None, 1, (0, 1, 1), 1, data_format="channels_last"),
                               F.depthwise_conv3d(x3, w3, None, 1, (0, 1, 1), 1, data_format="channels_last"), **TOL64)


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("stride", [1, 2])
def test_one_pass_backward_is_bitwise_the_two_separate_kernels(dims, stride, rng):
    """``gradients_cl`` computes both gradients in one kernel (``_cl.backward_both``); its chunks, rows and sums
    are those of the two separate kernels, so the results must be identical bit for bit: for row counts below
    and above the 16 weight-gradient slots (chunks with no input-gradient task), every padding, kernel sizes
    that take and skip the 3x3 fast paths, float32, float64 and bfloat16 bits."""
    from dsconv.kernels import _bf16, _cl, _memory
    from dsconv.kernels.depthwise import cl_weight, gradients_cl, input_gradient_cl, make_problem

    cases = 0
    for batch, h, c, k, pad, dil in [(1, 1, 3, 3, 1, 1), (1, 5, 16, 3, 1, 1), (2, 13, 5, 3, 0, 1), (3, 9, 8, 5, 2, 1),
                                     (2, 11, 7, 3, 2, 2), (1, 20, 4, 2, 1, 1), (1, 40, 2, 1, 0, 1)]:
        w_sp = (6, h) if dims == 2 else (3, 4, h)
        kernel = (k,) * dims
        out = tuple((n + 2 * pad - dil * (k - 1) - 1) // stride + 1 for n in w_sp)
        if min(out) <= 0:
            continue
        p = make_problem((batch, c, *w_sp), kernel, 1, (stride,) * dims, ((pad, pad),) * dims, (dil,) * dims, out)
        lift = (1,) * (3 - dims)
        for dtype in (np.float32, np.float64, "bf16"):
            compute = np.float32 if dtype == "bf16" else dtype
            x = rng.standard_normal((batch, *lift, *w_sp[:-1], w_sp[-1] * c)).astype(np.float32)
            g = rng.standard_normal((batch, *lift, *out[:-1], out[-1] * c)).astype(np.float32)
            if dtype == "bf16":
                x, g = _bf16.to_bits(x), _bf16.to_bits(g)
            else:
                x, g = x.astype(dtype), g.astype(dtype)
            w_cl = cl_weight(rng.standard_normal((c, 1, *kernel)), p, compute)
            gx = _memory.empty(x.shape, compute)
            input_gradient_cl(g, w_cl, gx, p)
            partial = _memory.empty((_cl.partial_slots(p.batch * p.out_size[0] * p.out_size[1]), *w_cl.shape), compute)
            _cl.backward_weight(g, x, partial, c, p.stride, p.pads, p.dilation)
            got_x, got_w = gradients_cl(g, x, w_cl, p)
            np.testing.assert_array_equal(got_x, gx)
            np.testing.assert_array_equal(got_w, functools.reduce(np.add, partial))  # slot after slot
            only_x, none_w = gradients_cl(g, x, w_cl, p, need_w=False)
            none_x, only_w = gradients_cl(g, x, w_cl, p, need_x=False)
            assert none_w is None and none_x is None
            np.testing.assert_array_equal(only_x, gx)
            np.testing.assert_array_equal(only_w, got_w)
            cases += 1
    assert cases >= 15


@pytest.mark.parametrize("padding", [0, 1, ((0, 1), (0, 1)), ((1, 0), (1, 0))])
def test_stride2_width3_input_gradient_gather(padding, rng):
    """Width-3, stride-2 input gradients are gathered (each pixel written once from one or two output rows);
    rows and columns that no output saw (zeros), both before-pad parities, odd and even sizes; and 3-D
    windows where more than two output rows see an input row, which keep the tap-by-tap scatter."""
    for height in (5, 6, 7, 8):
        for width in (3, 4, 5, 6, 7, 10):
            x = rng.standard_normal((2, height, width, 5))  # channels_last (N, H, W, C)
            _assert_backward_matches(rng, x, rng.standard_normal((5, 1, 3, 3)), 2, padding, 1)
    _assert_backward_matches(rng, rng.standard_normal((1, 5, 6, 7, 3)), rng.standard_normal((3, 1, 3, 3, 3)), 2, 1, 1)


@pytest.mark.parametrize("padding", [0, 1, 2, ((2, 0), (1, 1)), ((0, 3), (0, 0))])
def test_weight_gradient_row_pairs(padding, rng):
    """The 3x3 stride-1 weight gradient takes two output rows per pass where both lie in one chunk of rows and
    all four input rows exist: tall inputs (several rows per chunk, odd and even counts), pairs at the padded
    borders (one row at a time), widths with every remainder of the four-pixel passes, odd channel counts, and
    3-D windows (no pairs)."""
    for batch, height in ((1, 40), (2, 21), (3, 6)):
        for width in (3, 4, 6, 7, 9, 14):
            for c in (1, 5, 17):
                x = rng.standard_normal((batch, height, width, c))  # channels_last (N, H, W, C)
                _assert_backward_matches(rng, x, rng.standard_normal((c, 1, 3, 3)), 1, padding, 1)
    _assert_backward_matches(rng, rng.standard_normal((1, 4, 12, 7, 3)), rng.standard_normal((3, 1, 3, 3, 3)), 1, 1, 1)


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("pad", [0, 1, 2, 3])
def test_weight_gradient_passes_cover_each_pixel_once(stride, pad):
    """The four-pixel passes of the 3x3 weight gradient (``_cl._quad_range``, ``_cl._passes``) take every pixel of
    their range exactly once (the last pass's first ``skip`` pixels belong to the pass before it), plain passes
    read only columns inside the row, edge passes at most one column of padding on each side, and the pixels
    left to the checked loop are exactly those outside the range."""
    for width in range(1, 30):
        wo = (width + 2 * pad - 3) // stride + 1
        if wo < 1:
            continue
        lo, hi, a, b = _cl._quad_range(wo, width, stride, pad)
        if b == a:
            continue
        assert b - a >= 4 and (lo, hi) == _cl.interior_range(wo, width, 3, stride, 1, pad)
        p0, n, left, right, last, skip = _cl._passes(a, b, stride, pad, width)
        done = np.zeros(wo, int)
        for q in range(n):
            ow = p0 + 4 * q
            assert 0 <= ow * stride - pad and (ow + 3) * stride - pad + 2 < width
            done[ow:ow + 4] += 1
        edges = ([(a, 0)] if left else []) + ([(last, skip)] if right else [])
        for ow, first in edges:
            assert -1 <= ow * stride - pad and (ow + 3) * stride - pad + 2 <= width
            done[ow + first:ow + 4] += 1
        np.testing.assert_array_equal(done, [1 if a <= i < b else 0 for i in range(wo)])
        outside = [i for i in range(wo) if i * stride - pad < -1 or i * stride - pad + 2 > width]
        assert outside == [i for i in range(wo) if not a <= i < b]


@pytest.mark.parametrize("stride", [1, 2])
def test_weight_gradient_with_infinities_at_the_row_edges(stride, rng):
    """An infinity in an input's first or last column: the edge passes read the padding beside it as zero and
    take the pixels an earlier pass did as zero gradients. Every weight-gradient entry that the reference
    finds finite is finite and equal here; the others are not finite here either."""
    for width in (7, 14, 16):
        x = rng.standard_normal((2, 9, width, 5)).astype(np.float32)
        x[0, 3, 0, 1] = np.inf
        x[1, 5, width - 1, 2] = -np.inf
        x[1, 2, width - 2, 3] = np.inf
        x[0, 4, 3, 4] = np.inf  # read by the pixel that width 7's last pass takes as done (stride 1)
        w = rng.standard_normal((5, 1, 3, 3)).astype(np.float32)
        out = F.depthwise_conv2d(x, w, None, stride, 1, 1, data_format="channels_last")
        g = rng.standard_normal(out.shape).astype(np.float32)
        with np.errstate(invalid="ignore", over="ignore"):
            expected = F.depthwise_conv2d_backward(g, x, w, stride, 1, 1, data_format="channels_last")[1]
        got = K.depthwise_conv2d_backward(g, x, w, stride, 1, 1, data_format="channels_last")[1]
        finite = np.isfinite(expected)
        assert not finite.all()
        np.testing.assert_array_equal(np.isfinite(got), finite)
        np.testing.assert_allclose(got[finite], expected[finite], **TOL32)
