"""Pretrained-weight interop: Keras MobileNet/MobileNetV2 H5 and torchvision MobileNetV2 state dicts, round trips.

No downloads: each test writes the arrays of a dsconv model in the other library's names and layout
(H5 via h5py in the Keras ``save_weights`` layout), loads them into a freshly initialised model and
compares outputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
h5py = pytest.importorskip("h5py")

from dsconv.export import (  # noqa: E402
    load_keras_weights,
    load_torchvision_state_dict,
    read_keras_h5,
    to_keras_weights,
    to_torchvision_state_dict,
    write_keras_h5,
)
from dsconv.models import create_model  # noqa: E402


def _model(arch: str, seed: int, width: float = 0.25) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = create_model(arch, num_classes=5, width=width, resolution=32)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):  # non-trivial statistics so BN mapping errors show
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
    return model.eval()


@pytest.mark.parametrize("arch", ["mobilenet_v1", "mobilenet_v2"])
def test_keras_h5_round_trip(arch: str, tmp_path: Path) -> None:
    source = _model(arch, 0)
    path = write_keras_h5(tmp_path / "weights.h5", to_keras_weights(source, arch))
    with h5py.File(path, "r") as handle:  # the Keras save_weights layout
        layer = "conv_dw_1" if arch == "mobilenet_v1" else "expanded_conv_depthwise"
        kernel = handle[f"{layer}/{layer}/depthwise_kernel:0"]
        assert kernel.shape[2:] == (8, 1)  # (kh, kw, C, depth_multiplier)
        assert b"conv_preds" in handle.attrs["layer_names"] or b"predictions" in handle.attrs["layer_names"]
    target = _model(arch, 1)
    mapping = load_keras_weights(target, path, arch, bn_eps=None)
    assert len(mapping) == len(read_keras_h5(path))
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(target(x), source(x), rtol=0, atol=0)


def test_keras_names_and_epsilon() -> None:
    names = to_keras_weights(_model("mobilenet_v1", 0), "mobilenet_v1")
    assert {"conv1/kernel", "conv1_bn/gamma", "conv_dw_13/depthwise_kernel", "conv_pw_13_bn/moving_variance",
            "conv_preds/kernel", "conv_preds/bias"} <= set(names)
    assert names["conv_preds/kernel"].shape == (1, 1, 256, 5) and names["conv1/kernel"].shape == (3, 3, 3, 8)
    v2 = to_keras_weights(_model("mobilenet_v2", 0), "mobilenet_v2")
    assert {"Conv1/kernel", "bn_Conv1/beta", "expanded_conv_project_BN/moving_mean", "block_16_expand/kernel",
            "block_16_depthwise_BN/gamma", "Conv_1/kernel", "Conv_1_bn/gamma", "predictions/kernel"} <= set(v2)
    model = _model("mobilenet_v2", 2)
    load_keras_weights(model, v2, "mobilenet_v2")
    assert all(m.eps == 1e-3 for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))


def test_torchvision_state_dict_round_trip() -> None:
    source = _model("mobilenet_v2", 0)
    state = to_torchvision_state_dict(source)
    assert {"features.0.0.weight", "features.1.conv.0.0.weight", "features.1.conv.1.weight", "features.1.conv.2.running_var",
            "features.2.conv.0.0.weight", "features.2.conv.1.0.weight", "features.2.conv.2.weight",
            "features.2.conv.3.num_batches_tracked", "features.18.0.weight", "classifier.1.bias"} <= set(state)
    assert state["features.1.conv.0.0.weight"].shape[1] == 1  # depthwise
    target = _model("mobilenet_v2", 1)
    load_torchvision_state_dict(target, state)
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(target(x), source(x), rtol=0, atol=0)


def test_interop_errors(tmp_path: Path) -> None:
    weights = to_keras_weights(_model("mobilenet_v1", 0), "mobilenet_v1")
    with pytest.raises(ValueError, match=r"`weights` must hold every array this model needs. Missing 1: conv1/kernel"):
        load_keras_weights(_model("mobilenet_v1", 1), {k: v for k, v in weights.items() if k != "conv1/kernel"},
                           "mobilenet_v1")
    wider = _model("mobilenet_v1", 1, width=0.5)
    before = {k: v.clone() for k, v in wider.state_dict().items()}
    with pytest.raises(ValueError, match=r"`weights` array 'conv1/kernel' must have shape \(16, 3, 3, 3\)"):
        load_keras_weights(wider, weights, "mobilenet_v1")
    assert all(torch.equal(before[k], v) for k, v in wider.state_dict().items())  # nothing half-loaded
    with pytest.raises(ValueError, match=r"`arch` must be one of 'mobilenet_v1', 'mobilenet_v2'"):
        to_keras_weights(wider, "resnet50")
    (tmp_path / "bad.h5").write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match=r"`weights` must be a readable H5 file"):
        read_keras_h5(tmp_path / "bad.h5")
    with pytest.raises(FileNotFoundError, match=r"`weights` must be an existing H5 file"):
        read_keras_h5(tmp_path / "none.h5")
    np.testing.assert_array_equal(read_keras_h5(write_keras_h5(tmp_path / "w.h5", weights))["conv1/kernel"],
                                  weights["conv1/kernel"])
