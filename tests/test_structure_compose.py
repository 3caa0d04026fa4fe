"""compose / decompose / Khatri-Rao / canonical forms against brute force and the NumPy reference ops."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsconv.structure import (
    canonicalize,
    compose,
    decompose,
    decompose_pw_dw,
    degrees_of_freedom,
    flatten_kernel,
    is_separable,
    khatri_rao,
    slice_ranks,
    slice_spectra,
)


def brute_force_dw_pw(pw: np.ndarray, dw: np.ndarray, r: int, groups: int) -> np.ndarray:
    """Loop definition: W[o, i_local] = sum_j pw[o, i_local*r + j] * dw[i*r + j]."""
    c_out, c_in = pw.shape[0], dw.shape[0] // r
    c_in_g, c_out_g = c_in // groups, c_out // groups
    w = np.zeros((c_out, c_in_g, *dw.shape[2:]))
    for o in range(c_out):
        g = o // c_out_g
        for il in range(c_in_g):
            i = g * c_in_g + il
            for j in range(r):
                w[o, il] += pw[(o, il * r + j) + (0,) * (pw.ndim - 2)] * dw[i * r + j, 0]
    return w


def brute_force_best(weight: np.ndarray, r: int, groups: int) -> np.ndarray:
    """Eckart-Young slice by slice with plain numpy.linalg.svd loops."""
    c_out, c_in_g = weight.shape[:2]
    c_out_g = c_out // groups
    out = np.zeros_like(weight, dtype=np.float64)
    for g in range(groups):
        for il in range(c_in_g):
            m = weight[g * c_out_g:(g + 1) * c_out_g, il].reshape(c_out_g, -1)
            u, s, vt = np.linalg.svd(m, full_matrices=False)
            approx = (u[:, :r] * s[:r]) @ vt[:r]
            out[g * c_out_g:(g + 1) * c_out_g, il] = approx.reshape(c_out_g, *weight.shape[2:])
    return out


@pytest.mark.parametrize("ksize", [(3,), (3, 2), (2, 2, 2)])
@pytest.mark.parametrize(("r", "groups"), [(1, 1), (2, 1), (3, 2)])
def test_compose_matches_loop_definition(rng, ksize, r, groups):
    c_in, c_out = 4, 6
    dw = rng.normal(size=(c_in * r, 1, *ksize))
    pw = rng.normal(size=(c_out, c_in * r // groups, *(1,) * len(ksize)))
    w = compose(pw, dw, depth_multiplier=r, groups=groups)
    assert w.shape == (c_out, c_in // groups, *ksize)
    np.testing.assert_allclose(w, brute_force_dw_pw(pw, dw, r, groups), rtol=1e-12, atol=1e-12)


def test_compose_pw_dw_matches_definition(rng):
    c_in, c_mid, m = 3, 4, 2
    pw = rng.normal(size=(c_mid, c_in, 1, 1))
    dw = rng.normal(size=(c_mid * m, 1, 3, 3))
    w = compose(pw, dw, order="pw_dw")
    for o in range(c_mid * m):
        for i in range(c_in):
            np.testing.assert_allclose(w[o, i], dw[o, 0] * pw[o // m, i, 0, 0], rtol=1e-12)


@settings(max_examples=15, deadline=None)
@given(
    c_in=st.integers(1, 4),
    c_out_g=st.integers(1, 5),
    groups=st.sampled_from([1, 2]),
    ksize=st.sampled_from([(3,), (2, 3), (3, 3), (2, 2, 2)]),
    r=st.integers(1, 5),
    seed=st.integers(0, 2**16),
)
def test_decompose_is_eckart_young(c_in, c_out_g, groups, ksize, r, seed):
    rng = np.random.default_rng(seed)
    c_out = c_out_g * groups
    w = rng.normal(size=(c_out, c_in, *ksize))
    f = decompose(w, rank=r, groups=groups)
    approx = compose(f.pw, f.dw, depth_multiplier=r, groups=groups)
    np.testing.assert_allclose(approx, brute_force_best(w, r, groups), atol=1e-10)
    np.testing.assert_allclose(f.error, np.linalg.norm(w - approx), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(f.energy, 1 - f.error**2 / np.sum(w**2), atol=1e-12)
    if r >= min(c_out_g, int(np.prod(ksize))):
        np.testing.assert_allclose(approx, w, atol=1e-10)
        assert f.error < 1e-10
    assert np.all(slice_ranks(approx, groups=groups) <= r)


def test_decompose_error_decreases_with_rank(rng):
    w = rng.normal(size=(6, 3, 3, 3))
    errors = [decompose(w, rank=r).error for r in range(1, 8)]
    assert all(a > b for a, b in zip(errors[:6], errors[1:6]))
    assert errors[5] < 1e-10 and errors[6] < 1e-10  # full rank = min(6, 9) = 6


def test_decompose_keeps_dtype_and_unit_filters(rng):
    w = rng.normal(size=(5, 2, 3, 3)).astype(np.float32)
    f = decompose(w, rank=2)
    assert f.dw.dtype == np.float32 and f.pw.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(f.dw.reshape(4, -1), axis=1), 1.0, rtol=1e-6)


def test_decompose_pw_dw_per_output_filter(rng):
    w = rng.normal(size=(4, 3, 3, 3))
    f = decompose_pw_dw(w)
    approx = compose(f.pw, f.dw, order="pw_dw")
    for o in range(4):
        u, s, vt = np.linalg.svd(w[o].reshape(3, 9))
        np.testing.assert_allclose(approx[o].reshape(3, 9), s[0] * np.outer(u[:, 0], vt[0]), atol=1e-10)
    np.testing.assert_allclose(f.error, np.linalg.norm(w - approx), rtol=1e-9)
    # A kernel made by a pw -> dw layer with M = 2 is recovered exactly.
    pw, dw = rng.normal(size=(3, 5, 1)), rng.normal(size=(6, 1, 4))
    exact = compose(pw, dw, order="pw_dw")
    g = decompose_pw_dw(exact, depth_multiplier=2)
    assert g.error < 1e-10
    np.testing.assert_allclose(compose(g.pw, g.dw, order="pw_dw"), exact, atol=1e-10)


def test_khatri_rao_equals_compose(rng):
    c_in, c_out = 3, 4
    dw, pw = rng.normal(size=(c_in, 1, 3, 3)), rng.normal(size=(c_out, c_in, 1, 1))
    p, d_flat = pw[:, :, 0, 0], dw.reshape(c_in, 9).T
    kr = khatri_rao(p, d_flat)
    np.testing.assert_allclose(kr, flatten_kernel(compose(pw, dw)), rtol=1e-12)
    for i in range(c_in):
        np.testing.assert_allclose(kr[:, i], np.kron(p[:, i], d_flat[:, i]), rtol=1e-12)


def test_separability_detection(rng):
    dw, pw = rng.normal(size=(4, 1, 3, 3)), rng.normal(size=(5, 4, 1, 1))
    w = compose(pw, dw)
    assert is_separable(w)
    np.testing.assert_array_equal(slice_ranks(w), [1, 1, 1, 1])
    assert is_separable(w.astype(np.float32))
    noisy = w + 1e-3 * rng.normal(size=w.shape)
    assert not is_separable(noisy)
    assert is_separable(noisy, rtol=1e-2)  # noise below rtol is ignored
    assert not is_separable(rng.normal(size=(5, 4, 3, 3)))
    assert is_separable(rng.normal(size=(5, 4, 3, 3)), rank=5)
    spectra = slice_spectra(noisy)
    assert spectra.shape == (4, 5) and np.all(np.diff(spectra, axis=1) <= 0)
    np.testing.assert_array_equal(slice_ranks(np.zeros((2, 3, 3))), [0, 0, 0])


def test_canonical_forms_of_two_factorizations_agree(rng):
    dw, pw = rng.normal(size=(3, 1, 3, 3)), rng.normal(size=(5, 3, 1, 1))
    beta = np.array([3.0, -0.25, 1.5])
    a = canonicalize(dw, pw)
    b = canonicalize(dw * beta[:, None, None, None], pw / beta[None, :, None, None])
    np.testing.assert_allclose(a[0], b[0], atol=1e-10)
    np.testing.assert_allclose(a[1], b[1], atol=1e-10)
    np.testing.assert_allclose(compose(a[1], a[0]), compose(pw, dw), atol=1e-10)
    # r = 2: a factorization mixed by any invertible 2x2 matrix per channel has the same canonical form.
    dw2, pw2 = rng.normal(size=(6, 1, 3)), rng.normal(size=(4, 6, 1))
    mix = rng.normal(size=(3, 2, 2))
    dw_mixed = np.einsum("cab,cbk->cak", mix, dw2.reshape(3, 2, 3)).reshape(6, 1, 3)
    pw_mixed = np.einsum("ocb,cba->oca", pw2.reshape(4, 3, 2), np.linalg.inv(mix)).reshape(4, 6, 1)
    np.testing.assert_allclose(compose(pw_mixed, dw_mixed, depth_multiplier=2), compose(pw2, dw2, depth_multiplier=2), atol=1e-10)
    c1 = canonicalize(dw2, pw2, depth_multiplier=2)
    c2 = canonicalize(dw_mixed, pw_mixed, depth_multiplier=2)
    np.testing.assert_allclose(c1[0], c2[0], atol=1e-8)
    np.testing.assert_allclose(c1[1], c2[1], atol=1e-8)
    # A rank-deficient channel factored with r = 2 and with r = 1 padded by a zero filter.
    pad_dw = np.concatenate([dw[:1], np.zeros_like(dw[:1])])
    pad_pw = np.concatenate([pw[:, :1], np.zeros_like(pw[:, :1])], axis=1)
    other_dw = np.concatenate([dw[:1] * 2, dw[:1]])
    other_pw = np.concatenate([pw[:, :1] * 0.25, pw[:, :1] * 0.5], axis=1)
    np.testing.assert_allclose(canonicalize(pad_dw, pad_pw, depth_multiplier=2)[0], canonicalize(other_dw, other_pw, depth_multiplier=2)[0], atol=1e-8)


def test_canonical_pw_dw(rng):
    pw, dw = rng.normal(size=(3, 4, 1, 1)), rng.normal(size=(6, 1, 3, 3))
    beta = np.array([2.0, -3.0, 0.5])
    a = canonicalize(dw, pw, order="pw_dw")
    b = canonicalize(dw / np.repeat(beta, 2)[:, None, None, None], pw * beta[:, None, None, None], order="pw_dw")
    np.testing.assert_allclose(a[0], b[0], atol=1e-10)
    np.testing.assert_allclose(a[1], b[1], atol=1e-10)


def test_degrees_of_freedom_formula_and_jacobian_rank(rng):
    assert degrees_of_freedom(192, 384, 3) == 9 * 192 + 192 * 384 - 192
    assert degrees_of_freedom(4, 6, (3, 3), depth_multiplier=20) == 4 * 6 * 9
    # compose is bilinear: its Jacobian at a generic point has rank = degrees of freedom.
    for c_in, c_out, k, r in [(2, 3, 3, 1), (2, 4, 2, 2), (3, 2, 2, 1)]:
        dw, pw = rng.normal(size=(c_in * r, 1, k, k)), rng.normal(size=(c_out, c_in * r, 1, 1))
        columns = []
        for base, other, is_pw in [(pw, dw, True), (dw, pw, False)]:
            for idx in range(base.size):
                e = np.zeros(base.size)
                e[idx] = 1.0
                e = e.reshape(base.shape)
                args = (e, other) if is_pw else (other, e)
                columns.append(compose(*args, depth_multiplier=r).ravel())
        jac_rank = np.linalg.matrix_rank(np.stack(columns, axis=1))
        assert jac_rank == degrees_of_freedom(c_in, c_out, k, depth_multiplier=r)
