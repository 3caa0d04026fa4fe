"""Backend selection and depthwise dispatch (the "dsconv" kernels replaced by a recording fake).

The real "dsconv" path is tested end to end with the kernels (tests/test_kernels_*); here only the
selection logic: what is called, with which arguments, and when the torch op is used instead.
"""

from __future__ import annotations

import sys
import types

import pytest
import torch

from dsconv import nn as dnn
from dsconv.nn import backend as nb
from dsconv.nn import functional as dF


@pytest.fixture(autouse=True)
def _restore_backend():
    yield
    nb.set_backend("torch")


@pytest.fixture
def fake_kernels(monkeypatch):
    """A stand-in ``dsconv.kernels`` that records calls; ``supported`` toggles its answer."""
    module = types.ModuleType("dsconv.kernels")
    module.calls = []
    module.supported = (True, "")

    def supports(x, weight, stride, pads, dilation):
        return module.supported

    def depthwise_conv_torch(x, weight, bias, stride, pads, dilation):
        module.calls.append({"x": x, "weight": weight, "bias": bias, "stride": stride, "pads": pads, "dilation": dilation})
        return torch.full((1,), 42.0)

    module.supports = supports
    module.depthwise_conv_torch = depthwise_conv_torch
    monkeypatch.setitem(sys.modules, "dsconv.kernels", module)
    return module


def test_default_set_and_context_manager():
    assert nb.get_backend() == "torch"
    nb.set_backend("dsconv")
    assert nb.get_backend() == "dsconv"
    nb.set_backend("torch")
    with pytest.raises(RuntimeError, match="boom"), nb.use_backend("dsconv") as name:
        assert name == "dsconv" and nb.get_backend() == "dsconv"
        raise RuntimeError("boom")
    assert nb.get_backend() == "torch"  # restored on error too
    assert dnn.get_backend is nb.get_backend and dnn.use_backend is nb.use_backend


def test_backend_name_errors():
    with pytest.raises(ValueError, match=r"`backend` must be one of 'torch', 'dsconv'. Received backend='numba'"):
        nb.set_backend("numba")
    with pytest.raises(ValueError, match=r"`backend` must be one of 'torch', 'dsconv'. Received backend=None"):
        nb.set_backend(None)
    with pytest.raises(ValueError, match=r"Received backend='cpu'"), nb.use_backend("cpu"):
        pass


def test_dsconv_backend_calls_the_kernel_with_resolved_geometry(fake_kernels):
    layer = dnn.DepthwiseConv2d(3, 3, stride=2, padding="same", dilation=(1, 2), depth_multiplier=2)
    x = torch.randn(1, 3, 8, 9)
    with nb.use_backend("dsconv"):
        out = layer(x)
    assert out.item() == 42.0
    (call,) = fake_kernels.calls
    assert call["x"] is x and call["weight"] is layer.weight and call["bias"] is layer.bias
    # "same" under stride 2: height 8 -> total 1 (0, 1); width 9, span 5 -> total 4 (2, 2).
    assert call["pads"] == ((0, 1), (2, 2))
    assert call["stride"] == (2, 2) and call["dilation"] == (1, 2)


def test_layer_argument_overrides_the_default(fake_kernels):
    x = torch.randn(1, 2, 6)
    dnn.DepthwiseConv1d(2, 3, backend="dsconv")(x)
    assert len(fake_kernels.calls) == 1
    with nb.use_backend("dsconv"):
        out = dnn.DepthwiseConv1d(2, 3, backend="torch")(x)
    assert len(fake_kernels.calls) == 1 and out.shape == (1, 2, 4)


def test_non_zero_padding_mode_is_applied_before_the_kernel(fake_kernels):
    layer = dnn.DepthwiseConv1d(2, 3, padding=2, padding_mode="reflect", backend="dsconv")
    layer(torch.randn(1, 2, 6))
    (call,) = fake_kernels.calls
    assert call["x"].shape == (1, 2, 10) and call["pads"] == ((0, 0),)


def test_unsupported_calls_fall_back_to_torch(fake_kernels):
    fake_kernels.supported = (False, "float16 is not supported")
    x, weight = torch.randn(1, 2, 7, 7), torch.randn(4, 1, 3, 3)
    expected = dF.depthwise_conv2d(x, weight, padding=1, backend="torch")
    torch.testing.assert_close(dF.depthwise_conv2d(x, weight, padding=1, backend="dsconv"), expected)
    assert fake_kernels.calls == []
    reason = nb.depthwise_dispatch_reason(x, weight, (1, 1), ((1, 1), (1, 1)), (1, 1), "dsconv")
    assert reason == ("torch", "dsconv.kernels does not support this call: float16 is not supported")


def test_missing_kernels_fall_back_to_torch(monkeypatch):
    monkeypatch.setitem(sys.modules, "dsconv.kernels", None)  # import raises ImportError
    x, weight = torch.randn(1, 2, 5), torch.randn(2, 1, 3)
    path, reason = nb.depthwise_dispatch_reason(x, weight, (1,), ((0, 0),), (1,), "dsconv")
    assert path == "torch" and reason.startswith("dsconv.kernels is unavailable")
    torch.testing.assert_close(dF.depthwise_conv1d(x, weight, backend="dsconv"), dF.depthwise_conv1d(x, weight))


def test_torch_backend_never_imports_the_kernels(fake_kernels):
    assert nb.depthwise_dispatch_reason(torch.zeros(1), torch.zeros(1), (1,), ((0, 0),), (1,)) == (
        "torch", "backend 'torch' selected")
    dnn.SeparableConv2d(2, 3, 3)(torch.randn(1, 2, 5, 5))
    assert fake_kernels.calls == []


@pytest.mark.filterwarnings("ignore:.*torch.jit.* is deprecated:DeprecationWarning")
def test_scripted_layers_take_the_torch_path(fake_kernels):
    layer = dnn.DepthwiseConv2d(2, 3, padding="same", backend="dsconv")
    scripted = torch.jit.script(layer)
    x = torch.randn(1, 2, 6, 6)
    out = scripted(x)
    assert fake_kernels.calls == []
    fake_kernels.supported = (False, "compare with the torch path")
    torch.testing.assert_close(out, layer(x))
