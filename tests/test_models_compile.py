"""``torch.compile`` smoke tests of the zoo (fullgraph: no graph breaks, same outputs as eager).

Budget: compiling costs 2-20 s per model on this CPU, so the default (inductor) backend runs on
DS-CNN-S only and ``aot_eager`` / graph-capture-only (``eager``) backends on small variants that
together cover every block type (squeeze-excite, hard-swish, stochastic depth, TensorFlow "same"
padding, 1D layers, upsampling decoders with skip connections).
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from test_models_zoo import _small  # noqa: E402


@pytest.mark.filterwarnings("ignore:.*torch.jit.script_method. is deprecated:DeprecationWarning")
@pytest.mark.parametrize(
    ("name", "backend", "extra"),
    [
        ("ds_cnn_s", "inductor", {}),
        ("mobilenet_v3_small", "aot_eager", {}),
        ("efficientnet_b0", "eager", {"depth": 0.25}),
        ("mobilenet_v1", "eager", {}),
        ("ds_cnn_1d", "eager", {}),
        ("perception_net", "eager", {}),
    ],
)
def test_torch_compile_smoke(name: str, backend: str, extra: dict) -> None:
    torch._dynamo.reset()
    model, x = _small(name, **extra)
    model.eval()
    with torch.no_grad():
        expected = model(x)
        got = torch.compile(model, backend=backend, fullgraph=True)(x)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
