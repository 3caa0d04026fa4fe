"""dsconv.nn.init: grouped-aware fans (pytorch#23854) and He initialisation variances."""

from __future__ import annotations

import math

import pytest
import torch

from dsconv import nn as dnn
from dsconv.nn import init as dinit


def test_fans_of_a_depthwise_weight():
    weight = torch.empty(32 * 2, 1, 3, 3)  # C = 32, M = 2
    assert dinit.fan_in_and_fan_out(weight, groups=32) == (9, 18)
    # torch cannot know the groups: its fan_out is C * M * 9, a factor C too large (pytorch#23854).
    assert torch.nn.init._calculate_fan_in_and_fan_out(weight) == (9, 576)


def test_fans_of_dense_grouped_and_linear_weights():
    assert dinit.fan_in_and_fan_out(torch.empty(8, 4, 3, 5)) == (60, 120)
    assert dinit.fan_in_and_fan_out(torch.empty(8, 2, 3), groups=2) == (6, 12)
    assert dinit.fan_in_and_fan_out(torch.empty(7, 5)) == (5, 7)


@pytest.mark.parametrize(
    "mode, nonlinearity, a, expected",
    [
        ("fan_in", "relu", 0.0, math.sqrt(2.0 / 25)),
        ("fan_out", "relu", 0.0, math.sqrt(2.0 / (3 * 25))),
        ("fan_out", "linear", 0.0, 1 / math.sqrt(3 * 25)),
        ("fan_in", "leaky_relu", 0.2, math.sqrt(2.0 / (1 + 0.04)) / 5),
    ],
)
def test_kaiming_std_formula(mode, nonlinearity, a, expected):
    weight = torch.empty(48 * 3, 1, 5, 5)  # C = 48, M = 3
    assert dinit.kaiming_std(weight, groups=48, a=a, mode=mode, nonlinearity=nonlinearity) == pytest.approx(expected)


@pytest.mark.parametrize("fill", [dinit.kaiming_normal_, dinit.kaiming_uniform_])
def test_sampled_variance_matches_the_formula(fill):
    generator = torch.Generator().manual_seed(0)
    weight = torch.empty(256 * 2, 1, 5, 5)  # 12800 samples
    expected_std = math.sqrt(2.0) / math.sqrt(2 * 25)  # relu gain, fan_out = M * k^2 = 50
    out = fill(weight, groups=256, mode="fan_out", nonlinearity="relu", generator=generator)
    assert out is weight
    assert weight.mean().item() == pytest.approx(0.0, abs=0.02)
    assert weight.std().item() == pytest.approx(expected_std, rel=0.03)
    if fill is dinit.kaiming_uniform_:
        assert weight.abs().max().item() <= math.sqrt(3.0) * expected_std


def test_fan_out_init_preserves_backward_variance():
    """With the grouped fan_out, a linear depthwise layer keeps Var(grad_in) ~ Var(grad_out) (~1)."""
    torch.manual_seed(0)
    layer = dnn.DepthwiseConv2d(128, 3, padding=1, depth_multiplier=2, bias=False)
    dinit.kaiming_normal_(layer.weight, groups=128, mode="fan_out", nonlinearity="linear")
    x = torch.randn(4, 128, 12, 12, requires_grad=True)
    out = layer(x)
    out.backward(torch.randn_like(out))
    interior = x.grad[..., 1:-1, 1:-1]  # borders see fewer taps
    # 2304 weights: the sampled variance is within ~3% of 1 (torch's fan_out would give ~1/128).
    assert interior.var().item() == pytest.approx(1.0, rel=0.1)


def test_init_errors():
    with pytest.raises(ValueError, match=r"`groups` must divide the weight's output channels \(6\). Received groups=4"):
        dinit.fan_in_and_fan_out(torch.empty(6, 1, 3), groups=4)
    with pytest.raises(ValueError, match=r"`groups` must be a positive integer \(>= 1\). Received groups=0"):
        dinit.fan_in_and_fan_out(torch.empty(6, 1, 3), groups=0)
    with pytest.raises(ValueError, match=r"`weight` must have at least 2 dimensions. Received weight.shape=\(6,\)"):
        dinit.fan_in_and_fan_out(torch.empty(6))
    with pytest.raises(ValueError, match=r"`mode` must be one of 'fan_in', 'fan_out'. Received mode='fan_avg'"):
        dinit.kaiming_normal_(torch.empty(4, 1, 3), groups=4, mode="fan_avg")
    with pytest.raises(ValueError, match=r"`weight` must not be empty"):
        dinit.kaiming_uniform_(torch.empty(4, 0, 3))
