"""Keras/TensorFlow <-> dsconv (PyTorch) kernel layouts: round trips, channel order, and the ops agreeing."""

from __future__ import annotations

import numpy as np
import pytest

from dsconv import functional as D

SPATIAL = {1: (3,), 2: (3, 2), 3: (2, 3, 1)}


@pytest.mark.parametrize("multiplier", [1, 3])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_depthwise_round_trip_and_shapes(n, multiplier):
    kernel = np.random.default_rng(n).standard_normal((*SPATIAL[n], 4, multiplier))
    weight = D.keras_to_torch_depthwise(kernel)
    assert weight.shape == (4 * multiplier, 1, *SPATIAL[n])
    assert weight.flags.c_contiguous
    np.testing.assert_array_equal(D.torch_to_keras_depthwise(weight, multiplier), kernel)
    np.testing.assert_array_equal(D.keras_to_torch_depthwise(D.torch_to_keras_depthwise(weight, multiplier)), weight)


def test_depthwise_channel_order_is_c_times_m_plus_m():
    """TensorFlow: output channel ``k * channel_multiplier + q`` uses ``filter[..., k, q]``."""
    channels, multiplier = 3, 2
    kernel = np.zeros((2, 2, channels, multiplier))
    for c in range(channels):
        for m in range(multiplier):
            kernel[..., c, m] = 10 * c + m  # a constant tag per (c, m)
    weight = D.keras_to_torch_depthwise(kernel)
    for c in range(channels):
        for m in range(multiplier):
            assert np.all(weight[c * multiplier + m, 0] == 10 * c + m)


def test_depthwise_spatial_taps_are_not_flipped_or_transposed():
    kernel = np.arange(6, dtype=np.float64).reshape(2, 3, 1, 1)  # (kh, kw, C, M)
    np.testing.assert_array_equal(D.keras_to_torch_depthwise(kernel)[0, 0], kernel[:, :, 0, 0])


@pytest.mark.parametrize("n", [1, 2, 3])
def test_pointwise_round_trip_and_order(n):
    ones = (1,) * n
    kernel = np.random.default_rng(n).standard_normal((*ones, 5, 7))  # (*ones, C_in, C_out)
    weight = D.keras_to_torch_pointwise(kernel)
    assert weight.shape == (7, 5, *ones)
    for o in range(7):
        for i in range(5):
            assert weight[(o, i, *(0,) * n)] == kernel[(*(0,) * n, i, o)]
    np.testing.assert_array_equal(D.torch_to_keras_pointwise(weight), kernel)


def test_integer_kernels_convert_without_changing_dtype():
    kernel = np.arange(12).reshape(1, 1, 3, 4)
    assert D.keras_to_torch_pointwise(kernel).dtype == kernel.dtype
    assert D.keras_to_torch_depthwise(kernel).dtype == kernel.dtype


def test_converted_weights_compute_the_keras_formula_channels_last():
    """A Keras-layout separable block, written out from the TF formula, equals the ops on converted weights."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 6, 5, 3))  # NHWC
    dw_kernel = rng.standard_normal((3, 3, 3, 2))  # (kh, kw, C, M)
    pw_kernel = rng.standard_normal((1, 1, 6, 4))  # (1, 1, C*M, C_out)
    # TF: mid[b, i, j, c*M + q] = sum_{di, dj} filter[di, dj, c, q] * x[b, i + di, j + dj, c]  (VALID)
    mid = np.zeros((2, 4, 3, 6))
    for di in range(3):
        for dj in range(3):
            patch = x[:, di:di + 4, dj:dj + 3, :, None] * dw_kernel[di, dj]  # (N, 4, 3, C, M)
            mid += patch.reshape(2, 4, 3, 6)
    expected = mid @ pw_kernel[0, 0]
    out = D.separable_conv2d(x, D.keras_to_torch_depthwise(dw_kernel), D.keras_to_torch_pointwise(pw_kernel),
                             padding="valid", data_format="channels_last")
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
