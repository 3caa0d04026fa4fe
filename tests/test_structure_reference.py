"""compose() against the NumPy reference ops: separable_conv(x, dw, pw) == conv(x, compose(pw, dw))."""

from __future__ import annotations

import numpy as np
import pytest

from dsconv import functional as F
from dsconv.structure import compose


@pytest.mark.parametrize(("ndim", "r"), [(1, 1), (2, 1), (2, 2), (3, 1)])
@pytest.mark.parametrize(("stride", "padding", "dilation"), [(1, "same", 1), (2, 1, 1), (1, 0, 2)])
def test_separable_reference_equals_dense_with_composed_kernel(rng, ndim, r, stride, padding, dilation):
    c_in, c_out, size = 3, 4, (9, 7, 6)[:ndim]
    if padding == "same" and stride > 1:
        pytest.skip("covered by the stride-1 case")
    x = rng.normal(size=(2, c_in, *size))
    dw = rng.normal(size=(c_in * r, 1, *(3,) * ndim))
    pw = rng.normal(size=(c_out, c_in * r, *(1,) * ndim))
    separable = getattr(F, f"separable_conv{ndim}d")
    dense = getattr(F, f"conv{ndim}d")
    y_sep = separable(x, dw, pw, stride=stride, padding=padding, dilation=dilation)
    y_dense = dense(x, compose(pw, dw, depth_multiplier=r), stride=stride, padding=padding, dilation=dilation)
    np.testing.assert_allclose(y_sep, y_dense, rtol=1e-10, atol=1e-10)


def test_grouped_compose_equals_depthwise_then_grouped_pointwise(rng):
    c_in, c_out, groups, r = 4, 6, 2, 2
    x = rng.normal(size=(1, c_in, 8, 8))
    dw = rng.normal(size=(c_in * r, 1, 3, 3))
    pw = rng.normal(size=(c_out, c_in * r // groups, 1, 1))
    mid = F.depthwise_conv2d(x, dw, padding=1)
    y_sep = F.conv2d(mid, pw, groups=groups)
    y_dense = F.conv2d(x, compose(pw, dw, depth_multiplier=r, groups=groups), padding=1, groups=groups)
    np.testing.assert_allclose(y_sep, y_dense, rtol=1e-10, atol=1e-10)


def test_pw_dw_compose_equals_pointwise_then_depthwise(rng):
    c_in, c_mid, m = 3, 2, 3
    x = rng.normal(size=(1, c_in, 7, 7))
    pw = rng.normal(size=(c_mid, c_in, 1, 1))
    dw = rng.normal(size=(c_mid * m, 1, 3, 3))
    y_sep = F.depthwise_conv2d(F.pointwise_conv2d(x, pw), dw, padding=1)
    y_dense = F.conv2d(x, compose(pw, dw, order="pw_dw"), padding=1)
    np.testing.assert_allclose(y_sep, y_dense, rtol=1e-10, atol=1e-10)
