"""The seed's formulas (seeds/001): parameters, FLOPs, the ratio 1/C_out + 1/k^2, savings, and inversions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsconv.cost import (
    compare_separable,
    conv_cost,
    cost_ratio,
    min_kernel_size,
    min_out_channels,
    reduction_factor,
    savings,
    separable_cost,
    separable_flops,
    separable_params,
    standard_flops,
    standard_params,
)


def test_seed_worked_example() -> None:
    # "C_in = 192, C_out = 384, k = 3: the cost ratio is 1/384 + 1/9 ~ 0.1137, a reduction of about 88.6%"
    assert cost_ratio(384, 3) == pytest.approx(1 / 384 + 1 / 9)
    assert round(cost_ratio(384, 3), 4) == 0.1137
    assert round(savings(384, 3), 3) == 0.886
    assert separable_flops(192, 384, 3, 56, 56) / standard_flops(192, 384, 3, 56, 56) == pytest.approx(0.11371527)
    assert reduction_factor(384, 3) == pytest.approx(1 / (1 / 384 + 1 / 9))


def test_formulas_literal() -> None:
    assert standard_params(192, 384, 3) == 9 * 192 * 384
    assert separable_params(192, 384, 3) == 9 * 192 + 192 * 384
    assert standard_flops(192, 384, 3, 56, 28) == 2 * 56 * 28 * 9 * 192 * 384
    assert separable_flops(192, 384, 3, 56, 28) == 2 * 56 * 28 * (9 * 192 + 192 * 384)


@settings(max_examples=20, deadline=None)
@given(c_in=st.integers(1, 64), c_out=st.integers(1, 64), k=st.integers(1, 7), h=st.integers(1, 9), w=st.integers(1, 9))
def test_ratio_is_independent_of_size_and_c_in(c_in: int, c_out: int, k: int, h: int, w: int) -> None:
    ratio = separable_flops(c_in, c_out, k, h, w) / standard_flops(c_in, c_out, k, h, w)
    assert ratio == pytest.approx(cost_ratio(c_out, k))
    assert separable_params(c_in, c_out, k) / standard_params(c_in, c_out, k) == pytest.approx(cost_ratio(c_out, k))


@settings(max_examples=15, deadline=None)
@given(c_in=st.integers(1, 32), c_out=st.integers(1, 32), k=st.integers(1, 5), n=st.integers(5, 12))
def test_formulas_agree_with_layer_costs(c_in: int, c_out: int, k: int, n: int) -> None:
    # With "same" padding the output map is n x n, the seed's H x W; the seed counts no biases.
    std = conv_cost(c_in, c_out, k, (n, n), padding="same", bias=False)
    sep = separable_cost(c_in, c_out, k, (n, n), padding="same", bias=False)
    assert std.params == standard_params(c_in, c_out, k)
    assert sep.params == separable_params(c_in, c_out, k)
    assert std.flops == standard_flops(c_in, c_out, k, n, n)
    assert sep.flops == separable_flops(c_in, c_out, k, n, n)
    assert compare_separable(c_in, c_out, k, (n, n)).macs_ratio == pytest.approx(cost_ratio(c_out, k))


def test_min_kernel_size_and_out_channels() -> None:
    # 10x needs 1/C_out + 1/k^2 <= 1/10: with C_out = 384, k = 3 gives 8.79x and k = 4 gives 15x.
    assert min_kernel_size(384, 10) == 4
    assert reduction_factor(384, 3) < 10 <= reduction_factor(384, 4)
    assert min_out_channels(5, 10) == 17
    assert reduction_factor(16, 5) < 10 <= reduction_factor(17, 5)
    assert min_kernel_size(20, 10) == 5  # 1/20 + 1/16 > 0.1, 1/20 + 1/25 <= 0.1
    assert min_out_channels(1, 0.5) == 1  # any layer is at least 0.5x
    assert min_kernel_size(4, 2) == 2  # 1/4 + 1/4 = 1/2 exactly: "at least 2x" holds


@pytest.mark.parametrize(("c_out", "k"), [(10, 7), (5, 9), (384, 3), (1000, 1)])
def test_ten_x_is_impossible_when_one_term_is_too_large(c_out: int, k: int) -> None:
    if c_out <= 10:
        assert min_kernel_size(c_out, 10) is None
    if k * k <= 10:
        assert min_out_channels(k, 10) is None


@settings(max_examples=20, deadline=None)
@given(c_out=st.integers(1, 200), reduction=st.floats(1.0, 30.0))
def test_min_kernel_size_is_smallest(c_out: int, reduction: float) -> None:
    k = min_kernel_size(c_out, reduction)
    if k is None:
        assert c_out <= reduction
        return
    assert reduction_factor(c_out, k) >= reduction * (1 - 1e-12)
    assert k == 1 or reduction_factor(c_out, k - 1) < reduction


@settings(max_examples=20, deadline=None)
@given(k=st.integers(1, 9), reduction=st.floats(1.0, 30.0))
def test_min_out_channels_is_smallest(k: int, reduction: float) -> None:
    c_out = min_out_channels(k, reduction)
    if c_out is None:
        assert k * k <= reduction
        return
    assert reduction_factor(c_out, k) >= reduction * (1 - 1e-12)
    assert c_out == 1 or reduction_factor(c_out - 1, k) < reduction


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r"`out_channels` must be a positive integer .*Received out_channels=0"):
        cost_ratio(0, 3)
    with pytest.raises(ValueError, match=r"`kernel_size` must be a positive integer .*Received kernel_size=-1"):
        standard_params(3, 4, -1)
    with pytest.raises(TypeError, match=r"`in_channels` must be an integer. Received in_channels=2.5"):
        separable_params(2.5, 4, 3)
    with pytest.raises(ValueError, match=r"`height` must be a positive integer .*Received height=0"):
        standard_flops(3, 4, 3, 0, 5)
    with pytest.raises(ValueError, match=r"`reduction` must be a finite number > 0. Received reduction=0"):
        min_kernel_size(384, 0)
    with pytest.raises(TypeError, match=r"`reduction` must be a real number. Received reduction='10'"):
        min_out_channels(3, "10")
