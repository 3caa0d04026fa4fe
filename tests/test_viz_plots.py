"""Plots draw from result dicts; the GIF's numbers are the real computation (checked against the seed's loop)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from dsconv.viz import (
    convolution_story,
    depthwise_animation,
    plot_cost_bars,
    plot_learning_curves,
    plot_ratio_bars,
    plot_shift_losses,
    plot_spectra,
    plot_variant_accuracy,
)


def _acc(values):
    arr = np.asarray(values, dtype=float)
    return {"mean": arr.mean(), "std": arr.std(), "min": arr.min(), "max": arr.max(), "values": list(arr)}


def _is_png(path):
    with Image.open(path) as img:
        return img.format == "PNG" and img.size[0] > 100 and img.size[1] > 100


def test_result_plots_write_pngs(tmp_path):
    learning = {"sizes": [8, 16], "chance": 0.5, "models": {
        "separable": {"params": 10, "accuracy": [_acc([0.6, 0.7]), _acc([0.8, 0.9])]},
        "standard": {"params": 50, "accuracy": [_acc([0.55, 0.6]), _acc([0.7, 0.8])]}}}
    curve = {"curve_mean": [1.0, 0.5, 0.5], "curve_min": [0.9, 0.4, 0.4], "curve_max": [1.1, 0.6, 0.6]}
    shift = {"steps": 30, "floor": 0.5, "models": {"standard": curve, "separable": curve}}
    variants = {"chance": 0.25, "variants": {v: {"accuracy": _acc([0.7, 0.8])} for v in ("standard", "late")}}
    layer = {"c_in": 8, "c_out": 16, "size": 8, "stride": 1, "flop_ratio": 0.17, "roofline_ratio": 0.3,
             "measured_ratio": 0.6, "gflops": {"dense": 20.0, "depthwise": 2.0, "pointwise": 10.0}}
    tables = {"rows": [{"table": 4, "label": "MobileNet", "macs_m": 568.7, "params_m": 4.2,
                        "published_macs_m": 569, "published_params_m": 4.2}]}
    written = [
        plot_learning_curves(learning, tmp_path / "a.png"),
        plot_shift_losses(shift, tmp_path / "b.png"),
        plot_variant_accuracy(variants, tmp_path / "c.png"),
        plot_ratio_bars({"layers": [layer, layer]}, tmp_path / "d.png"),
        plot_cost_bars(tables, tmp_path / "e.png"),
        plot_spectra({"target": [1.0, 1.0], "separable": [1.0, 0.0]}, tmp_path / "f.png"),
    ]
    assert all(_is_png(p) for p in written)
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporary files


def test_plot_errors_name_the_argument(tmp_path):
    with pytest.raises(ValueError, match=r"`result` must contain 'sizes', 'models'"):
        plot_learning_curves({"sizes": [1]}, tmp_path / "x.png")
    with pytest.raises(TypeError, match=r"`result` must be an experiment result dict"):
        plot_shift_losses([1, 2], tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"`spectra` must be a non-empty mapping"):
        plot_spectra({}, tmp_path / "x.png")
    with pytest.raises(FileNotFoundError, match=r"`path` must be in an existing folder"):
        plot_spectra({"a": [1.0]}, tmp_path / "missing" / "x.png")


def _naive_depthwise(image, kernels):
    """The seed guide's loop: Output[h,w,c] = sum_ij Input[h+i,w+j,c] * Kernel[i,j,c] (channels last)."""
    height, width, channels = image.shape
    k = kernels.shape[0]
    out = np.zeros((height - k + 1, width - k + 1, channels))
    for c in range(channels):
        for i in range(height - k + 1):
            for j in range(width - k + 1):
                out[i, j, c] = np.sum(image[i : i + k, j : j + k, c] * kernels[:, :, c])
    return out


def test_animation_numbers_are_the_real_convolutions():
    story = convolution_story(6, 3, seed=4)
    image = story.x.transpose(1, 2, 0)  # (H, W, C)
    kernels = story.dw_weight[:, 0].transpose(1, 2, 0)  # (k, k, C)
    np.testing.assert_allclose(story.dw_out.transpose(1, 2, 0), _naive_depthwise(image, kernels))
    dense = sum(_naive_depthwise(image[..., c : c + 1], story.dense_weight[0, c][..., None])[..., 0] for c in range(3))
    np.testing.assert_allclose(story.dense_out[0], dense)
    assert story.positions[0] == (0, 0) and len(story.positions) == 16


def test_animation_gif_has_one_frame_per_position(tmp_path):
    path = depthwise_animation(tmp_path / "dw.gif", size=4, kernel_size=3, frame_ms=100)
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.n_frames == 4 and gif.info.get("loop") == 0


def test_animation_errors():
    with pytest.raises(ValueError, match=r"`kernel_size` must be <= size=3. Received kernel_size=5"):
        convolution_story(3, 5)
    with pytest.raises(ValueError, match=r"`size` must be a positive integer"):
        convolution_story(0)
    with pytest.raises(FileNotFoundError, match=r"`path` must be in an existing folder"):
        depthwise_animation("/nonexistent-folder/dw.gif")
