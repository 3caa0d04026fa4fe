"""Every registered model exports to ONNX, checked with onnxruntime (max abs difference <= 1e-4).

Budget: the TorchScript exporter takes well under a second per small model where the torch.export
based exporter takes 5-60 s on this CPU, so every model goes through the former and one through the
latter. EfficientNet-B1..B7 are exported at ``depth=0.25`` (one block per stage): the same builder as
B0 (exported at full depth), without 16-55 copies of the same block in the graph.
"""

from __future__ import annotations

import io

import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from test_models_zoo import SMALL, _small  # noqa: E402

# The TorchScript exporter warns that it is deprecated, that tracing turns the input-size checks into
# constants (intended: the exported graph has a fixed input size) and about its constant folding.
_LEGACY_EXPORT_WARNINGS = [
    pytest.mark.filterwarnings("ignore:.*legacy TorchScript-based ONNX export:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The feature will be removed:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning"),
    pytest.mark.filterwarnings("ignore:Constant folding:UserWarning"),
]


def _export_kwargs(name: str) -> dict:
    return {"depth": 0.25} if name.startswith("efficientnet_b") and name != "efficientnet_b0" else {}


def _run_onnx(model_bytes: bytes, x: torch.Tensor):  # noqa: ANN202 - returns a NumPy array
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    return out


def _check_against_torch(model: torch.nn.Module, x: torch.Tensor, got) -> None:  # noqa: ANN001
    with torch.no_grad():
        expected = model(x).numpy()
    assert got.shape == expected.shape
    assert expected.std() > 0  # a degenerate constant output would hide a wrong graph
    assert abs(got - expected).max() <= 1e-4


@pytest.mark.parametrize("name", [pytest.param(n, marks=_LEGACY_EXPORT_WARNINGS) for n in sorted(SMALL)])
def test_onnx_export_matches_onnxruntime(name: str) -> None:
    model, x = _small(name, **_export_kwargs(name))
    model.eval()
    buffer = io.BytesIO()
    torch.onnx.export(model, (x,), buffer, dynamo=False, input_names=["x"])
    _check_against_torch(model, x, _run_onnx(buffer.getvalue(), x))


@pytest.mark.filterwarnings("ignore:.*LeafSpec.*:FutureWarning")
def test_onnx_dynamo_export_matches_onnxruntime() -> None:
    model, x = _small("ds_cnn_s")
    model.eval()
    program = torch.onnx.export(model, (x,), dynamo=True, verbose=False)
    _check_against_torch(model, x, _run_onnx(program.model_proto.SerializeToString(), x))
