"""NumPy's BLAS thread count around the fused block's products (``dsconv.kernels._blas``)."""

from __future__ import annotations

import numpy as np
import pytest

from dsconv.kernels import _blas
from dsconv.kernels.fused import _np_matmul


@pytest.mark.parametrize("value, spins", [(None, True), ("28", True), ("9", True), ("8", False), ("4", False),
                                          ("x", True)])
def test_blas_threads_spin_reads_the_timeout(monkeypatch, value, spins):
    if value is None:
        monkeypatch.delenv("OPENBLAS_THREAD_TIMEOUT", raising=False)
    else:
        monkeypatch.setenv("OPENBLAS_THREAD_TIMEOUT", value)
    assert _blas.blas_threads_spin() is spins


class _FakeBlas:
    def __init__(self):
        self.threads, self.seen = 2, []

    def get_num_threads(self):
        return self.threads

    def set_num_threads(self, n):
        self.threads = n
        self.seen.append(n)


@pytest.mark.parametrize("spins", [True, False])
def test_products_run_on_one_thread_only_where_idle_threads_would_spin(monkeypatch, spins):
    fake = _FakeBlas()
    monkeypatch.setattr(_blas, "_numpy_openblas", lambda: fake)
    monkeypatch.setattr(_blas, "blas_threads_spin", lambda: spins)
    with _blas.blas_for_fused_products():
        inside = fake.threads
    assert inside == (1 if spins else 2) and fake.threads == 2
    assert fake.seen == ([1, 2] if spins else [])


def test_thread_count_is_restored_when_the_product_fails(monkeypatch):
    fake = _FakeBlas()
    monkeypatch.setattr(_blas, "_numpy_openblas", lambda: fake)
    monkeypatch.setattr(_blas, "blas_threads_spin", lambda: True)
    with pytest.raises(RuntimeError):
        with _blas.blas_for_fused_products():
            raise RuntimeError("boom")
    assert fake.threads == 2


def test_no_openblas_leaves_everything_alone(monkeypatch):
    monkeypatch.setattr(_blas, "_numpy_openblas", lambda: None)
    monkeypatch.setattr(_blas, "blas_threads_spin", lambda: True)
    with _blas.blas_for_fused_products():
        pass


def test_numpy_product_is_right_on_the_real_blas():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((37, 16)).astype(np.float32), rng.standard_normal((16, 9)).astype(np.float32)
    bias = rng.standard_normal(9).astype(np.float32)
    out = np.empty((37, 9), np.float32)
    lib = _blas._numpy_openblas()
    before = None if lib is None else lib.get_num_threads()
    _np_matmul(a, b, bias, out, 1)
    np.testing.assert_allclose(out, np.maximum(a @ b + bias, 0), rtol=1e-5, atol=1e-5)
    assert lib is None or lib.get_num_threads() == before
