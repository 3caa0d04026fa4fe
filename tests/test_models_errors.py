"""Registry behaviour and argument errors of the model zoo: clear messages naming the argument."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from dsconv.models import create_model, list_models, register_model  # noqa: E402


def test_list_models_filters_by_pattern() -> None:
    assert list_models("efficientnet_b*") == [f"efficientnet_b{i}" for i in range(8)]
    assert {"mobilenet_v1", "mobilenet_v1_dense", "xception", "ds_cnn_s", "ds_cnn_1d"} <= set(list_models())
    assert list_models("no_such_family*") == []
    with pytest.raises(TypeError, match="`pattern` must be a string"):
        list_models(3)


def test_unknown_name_suggests_close_names() -> None:
    with pytest.raises(ValueError, match=r"`name` must be a registered model.*Did you mean 'mobilenet_v1'.*Received name='mobilenet_v11'"):
        create_model("mobilenet_v11")
    with pytest.raises(ValueError, match=r"Did you mean 'efficientnet_b0'"):
        create_model("efficentnet_b0")
    with pytest.raises(ValueError, match=r"registered model \(see dsconv.models.list_models\(\)\). Received name='resnet50'"):
        create_model("resnet50")


def test_registering_a_name_twice_is_an_error() -> None:
    def mobilenet_v1() -> None:  # same name as the registered MobileNetV1
        return None

    with pytest.raises(ValueError, match=r"`name` must be unique.*'mobilenet_v1' is already registered"):
        register_model(mobilenet_v1)
    with pytest.raises(TypeError, match="`fn` must be a callable"):
        register_model("mobilenet_v1")


def test_unknown_kwarg_names_the_argument() -> None:
    with pytest.raises(TypeError, match=r"`widht` is not an argument of model 'mobilenet_v1'.*Did you mean 'width'\?.*Received widht=0.5"):
        create_model("mobilenet_v1", widht=0.5)
    with pytest.raises(TypeError, match=r"`depth_multiplier` is not an argument of model 'mobilenet_v2'"):
        create_model("mobilenet_v2", depth_multiplier=2)
    with pytest.raises(TypeError, match=r"`depth` is not an argument of model 'mobilenet_v1'"):
        create_model("mobilenet_v1", depth=1.2)


@pytest.mark.parametrize(
    "name",
    [
        "mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large", "efficientnet_b0", "xception", "ds_cnn_s", "ds_cnn_1d",
        "deeplabv3plus_mobilenet_v2", "perception_net",
    ],
)
@pytest.mark.parametrize("width", [0, -0.5, float("inf")])
def test_width_must_be_positive(name: str, width: float) -> None:
    with pytest.raises(ValueError, match=rf"`width` must be a finite number > 0. Received width={width}"):
        create_model(name, width=width)


def test_bad_types_and_values() -> None:
    with pytest.raises(TypeError, match="`width` must be a real number. Received width='1.0'"):
        create_model("mobilenet_v1", width="1.0")
    with pytest.raises(ValueError, match="`num_classes` must be a positive integer"):
        create_model("mobilenet_v2", num_classes=0)
    with pytest.raises(TypeError, match="`in_channels` must be an integer"):
        create_model("ds_cnn_s", in_channels=1.5)
    with pytest.raises(ValueError, match=r"`depth` must be a finite number > 0. Received depth=0"):
        create_model("efficientnet_b0", depth=0)
    with pytest.raises(ValueError, match=r"`dropout` must be a probability in \[0, 1\). Received dropout=1.0"):
        create_model("mobilenet_v2", dropout=1.0)
    with pytest.raises(ValueError, match=r"`drop_path` must be a probability in \[0, 1\). Received drop_path=-0.1"):
        create_model("efficientnet_b0", drop_path=-0.1)
    with pytest.raises(ValueError, match=r"`output_stride` must be one of 8, 16. Received output_stride=32"):
        create_model("deeplabv3plus_mobilenet_v2", output_stride=32)


@pytest.mark.parametrize(
    ("name", "resolution", "minimum"),
    [("mobilenet_v1", 16, 32), ("efficientnet_b3", 31, 32), ("xception", 64, 71), ("deeplabv3plus_mobilenet_v2", 8, 16)],
)
def test_resolution_too_small_for_the_strides(name: str, resolution: int, minimum: int) -> None:
    with pytest.raises(ValueError, match=rf"`resolution` must be at least {minimum} for .*total stride.*Received resolution={resolution}"):
        create_model(name, resolution=resolution)


def test_ds_cnn_1d_input_shorter_than_its_first_kernel() -> None:
    with pytest.raises(ValueError, match=r"`resolution` must be at least 80 for ds_cnn_1d"):
        create_model("ds_cnn_1d", resolution=40)
    with pytest.raises(ValueError, match="`stem_kernel` must be a positive integer"):
        create_model("ds_cnn_1d", stem_kernel=0)


def test_forward_rejects_too_small_or_wrong_inputs() -> None:
    model = create_model("mobilenet_v1", width=0.25, num_classes=3)
    with pytest.raises(ValueError, match=r"`x` spatial size must be at least \(32, 32\) for mobilenet_v1.*Received x.shape=\(1, 3, 16, 40\)"):
        model(torch.randn(1, 3, 16, 40))
    with pytest.raises(ValueError, match=r"`x` must have shape \(N, 3, ...\) with 4 dimensions.*Received x.shape=\(1, 1, 32, 32\)"):
        model(torch.randn(1, 1, 32, 32))
    kws = create_model("ds_cnn_1d", width=0.25)
    with pytest.raises(ValueError, match=r"`x` spatial size must be at least \(80,\) for ds_cnn_1d"):
        kws(torch.randn(1, 1, 50))


def test_default_input_size_and_in_channels() -> None:
    assert create_model("mobilenet_v1", resolution=160).default_input_size == (3, 160, 160)
    assert create_model("ds_cnn_m").default_input_size == (1, 49, 10)
    assert create_model("xception", in_channels=1, width=0.125).default_input_size == (1, 299, 299)
    assert create_model("efficientnet_b3", width=0.25).default_input_size == (3, 300, 300)
    assert create_model("ds_cnn_1d", in_channels=40, resolution=49, stem_kernel=3, stem_stride=1).default_input_size == (40, 49)
    model = create_model("perception_net", in_channels=4, width=0.25, num_classes=2)
    assert model(torch.randn(2, 4, 32, 48)).shape == (2, 2, 32, 48)
