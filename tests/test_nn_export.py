"""torch.jit.script, torch.compile and ONNX export of the layers (small smoke tests)."""

from __future__ import annotations

import io
import sys
import types

import numpy as np
import pytest
import torch
from torch import nn

from dsconv import nn as dnn
from dsconv.nn import backend as nb

# torch 2.13 deprecates TorchScript (and its own internals still call it); the layers must keep working.
pytestmark = pytest.mark.filterwarnings("ignore:.*torch.jit.* is deprecated:DeprecationWarning")


def _layers():
    return [
        (dnn.DepthwiseConv1d(3, 3, padding="causal", dilation=2, depth_multiplier=2), (2, 3, 9)),
        (dnn.DepthwiseConv2d(3, (3, 2), stride=2, padding="same", padding_mode="reflect"), (2, 3, 7, 8)),
        (dnn.DepthwiseConv3d(2, 2, padding=((1, 0), (0, 1), (1, 1)), padding_mode="circular"), (1, 2, 4, 5, 4)),
        (dnn.PointwiseConv2d(3, 4), (2, 3, 5, 5)),
        (dnn.SeparableConv2d(3, 4, 3, stride=2, padding="same", depth_multiplier=2, norm_layer=nn.BatchNorm2d,
                             act_layer=nn.ReLU, norm_dw=True, act_dw=True).eval(), (2, 3, 7, 7)),
        (dnn.SeparableConv1d(3, 4, 3, padding=1, depth_multiplier=2, order="pw_dw", padding_mode="replicate"), (2, 3, 6)),
    ]


@pytest.mark.parametrize("index", range(6))
def test_script_save_load_roundtrip(index):
    torch.manual_seed(index)
    layer, shape = _layers()[index]
    x = torch.randn(shape)
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(layer), buffer)
    buffer.seek(0)
    loaded = torch.jit.load(buffer)
    torch.testing.assert_close(loaded(x), layer(x))


def test_scripted_layer_keeps_input_checks():
    scripted = torch.jit.script(dnn.DepthwiseConv2d(3, 3))
    with pytest.raises(torch.jit.Error, match=r"`input` must have 3 channels"):
        scripted(torch.zeros(1, 2, 5, 5))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_compile_default_backend_full_graph(monkeypatch):
    """One small layer under torch.compile (inductor), in one graph, also with the "dsconv" default."""
    fake = types.ModuleType("dsconv.kernels")
    fake.supports = lambda *args: (True, "")
    fake.depthwise_conv_torch = lambda *args: pytest.fail("the dsconv kernel must not run inside torch.compile")
    monkeypatch.setitem(sys.modules, "dsconv.kernels", fake)
    torch.manual_seed(0)
    layer = dnn.DepthwiseConv1d(2, 3, stride=2, padding="same", depth_multiplier=2)
    compiled = torch.compile(layer, fullgraph=True)
    x = torch.randn(1, 2, 9)
    expected = layer(x)
    torch.testing.assert_close(compiled(x), expected)
    with nb.use_backend("dsconv"):  # recompiles (the default is guarded) and still takes the torch op
        torch.testing.assert_close(compiled(x), expected)


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")
def test_onnx_export_runs_in_onnxruntime():
    import onnxruntime as ort

    torch.manual_seed(0)
    layer = dnn.SeparableConv2d(3, 4, 3, stride=2, padding="same", depth_multiplier=2, padding_mode="reflect",
                                norm_layer=nn.BatchNorm2d, act_layer=nn.ReLU6, norm_dw=True, act_dw=True).eval()
    x = torch.randn(1, 3, 8, 7)
    program = torch.onnx.export(layer, (x,), dynamo=True, verbose=False)
    session = ort.InferenceSession(program.model_proto.SerializeToString(), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    np.testing.assert_allclose(out, layer(x).detach().numpy(), rtol=1e-5, atol=1e-5)
