"""The torch bridge: depthwise_conv_torch and supports(), against PyTorch and through the nn layers."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as TF

import dsconv.nn as dnn
from dsconv.kernels import DepthwiseConvFunction, depthwise_conv_torch, supports
from dsconv.nn.backend import use_backend

CONV = {1: TF.conv1d, 2: TF.conv2d, 3: TF.conv3d}
FORMATS = {4: torch.channels_last, 5: torch.channels_last_3d}


def _torch_reference(x, w, b, stride, pads, dilation):
    flat = [p for pair in reversed(pads) for p in pair]  # F.pad wants the last dimension first
    return CONV[x.dim() - 2](TF.pad(x, flat), w, b, stride, 0, dilation, x.shape[1])


CASES = [
    # (n, channels, multiplier, kernel, stride, pads, dilation, channels_last)
    (1, 3, 1, 3, 2, ((2, 0),), 1, False),
    (2, 4, 1, 3, 1, ((1, 1), (1, 1)), 1, False),
    (2, 4, 1, 3, 1, ((1, 1), (1, 1)), 1, True),
    (2, 3, 2, 3, 2, ((0, 1), (1, 0)), 1, True),
    (2, 2, 1, 2, (1, 2), ((0, 0), (2, 1)), 2, False),
    (3, 2, 1, (2, 3, 2), 1, ((1, 0), (1, 1), (0, 1)), 1, True),
]


def _inputs(case, dtype, spatial=(7, 6, 5), batch=2):
    n, c, m, k, _, _, _, channels_last = case
    torch.manual_seed(0)
    x = torch.randn(batch, c, *spatial[:n], dtype=dtype)
    if channels_last:
        x = x.contiguous(memory_format=FORMATS[x.dim()])
    kernel = k if isinstance(k, tuple) else (k,) * n
    w = torch.randn(c * m, 1, *kernel, dtype=dtype)
    b = torch.randn(c * m, dtype=dtype)
    return x.requires_grad_(), w.requires_grad_(), b.requires_grad_()


@pytest.mark.parametrize("case", CASES)
def test_forward_backward_match_pytorch_float32(case):
    x, w, b = _inputs(case, torch.float32)
    stride, pads, dilation, channels_last = case[4:]
    ok, reason = supports(x, w, stride, pads, dilation)
    assert ok and reason == ""
    y = depthwise_conv_torch(x, w, b, stride, pads, dilation)
    x2, w2, b2 = (t.detach().clone().requires_grad_() for t in (x, w, b))
    y2 = _torch_reference(x2, w2, b2, stride, pads, dilation)
    torch.testing.assert_close(y, y2, rtol=1e-5, atol=1e-5)
    if channels_last:
        assert y.is_contiguous(memory_format=FORMATS[y.dim()])
    else:
        assert y.is_contiguous()
    g = torch.randn_like(y2)
    y.backward(g)
    y2.backward(g)
    for a, e in ((x.grad, x2.grad), (w.grad, w2.grad), (b.grad, b2.grad)):
        torch.testing.assert_close(a, e, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("case", [CASES[0], CASES[3], CASES[5]])
def test_gradcheck_float64_runs_on_the_kernels(case):
    """float64 runs natively in the kernels, so gradcheck checks the kernels themselves."""
    x, w, b = _inputs(case, torch.float64, spatial=(5, 4, 3), batch=1)  # small: gradcheck perturbs every entry
    stride, pads, dilation = case[4:7]
    assert torch.autograd.gradcheck(lambda a, c, d: depthwise_conv_torch(a, c, d, stride, pads, dilation), (x, w, b))


def _bf16_ulps(got: torch.Tensor, expected: torch.Tensor) -> torch.Tensor:
    """``|got - expected|`` in units of bfloat16's spacing at ``expected`` (8 significant bits)."""
    spacing = torch.ldexp(torch.ones_like(expected), torch.frexp(expected.abs().clamp_min(1e-30)).exponent - 8)
    return (got.float() - expected).abs() / spacing


@pytest.mark.parametrize("case", CASES)
def test_bfloat16_forward_rounds_the_float32_result_once_and_gradients_match(case):
    """bfloat16 runs on the kernels (bit patterns in, float32 accumulation, one rounding out): each output is
    the float32 convolution of the same bfloat16 values rounded to bfloat16 (within one unit, for sums taken in
    another order), and the gradients are float32 gradients rounded once."""
    x, w, b = _inputs(case, torch.bfloat16)
    stride, pads, dilation, channels_last = case[4:]
    assert supports(x, w, stride, pads, dilation) == (True, "")
    y = depthwise_conv_torch(x, w, b, stride, pads, dilation)
    assert y.dtype == torch.bfloat16
    if channels_last:
        assert y.is_contiguous(memory_format=FORMATS[y.dim()])
    x2, w2, b2 = (t.detach().float().requires_grad_() for t in (x, w, b))
    y2 = _torch_reference(x2, w2, b2, stride, pads, dilation)
    assert _bf16_ulps(y.detach(), y2.detach()).max() <= 1
    assert (y.detach() == y2.detach().to(torch.bfloat16)).float().mean() > 0.99
    g = torch.randn(y2.shape).to(torch.bfloat16)
    y.backward(g)
    y2.backward(g.float())
    for a, e in ((x.grad, x2.grad), (w.grad, w2.grad)):
        assert a.dtype == torch.bfloat16
        torch.testing.assert_close(a.float(), e, rtol=2**-7, atol=1e-3 * float(e.abs().max()))


def test_only_requested_gradients_and_no_bias():
    x = torch.randn(1, 3, 5, 5)
    w = torch.randn(3, 1, 3, 3, requires_grad=True)
    y = depthwise_conv_torch(x, w, None, 1, ((1, 1), (1, 1)), 1)
    y.sum().backward()
    assert x.grad is None and w.grad is not None
    torch.testing.assert_close(w.grad, torch.ops.aten.convolution_backward(
        torch.ones_like(y), x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 3, [False, True, False])[1])


@pytest.mark.parametrize(
    ("x", "w", "reason"),
    [
        (torch.randn(1, 2, 5, 5, dtype=torch.float16), torch.randn(2, 1, 3, 3, dtype=torch.float16),
         "float32, float64 and bfloat16"),
        (torch.randn(1, 2, 5, 5, dtype=torch.bfloat16), torch.randn(2, 1, 3, 3), "matching dtypes"),
        (torch.randn(1, 2, 5, 5), torch.randn(2, 1, 3, 3, dtype=torch.float64), "matching dtypes"),
        (torch.randn(1, 2, 5, 5), torch.randn(4, 2, 3, 3), "must be a depthwise weight"),
        (torch.randn(1, 2, 5, 5), torch.randn(3, 1, 3, 3), "must be a depthwise weight"),
        (torch.randn(2, 5), torch.randn(2, 1, 3), "1 to 3 spatial dimensions"),
        (torch.randn(1, 2, 2, 2), torch.randn(2, 1, 3, 3), "larger than the padded input"),
    ],
)
def test_supports_says_why_not_and_the_op_raises(x, w, reason):
    pads = ((0, 0),) * max(x.dim() - 2, 1)
    ok, why = supports(x, w, 1, pads, 1)
    assert not ok and reason in why
    with pytest.raises(ValueError, match=r"`x`/`weight` cannot run on the dsconv kernels"):
        depthwise_conv_torch(x, w, None, 1, pads, 1)


def test_bad_pads_and_bias_are_rejected():
    x, w = torch.randn(1, 2, 5, 5), torch.randn(2, 1, 3, 3)
    ok, why = supports(x, w, 1, ((1, 1),), 1)
    assert not ok and "`pads` must be 2 non-negative (before, after) pairs" in why
    with pytest.raises(ValueError, match=r"`bias` must be a \(2,\) tensor"):
        depthwise_conv_torch(x, w, torch.randn(3), 1, ((1, 1), (1, 1)), 1)


def test_function_is_exported():
    assert issubclass(DepthwiseConvFunction, torch.autograd.Function)


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize(("stride", "padding", "multiplier"), [(1, "same", 1), (2, 1, 2), (1, "valid", 1)])
def test_nn_layer_dsconv_backend_equals_torch_backend(channels_last, stride, padding, multiplier):
    torch.manual_seed(0)
    layer = dnn.DepthwiseConv2d(4, 3, stride=stride, padding=padding, depth_multiplier=multiplier)
    x = torch.randn(2, 4, 9, 8)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    outputs, grads = [], []
    for backend in ("torch", "dsconv"):
        layer.zero_grad()
        xi = x.detach().clone().requires_grad_()
        with use_backend(backend):
            y = layer(xi)
        y.backward(torch.ones_like(y))
        outputs.append(y)
        grads.append((xi.grad, layer.weight.grad.clone(), layer.bias.grad.clone()))
    torch.testing.assert_close(outputs[0], outputs[1], rtol=1e-5, atol=1e-5)
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_nn_separable_layer_with_backend_argument():
    torch.manual_seed(0)
    ref = dnn.SeparableConv2d(3, 5, 3, padding="same", backend="torch")
    fast = dnn.SeparableConv2d(3, 5, 3, padding="same", backend="dsconv")
    fast.load_state_dict(ref.state_dict())
    x = torch.randn(1, 3, 7, 7)
    torch.testing.assert_close(fast(x), ref(x), rtol=1e-5, atol=1e-5)
