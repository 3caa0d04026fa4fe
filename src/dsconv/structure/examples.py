"""The chapter's shift task, exactly: a kernel no single depthwise-separable layer can represent.

One input channel, two outputs that copy it shifted by different amounts (seed 001, "The Trade-Off"):
the two spatial filters are deltas at different taps, so the only slice ``M_0`` is ``(2, K)`` with two
orthogonal unit rows: rank 2, singular values ``(1, 1)``. The best ``r = 1`` layer therefore misses
Frobenius energy ``1`` (Eckart-Young) and ``r = 2`` is exact.

From kernel error to output error: for an input of i.i.d. zero-mean samples with variance ``sigma^2``
(white noise), an output sample of channel ``o`` away from the borders is ``sum_{i,a} E[o,i,a] x[...]``
with ``E = W - W_sep``, so its expected square is ``sigma^2 sum_{i,a} E[o,i,a]^2``. Averaged over the
``C_out`` channels, the output MSE is ``sigma^2 ||E||_F^2 / C_out``; it is minimised by the Frobenius-best
kernel, so the floor of any rank-``r`` separable layer is ``sigma^2 * residual_r^2 / C_out``
(``1/2`` for the shift task, unit variance, ``r = 1``). Bias does not help (the error is zero-mean);
near zero-padded borders fewer terms enter, so a padded output's MSE is at most this value.
"""

from __future__ import annotations

import numpy as np

from dsconv._validation import check_non_negative, check_positive, check_positive_float, to_tuple
from dsconv.structure._checks import check_kernel
from dsconv.structure.spectra import slice_spectra


def _tap(d: int | tuple[int, ...], k: int, ndim: int, name: str) -> tuple[int, ...]:
    taps = to_tuple(d, ndim, name, allow_zero=True)
    if any(t >= k for t in taps):
        raise ValueError(f"`{name}` must be a kernel tap in [0, k={k}). Received {name}={d!r}")
    return taps


def shift_task_kernel(k: int, d1: int | tuple[int, ...], d2: int | tuple[int, ...], *, ndim: int = 1) -> np.ndarray:
    """Dense kernel of the shift task: output 0 is a delta at tap ``d1``, output 1 at tap ``d2``.

    Args:
        k: kernel size (per dimension).
        d1, d2: tap positions in ``[0, k)``, an int (same in every dimension) or a tuple of ``ndim`` ints.
            With padding ``k // 2`` (cross-correlation, as in PyTorch), output ``j`` is the input shifted
            by ``d_j - k // 2``: ``y_j[t] = x[t + d_j - k // 2]``.
        ndim: 1 (kernel ``(2, 1, k)``) or 2 (``(2, 1, k, k)``).

    Returns:
        float64 kernel ``(2, 1, *[k] * ndim)``.

    Example:
        >>> shift_task_kernel(3, 0, 2)
        array([[[1., 0., 0.]],
        <BLANKLINE>
               [[0., 0., 1.]]])
    """
    k = check_positive(k, "k")
    ndim = check_positive(ndim, "ndim")
    if ndim not in (1, 2):
        raise ValueError(f"`ndim` must be 1 or 2. Received ndim={ndim}")
    t1, t2 = _tap(d1, k, ndim, "d1"), _tap(d2, k, ndim, "d2")
    if t1 == t2:
        raise ValueError(f"`d1` and `d2` must differ (the task needs two different shifts). Received d1={d1!r}, d2={d2!r}")
    weight = np.zeros((2, 1) + (k,) * ndim)
    weight[(0, 0, *t1)] = 1.0
    weight[(1, 0, *t2)] = 1.0
    return weight


def separable_residual(weight: np.ndarray, rank: int = 1, *, groups: int = 1) -> float:
    """Analytic Frobenius distance from ``weight`` to the nearest layer with depth multiplier ``rank``.

    ``sqrt(sum_i sum_{j > rank} s_{i,j}^2)`` over the slice spectra (Eckart-Young, slice by slice).
    """
    rank = check_non_negative(rank, "rank")
    spectra = slice_spectra(weight, groups=groups)
    return float(np.sqrt(np.sum(spectra[:, rank:] ** 2)))


def rank1_residual(weight: np.ndarray) -> float:
    """Frobenius distance from ``weight`` to the nearest depthwise-separable (``r = 1``) kernel.

    Example:
        >>> rank1_residual(shift_task_kernel(5, 1, 3))
        1.0
    """
    return separable_residual(weight, 1)


def output_mse_floor(weight: np.ndarray, rank: int = 1, *, input_variance: float = 1.0, groups: int = 1) -> float:
    """Lowest output MSE a rank-``rank`` separable layer can reach imitating ``weight`` on white noise.

    ``input_variance * separable_residual(weight, rank)^2 / C_out`` (see the module docstring): the mean over
    output channels and (interior) positions of the squared difference between the two layers' outputs,
    for i.i.d. zero-mean inputs of the given variance.

    Returns:
        The floor; ``0.5`` for the shift task at ``rank = 1`` and unit variance, ``0`` at ``rank = 2``.
    """
    weight = check_kernel(weight)
    variance = check_positive_float(input_variance, "input_variance")
    return variance * separable_residual(weight, rank, groups=groups) ** 2 / weight.shape[0]
