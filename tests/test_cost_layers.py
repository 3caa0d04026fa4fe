"""Analytic layer costs against brute force: parameters by `numel` of real torch layers, MACs by counting
products in a convolution of ones, and FLOPs against torch.utils.flop_counter.FlopCounterMode."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from dsconv.cost import (
    LayerCost,
    batch_norm_cost,
    conv_cost,
    depthwise_cost,
    linear_cost,
    pointwise_cost,
    pool_cost,
    separable_cost,
    squeeze_excitation_cost,
)
from dsconv.functional.shapes import conv_geometry

CONVS = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
PADDINGS = (0, 1, "same", "valid", 2)


def random_conv(rng: np.random.Generator, dims: int) -> dict:
    """A random grouped / depthwise / dense / pointwise geometry that fits its input."""
    groups = int(rng.choice([1, 2, 3]))
    c_in = groups * int(rng.integers(1, 4))
    kind = rng.choice(["dense", "depthwise", "pointwise"])
    if kind == "depthwise":
        groups, c_out = c_in, c_in * int(rng.integers(1, 3))
    else:
        c_out = groups * int(rng.integers(1, 4))
    kernel = tuple(1 if kind == "pointwise" else int(rng.integers(1, 4)) for _ in range(dims))
    dilation = tuple(int(rng.integers(1, 3)) for _ in range(dims))
    size = tuple(int(rng.integers(5, 9 if dims < 3 else 6)) for _ in range(dims))
    return dict(in_channels=c_in, out_channels=c_out, kernel_size=kernel, input_size=size, groups=groups,
                stride=tuple(int(rng.integers(1, 3)) for _ in range(dims)), dilation=dilation,
                padding=PADDINGS[int(rng.integers(len(PADDINGS)))], bias=bool(rng.integers(2)))


def brute_force_macs(spec: dict, batch: int) -> tuple[int, tuple[int, ...]]:
    """Count products: pad an all-ones input with ones, convolve with all-ones weights (no padding).

    Each output element then equals the number of products that made it, padded taps included.
    """
    dims = len(spec["input_size"])
    pads, _ = conv_geometry(spec["input_size"], spec["kernel_size"], spec["stride"], spec["padding"], spec["dilation"])
    x = torch.ones(batch, spec["in_channels"], *spec["input_size"], dtype=torch.float64)
    flat_pads = [p for pair in reversed(pads) for p in pair]
    x = F.pad(x, flat_pads, value=1.0)
    weight = torch.ones(spec["out_channels"], spec["in_channels"] // spec["groups"], *spec["kernel_size"],
                        dtype=torch.float64)
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[dims]
    y = conv(x, weight, None, spec["stride"], 0, spec["dilation"], spec["groups"])
    return int(y.sum().item()), tuple(y.shape[1:])


def torch_layer(spec: dict) -> nn.Module:
    dims = len(spec["input_size"])
    return CONVS[dims](spec["in_channels"], spec["out_channels"], spec["kernel_size"], groups=spec["groups"],
                       bias=spec["bias"])


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_conv_cost_against_brute_force(dims: int) -> None:
    rng = np.random.default_rng(dims)
    for _ in range(12):
        spec = random_conv(rng, dims)
        batch = int(rng.integers(1, 3))
        cost = conv_cost(**spec, batch_size=batch)
        macs, out_shape = brute_force_macs(spec, batch)
        assert cost.macs == macs, spec
        assert cost.output_shape == out_shape, spec
        assert cost.params == sum(p.numel() for p in torch_layer(spec).parameters()), spec
        assert cost.flops == 2 * macs
        assert cost.input_elements == batch * spec["in_channels"] * math.prod(spec["input_size"])
        assert cost.output_elements == batch * math.prod(out_shape)


def test_depthwise_with_multiplier_and_pointwise() -> None:
    dw = depthwise_cost(4, (3, 3), (9, 9), depth_multiplier=3, stride=2, padding=1)
    layer = nn.Conv2d(4, 12, 3, stride=2, padding=1, groups=4)
    assert dw.kind == "depthwise"
    assert dw.params == sum(p.numel() for p in layer.parameters())
    assert dw.macs == 12 * 5 * 5 * 9
    pw = pointwise_cost(6, 5, (4, 3, 2), bias=False)
    assert pw.kind == "pointwise" and pw.params == 30 and pw.macs == 4 * 3 * 2 * 30
    assert pw.output_shape == (5, 4, 3, 2)


def test_separable_is_depthwise_then_pointwise() -> None:
    sep = separable_cost(8, 16, 3, (10, 10), depth_multiplier=2, stride=2, padding="same")
    dw = nn.Conv2d(8, 16, 3, groups=8, bias=False)
    pw = nn.Conv2d(16, 16, 1)
    assert sep.kind == "separable"
    assert sep.params == sum(p.numel() for m in (dw, pw) for p in m.parameters())
    assert sep.macs == 16 * 5 * 5 * 9 + 5 * 5 * 16 * 16
    assert [p.kind for p in sep.parts] == ["depthwise", "pointwise"]
    assert sep.output_shape == (16, 5, 5)
    with_inner = separable_cost(8, 16, 3, (10, 10), depth_multiplier=2, stride=2, padding="same", inner_bias=True)
    assert with_inner.params == sep.params + 16
    # The intermediate map is written by the depthwise stage and read by the pointwise one.
    inter = 16 * 5 * 5
    assert sep.bytes_total == 4 * (sep.params + 8 * 100 + 2 * inter + 16 * 25)


def test_bytes_and_intensity() -> None:
    cost = conv_cost(2, 3, 3, (6, 6), bias=True, dtype="float16")
    assert cost.bytes_read == 2 * (cost.params + 2 * 36)
    assert cost.bytes_written == 2 * 3 * 16
    assert cost.intensity == pytest.approx(cost.flops / (cost.bytes_read + cost.bytes_written))
    assert cost.as_dict()["intensity"] == pytest.approx(cost.intensity)
    # Depthwise 3x3 does about 9 / 4 FLOP per byte at fp32 (the figure in notes/kernels.md is 2.25).
    dw = depthwise_cost(256, 3, (56, 56), padding=1, bias=False)
    assert dw.intensity == pytest.approx(2.25, rel=0.01)


def test_linear_batch_norm_pool_se_against_torch() -> None:
    fc = linear_cost(7, 5, batch_size=3)
    assert fc.params == sum(p.numel() for p in nn.Linear(7, 5).parameters())
    assert fc.macs == 3 * 35 and fc.kind == "fc"
    bn = batch_norm_cost(6, (4, 4), batch_size=2)
    assert bn.params == sum(p.numel() for p in nn.BatchNorm2d(6).parameters())
    assert bn.macs == 0 and bn.other_flops == 2 * 2 * 6 * 16
    assert batch_norm_cost(6, (4,), affine=False).params == 0
    mp = pool_cost(3, (7, 7), 3, stride=2, mode="max")
    ref = nn.MaxPool2d(3, stride=2)(torch.zeros(1, 3, 7, 7))
    assert mp.output_shape == tuple(ref.shape[1:]) and mp.other_flops == ref.numel() * 8
    ap = pool_cost(3, (8, 8), 2, mode="avg")
    assert ap.output_shape == (3, 4, 4) and ap.other_flops == 48 * 4
    gp = pool_cost(5, (3, 4), None, mode="avg")
    assert gp.output_shape == (5, 1, 1) and gp.other_flops == 5 * 12
    se = squeeze_excitation_cost(8, 2, (5, 5))
    torch_se = [nn.Conv2d(8, 2, 1), nn.Conv2d(2, 8, 1)]
    assert se.params == sum(p.numel() for m in torch_se for p in m.parameters())
    assert se.macs == 2 * 8 * 2
    assert se.other_flops == 8 * 25 + (2 + 8) + 8 * 25
    assert se.output_shape == (8, 5, 5)


def test_random_models_against_flop_counter() -> None:
    """Sums of analytic costs equal FlopCounterMode (which counts 2 x MACs) on random conv/linear stacks."""
    rng = np.random.default_rng(7)
    for dims in (1, 2, 3):
        for _ in range(3):
            layers, costs = [], []
            channels, size = int(rng.integers(2, 5)), (6,) * dims if dims == 3 else (9,) * dims
            for _ in range(3):
                spec = random_conv(rng, dims) | {"in_channels": channels, "input_size": size}
                spec["groups"] = channels if spec["groups"] > 1 else 1
                if spec["out_channels"] % spec["groups"]:
                    spec["out_channels"] = spec["groups"] * 2
                spec["padding"] = "same" if spec["stride"] == (1,) * dims else 1
                spec["dilation"] = (1,) * dims  # keeps three layers inside a small input
                cost = conv_cost(**spec)
                pads, _ = conv_geometry(size, spec["kernel_size"], spec["stride"], spec["padding"], spec["dilation"])
                layers += [_Pad(pads),
                           CONVS[dims](channels, spec["out_channels"], spec["kernel_size"], spec["stride"],
                                       0, spec["dilation"], spec["groups"], spec["bias"])]
                costs.append(cost)
                channels, size = cost.output_shape[0], cost.output_shape[1:]
            fc = linear_cost(channels * math.prod(size), int(rng.integers(2, 6)))
            model = nn.Sequential(*layers, nn.Flatten(), nn.Linear(fc.input_shape[0], fc.output_shape[0]))
            with FlopCounterMode(display=False) as counter:
                model(torch.randn(1, costs[0].input_shape[0], *costs[0].input_shape[1:]))
            assert counter.get_total_flops() == sum(c.flops for c in costs) + fc.flops


class _Pad(nn.Module):
    def __init__(self, pads: tuple[tuple[int, int], ...]) -> None:
        super().__init__()
        self.flat = [p for pair in reversed(pads) for p in pair]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, self.flat)


def test_sum_of_costs() -> None:
    a = conv_cost(3, 4, 3, (8, 8), padding=1)
    b = pointwise_cost(4, 2, (8, 8))
    total = a + b
    assert isinstance(total, LayerCost) and total.kind == "sum"
    assert (total.params, total.macs) == (a.params + b.params, a.macs + b.macs)
    assert total.bytes_total == a.bytes_total + b.bytes_total


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match=r"`in_channels` must be a positive integer .*Received in_channels=0"):
        conv_cost(0, 4, 3, (8, 8))
    with pytest.raises(ValueError, match=r"`input_size` entries must be positive .*Received input_size=\(8, -2\)"):
        conv_cost(3, 4, 3, (8, -2))
    with pytest.raises(ValueError, match=r"`kernel_size` \(dilated span 5 .*must not exceed the padded input size 4"):
        conv_cost(3, 4, 5, (4, 4))
    with pytest.raises(ValueError, match=r"`groups` must divide both in_channels \(3\) and out_channels \(4\)"):
        conv_cost(3, 4, 3, (8, 8), groups=2)
    with pytest.raises(ValueError, match=r"`kernel_size` must be an int or a tuple of 2 ints"):
        conv_cost(3, 4, (3, 3, 3), (8, 8))
    with pytest.raises(ValueError, match=r"`dtype` must be one of .*Received dtype='int4'"):
        conv_cost(3, 4, 3, (8, 8), dtype="int4")
    with pytest.raises(ValueError, match=r"`mode` must be one of 'max', 'avg'. Received mode='min'"):
        pool_cost(3, (8, 8), 2, mode="min")
    with pytest.raises(TypeError, match=r"`input_size` must be a tuple of spatial sizes. Received input_size=8"):
        depthwise_cost(3, 3, 8)
    with pytest.raises(ValueError, match=r"`depth_multiplier` must be a positive integer .*Received depth_multiplier=0"):
        separable_cost(3, 4, 3, (8, 8), depth_multiplier=0)
    with pytest.raises(ValueError, match=r"`batch_size` must be a positive integer .*Received batch_size=0"):
        linear_cost(3, 4, batch_size=0)
