"""dsconv.nn.functional against the NumPy reference (dsconv.functional), forward and backward."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import dsconv.functional as ref
from dsconv._validation import to_tuple
from dsconv.nn import functional as dF

NP_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}
SPATIAL = {1: (9,), 2: (7, 8), 3: (5, 6, 5)}
PADDINGS = {
    1: [0, 2, "valid", "same", "causal", ((1, 0),)],
    2: [0, 1, (2, 1), "same", ((0, 2), (1, 0))],
    3: [1, "same", "valid", ((1, 0), (0, 1), (2, 0))],
}
GEOMETRIES = [(1, 1, 1), (2, 1, 2), (1, 2, 1), (2, 2, 3)]  # (stride, dilation, depth_multiplier)
CASES = [
    (n, padding, mode, geo)
    for n in (1, 2, 3)
    for padding, mode, geo in itertools.product(PADDINGS[n], NP_MODES, GEOMETRIES)
    if n < 3 or geo[1] == 1 or mode == "zeros"  # keep 3D small
]


def _ref_depthwise(x, w, b, stride, padding, dilation, padding_mode, n):
    """The reference op, with non-zero padding modes applied by np.pad (the reference pads zeros)."""
    fn = getattr(ref, f"depthwise_conv{n}d")
    if padding_mode == "zeros":
        return fn(x, w, b, stride, padding, dilation)
    pads = ref.resolve_padding(padding, x.shape[2:], w.shape[2:], to_tuple(stride, n, "s"), to_tuple(dilation, n, "d"))
    x_padded = np.pad(x, ((0, 0), (0, 0), *pads), mode=NP_MODES[padding_mode])
    return fn(x_padded, w, b, stride, 0, dilation)


def _data(n, channels, multiplier, rng, k=3):
    x = rng.standard_normal((2, channels, *SPATIAL[n]))
    w = rng.standard_normal((channels * multiplier, 1, *(k,) * n))
    b = rng.standard_normal(channels * multiplier)
    return x, w, b


@pytest.mark.parametrize("n, padding, padding_mode, geometry", CASES)
def test_depthwise_matches_reference(n, padding, padding_mode, geometry, rng):
    stride, dilation, m = geometry
    x, w, b = _data(n, 3, m, rng)
    expected = _ref_depthwise(x, w, b, stride, padding, dilation, padding_mode, n)
    op = getattr(dF, f"depthwise_conv{n}d")
    out = op(torch.from_numpy(x).float(), torch.from_numpy(w).float(), torch.from_numpy(b).float(),
             stride, padding, dilation, padding_mode=padding_mode)
    assert out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("padding, stride, dilation, m", [("same", 2, 1, 2), (1, 1, 2, 1), ("valid", 2, 1, 1)])
def test_depthwise_backward_matches_reference(n, padding, stride, dilation, m, rng):
    x, w, b = _data(n, 2, m, rng)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out = getattr(dF, f"depthwise_conv{n}d")(xt, wt, bt, stride, padding, dilation)
    grad_out = rng.standard_normal(tuple(out.shape))
    out.backward(torch.from_numpy(grad_out))
    gx, gw, gb = getattr(ref, f"depthwise_conv{n}d_backward")(grad_out, x, w, stride, padding, dilation)
    for got, want in ((xt.grad, gx), (wt.grad, gw), (bt.grad, gb)):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_pointwise_matches_reference_forward_and_backward(n, rng):
    x = rng.standard_normal((2, 3, *SPATIAL[n]))
    w = rng.standard_normal((5, 3, *(1,) * n))
    b = rng.standard_normal(5)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out = getattr(dF, f"pointwise_conv{n}d")(xt, wt, bt)
    np.testing.assert_allclose(out.detach().numpy(), getattr(ref, f"pointwise_conv{n}d")(x, w, b), rtol=1e-10, atol=1e-10)
    grad_out = rng.standard_normal(tuple(out.shape))
    out.backward(torch.from_numpy(grad_out))
    gx, gw, gb = getattr(ref, f"pointwise_conv{n}d_backward")(grad_out, x, w)
    for got, want in ((xt.grad, gx), (wt.grad, gw), (bt.grad, gb)):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("m", [1, 2])
def test_separable_dw_pw_matches_reference(n, m, rng):
    x, dw, db = _data(n, 3, m, rng)
    pw = rng.standard_normal((4, 3 * m, *(1,) * n))
    pb = rng.standard_normal(4)
    tensors = [torch.tensor(a, requires_grad=True) for a in (x, dw, pw, db, pb)]
    out = getattr(dF, f"separable_conv{n}d")(*tensors, 2, "same", 1)
    expected = getattr(ref, f"separable_conv{n}d")(x, dw, pw, db, pb, 2, "same", 1)
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-10, atol=1e-10)
    grad_out = rng.standard_normal(tuple(out.shape))
    out.backward(torch.from_numpy(grad_out))
    gx, gdw, gdb, gpw, gpb = getattr(ref, f"separable_conv{n}d_backward")(grad_out, x, dw, pw, db, 2, "same", 1)
    for got, want in zip((t.grad for t in tensors), (gx, gdw, gpw, gdb, gpb)):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("n", [1, 2])
def test_separable_pw_dw_is_depthwise_after_pointwise(n, rng):
    m, c_mid = 2, 3
    x = rng.standard_normal((2, 4, *SPATIAL[n]))
    pw = rng.standard_normal((c_mid, 4, *(1,) * n))
    dw = rng.standard_normal((c_mid * m, 1, *(3,) * n))
    out = getattr(dF, f"separable_conv{n}d")(
        *(torch.from_numpy(a) for a in (x, dw, pw)), padding=1, padding_mode="replicate", order="pw_dw"
    )
    mid = getattr(ref, f"pointwise_conv{n}d")(x, pw)
    expected = _ref_depthwise(mid, dw, None, 1, 1, 1, "replicate", n)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-10)


def test_same_padding_puts_the_extra_pixel_after():
    # Even kernel, stride 1: total padding 1 goes after (TensorFlow's rule), so output[0] sees x[0], x[1].
    x = torch.arange(5.0).reshape(1, 1, 5)
    out = dF.depthwise_conv1d(x, torch.ones(1, 1, 2), padding="same")
    torch.testing.assert_close(out, torch.tensor([[[1.0, 3.0, 5.0, 7.0, 4.0]]]))


def test_causal_output_sees_only_the_past():
    x = torch.zeros(1, 1, 8)
    x[..., 5] = 1.0
    out = dF.depthwise_conv1d(x, torch.ones(1, 1, 3), padding="causal", dilation=2)
    assert out.shape == x.shape
    assert torch.all(out[..., :5] == 0) and out[..., 5] == 1


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"x": np.zeros((1, 2, 5))}, TypeError, r"`x` must be a torch.Tensor. Received x of type ndarray"),
        ({"x": torch.zeros(1, 2, 5, 5)}, ValueError, r"`x` must have 3 dimensions. Received x.shape=\(1, 2, 5, 5\)"),
        ({"weight": torch.zeros(3, 1, 3)}, ValueError, r"`weight` must have shape \(C \* depth_multiplier, 1, \*kernel_size\) with C=2"),
        ({"weight": torch.zeros(2, 2, 3)}, ValueError, r"Received weight.shape=\(2, 2, 3\)"),
        ({"bias": torch.zeros(3)}, ValueError, r"`bias` must have shape \(2,\). Received bias.shape=\(3,\)"),
        ({"stride": 0}, ValueError, r"`stride` entries must be positive \(>= 1\). Received stride=0"),
        ({"dilation": (1, 1)}, ValueError, r"`dilation` must be an int or a tuple of 1 ints. Received dilation=\(1, 1\)"),
        ({"padding": "full"}, ValueError, r"`padding` must be an int, a tuple, or one of 'valid', 'same', 'causal'. Received padding='full'"),
        ({"padding": -1}, ValueError, r"`padding` entries must be non-negative"),
        ({"padding_mode": "mirror"}, ValueError, r"`padding_mode` must be one of 'zeros', 'reflect', 'replicate', 'circular'. Received padding_mode='mirror'"),
        ({"backend": "cuda"}, ValueError, r"`backend` must be one of 'torch', 'dsconv'. Received backend='cuda'"),
        ({"weight": torch.zeros(2, 1, 9)}, ValueError, r"`kernel_size` \(dilated span 9 .*\) must not exceed the padded input size 5"),
    ],
)
def test_depthwise_errors(kwargs, error, match):
    args = {"x": torch.zeros(1, 2, 5), "weight": torch.zeros(2, 1, 3), "bias": None} | kwargs
    with pytest.raises(error, match=match):
        dF.depthwise_conv1d(**args)


def test_causal_is_rejected_in_2d():
    with pytest.raises(ValueError, match=r"`padding`='causal' is only defined for 1D convolutions"):
        dF.depthwise_conv2d(torch.zeros(1, 1, 5, 5), torch.zeros(1, 1, 3, 3), padding="causal")


def test_pointwise_and_separable_errors():
    x = torch.zeros(1, 2, 4, 4)
    with pytest.raises(ValueError, match=r"`weight` must have shape \(C_out, 2, 1, 1\) .* Received weight.shape=\(3, 2, 3, 3\)"):
        dF.pointwise_conv2d(x, torch.zeros(3, 2, 3, 3))
    with pytest.raises(ValueError, match=r"`order` must be one of 'dw_pw', 'pw_dw'. Received order='dwpw'"):
        dF.separable_conv2d(x, torch.zeros(2, 1, 3, 3), torch.zeros(3, 2, 1, 1), order="dwpw")
    with pytest.raises(ValueError, match=r"`pw_weight` must have shape \(C_out, 4, 1, 1\)"):
        dF.separable_conv2d(x, torch.zeros(4, 1, 3, 3), torch.zeros(3, 2, 1, 1))
    with pytest.raises(ValueError, match=r"`dw_bias` must have shape \(4,\)"):
        dF.separable_conv2d(x, torch.zeros(4, 1, 3, 3), torch.zeros(3, 4, 1, 1), torch.zeros(2))


@st.composite
def _geometry(draw):
    n = draw(st.integers(1, 3))
    k = draw(st.lists(st.integers(1, 4), min_size=n, max_size=n))
    dilation = draw(st.lists(st.integers(1, 2), min_size=n, max_size=n))
    stride = draw(st.lists(st.integers(1, 3), min_size=n, max_size=n))
    pads = draw(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=n, max_size=n))
    padding = draw(st.sampled_from(["same", "valid", tuple(pads)]))
    size = [draw(st.integers(d * (kk - 1) + 1, 8)) for kk, d in zip(k, dilation)]
    return n, k, stride, dilation, padding, size, draw(st.integers(1, 3)), draw(st.sampled_from(list(NP_MODES)))


@settings(max_examples=25, deadline=None)
@given(_geometry())
def test_depthwise_random_geometry_matches_reference(geometry):
    n, k, stride, dilation, padding, size, m, padding_mode = geometry
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, *size))
    w = rng.standard_normal((2 * m, 1, *k))
    pads = ref.resolve_padding(padding, size, k, stride, dilation)
    # torch's limits: reflect needs pad < size, circular pad <= size (NumPy would wrap again).
    assume(padding_mode != "reflect" or all(max(p) < s for p, s in zip(pads, size)))
    assume(padding_mode != "circular" or all(max(p) <= s for p, s in zip(pads, size)))
    expected = _ref_depthwise(x, w, None, stride, padding, dilation, padding_mode, n)
    out = getattr(dF, f"depthwise_conv{n}d")(torch.from_numpy(x), torch.from_numpy(w), None, tuple(stride), padding,
                                             tuple(dilation), padding_mode=padding_mode)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_channels_last_matches_reference(n, rng):
    x = rng.standard_normal((2, *SPATIAL[n], 3))  # (N, *spatial, C)
    dw = rng.standard_normal((6, 1, *(3,) * n))
    pw = rng.standard_normal((4, 6, *(1,) * n))
    t = torch.from_numpy
    cl = {"data_format": "channels_last"}
    out = getattr(dF, f"depthwise_conv{n}d")(t(x), t(dw), None, 2, "same", **cl)
    np.testing.assert_allclose(out.numpy(), getattr(ref, f"depthwise_conv{n}d")(x, dw, None, 2, "same", **cl), atol=1e-12)
    out = getattr(dF, f"pointwise_conv{n}d")(t(x), t(pw[:, :3]), **cl)
    np.testing.assert_allclose(out.numpy(), getattr(ref, f"pointwise_conv{n}d")(x, pw[:, :3], **cl), atol=1e-12)
    out = getattr(dF, f"separable_conv{n}d")(t(x), t(dw), t(pw), padding=1, **cl)
    expected = getattr(ref, f"separable_conv{n}d")(x, dw, pw, padding=1, **cl)
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-12)


def test_data_format_error():
    with pytest.raises(ValueError, match=r"`data_format` must be one of 'channels_first', 'channels_last'. Received data_format='NHWC'"):
        dF.pointwise_conv2d(torch.zeros(1, 2, 3, 3), torch.zeros(2, 2, 1, 1), data_format="NHWC")
