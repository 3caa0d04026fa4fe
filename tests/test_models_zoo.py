"""Every registered model: forward, backward, channels_last, torch.compile, ONNX export (onnxruntime)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from dsconv.models import create_model, list_models  # noqa: E402

# A small instance of every registered model and its input (batch 2): the smoke tests' budget.
SMALL: dict[str, tuple[dict, tuple[int, ...]]] = {
    "mobilenet_v1": ({"width": 0.25}, (3, 32, 32)),
    "mobilenet_v1_dense": ({"width": 0.25}, (3, 32, 32)),
    "mobilenet_v2": ({"width": 0.25}, (3, 32, 32)),
    "mobilenet_v3_large": ({"width": 0.25}, (3, 32, 32)),
    "mobilenet_v3_small": ({"width": 0.25}, (3, 32, 32)),
    **{f"efficientnet_b{i}": ({"width": 0.25}, (3, 32, 32)) for i in range(8)},
    "xception": ({"width": 0.125}, (3, 71, 71)),
    "ds_cnn_s": ({"width": 0.25}, (1, 49, 10)),
    "ds_cnn_m": ({"width": 0.25}, (1, 49, 10)),
    "ds_cnn_l": ({"width": 0.25}, (1, 49, 10)),
    "ds_cnn_1d": ({"width": 0.25, "resolution": 1024}, (1, 1024)),
    "deeplabv3plus_mobilenet_v2": ({"width": 0.25}, (3, 32, 32)),
    "perception_net": ({"width": 0.25}, (3, 32, 32)),
}
NUM_CLASSES = 5


def _small(name: str, **extra) -> tuple[torch.nn.Module, torch.Tensor]:
    kwargs, size = SMALL[name]
    torch.manual_seed(0)
    model = create_model(name, num_classes=NUM_CLASSES, **kwargs, **extra)
    return model, torch.randn(2, *size)


def _expected_shape(name: str, size: tuple[int, ...]) -> tuple[int, ...]:
    dense_prediction = name.startswith(("deeplab", "perception"))
    return (2, NUM_CLASSES, *size[1:]) if dense_prediction else (2, NUM_CLASSES)


def test_every_registered_model_has_a_smoke_config() -> None:
    from dsconv.models._registry import _MODELS

    # Only the zoo's own families: other tests may register models of their own in this process.
    zoo = [name for name in list_models() if _MODELS[name].__module__.startswith("dsconv.models.")]
    assert sorted(SMALL) == zoo


@pytest.mark.parametrize("name", sorted(SMALL))
def test_forward_backward(name: str) -> None:
    model, x = _small(name)
    assert model.default_input_size[0] == x.shape[1]
    x.requires_grad_(True)
    out = model(x)
    assert out.shape == _expected_shape(name, tuple(x.shape[1:]))
    out.square().mean().backward()
    assert torch.isfinite(out).all() and torch.isfinite(x.grad).all()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_channels_last_matches(name: str) -> None:
    model, x = _small(name)
    model.eval()
    with torch.no_grad():
        ref = model(x)
        if x.ndim == 4:  # 2D models; the 1D one has no channels_last layout
            model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
        out = model(x)
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)


FAMILIES = [
    "mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0", "xception", "ds_cnn_s", "ds_cnn_1d",
    "deeplabv3plus_mobilenet_v2", "perception_net",
]


@pytest.mark.parametrize("name", FAMILIES)
def test_dense_twin_runs(name: str) -> None:
    model, x = _small(name, dense=True)
    assert model(x).shape == _expected_shape(name, tuple(x.shape[1:]))


@pytest.mark.parametrize("name", ["ds_cnn_s", "mobilenet_v3_small"])
def test_dsconv_backend_matches_torch_backend(name: str) -> None:
    from dsconv.nn import use_backend

    model, x = _small(name)
    model.eval()
    with torch.no_grad():
        expected = model(x)
        with use_backend("dsconv"):  # depthwise layers run the Numba kernels
            got = model(x)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
