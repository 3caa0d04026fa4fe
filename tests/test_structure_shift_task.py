"""The seed's limitation, exactly: the shift task needs rank 2 per slice."""

from __future__ import annotations

import numpy as np
import pytest

from dsconv.structure import (
    compose,
    decompose,
    is_separable,
    output_mse_floor,
    rank1_residual,
    separable_residual,
    shift_task_kernel,
    slice_ranks,
    slice_spectra,
)


@pytest.mark.parametrize(("k", "d1", "d2", "ndim"), [(3, 0, 2, 1), (5, 1, 3, 1), (3, 0, 2, 2), (5, (2, 0), (2, 4), 2)])
def test_shift_task_rank_and_residual(k, d1, d2, ndim):
    w = shift_task_kernel(k, d1, d2, ndim=ndim)
    assert w.shape == (2, 1, *(k,) * ndim)
    np.testing.assert_array_equal(slice_ranks(w), [2])
    assert not is_separable(w)
    np.testing.assert_allclose(slice_spectra(w), [[1.0, 1.0]])
    best = decompose(w, rank=1)
    actual = np.linalg.norm(w - compose(best.pw, best.dw))
    # Eckart-Young: the discarded singular value is 1.
    assert rank1_residual(w) == pytest.approx(1.0)
    assert best.error == pytest.approx(1.0) and actual == pytest.approx(1.0)
    assert best.energy == pytest.approx(0.5)
    exact = decompose(w, rank=2)
    assert exact.error == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(compose(exact.pw, exact.dw, depth_multiplier=2), w, atol=1e-12)
    assert output_mse_floor(w) == pytest.approx(0.5)
    assert output_mse_floor(w, 2) == pytest.approx(0.0, abs=1e-24)
    assert separable_residual(w, 0) == pytest.approx(np.sqrt(2.0))


def test_output_mse_floor_matches_white_noise_simulation():
    """Monte Carlo check of MSE = sigma^2 ||E||_F^2 / C_out for a 1D valid convolution."""
    rng = np.random.default_rng(1)
    w = shift_task_kernel(5, 0, 3)
    best = decompose(w, rank=1)
    err_kernel = w - compose(best.pw, best.dw)  # (2, 1, 5)
    sigma = 1.5
    x = sigma * rng.normal(size=200_000)
    err_out = np.stack([np.correlate(x, err_kernel[o, 0], mode="valid") for o in range(2)])
    mse = float(np.mean(err_out**2))
    assert mse == pytest.approx(output_mse_floor(w, input_variance=sigma**2), rel=0.02)
    # Any other rank-1 kernel does worse: a random one, and the exact first filter alone.
    other = np.zeros_like(w)
    other[0] = w[0]
    assert np.sum((w - other) ** 2) / 2 >= output_mse_floor(w) - 1e-12
