"""profile(): shared modules, functional calls, branches, unseen ops, conventions, output formats,
the MobileNet paper's Table 2, and models that cannot take the input size."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from dsconv.cost import conv_cost, linear_cost, profile, separable_cost


def mobilenet_v1(width: float = 1.0, num_classes: int = 1000) -> nn.Module:
    """MobileNet V1 as in Howard et al. 2017, Table 1 (written here so the test needs no model zoo)."""
    cfg = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), *[(512, 1)] * 5, (1024, 2), (1024, 1)]
    c = int(32 * width)
    layers: list[nn.Module] = [nn.Conv2d(3, c, 3, 2, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
    for out, stride in cfg:
        out = int(out * width)
        layers += [nn.Conv2d(c, c, 3, stride, 1, groups=c, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                   nn.Conv2d(c, out, 1, bias=False), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
        c = out
    return nn.Sequential(nn.Sequential(*layers), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes))


def test_mobilenet_v1_table_2() -> None:
    """Howard et al. 2017: 569M Mult-Adds, 4.2M parameters; Table 2 shares by layer type."""
    prof = profile(mobilenet_v1(), (3, 224, 224), count_bn=False)
    assert prof.macs == 568_740_352  # "569 Million" Mult-Adds
    assert prof.params == 4_210_088  # "4.2 Million" (conv weights, FC weights and bias; no batch norm)
    kinds = prof.by_kind()
    # Table 2 (Mult-Adds %, Parameters %): Conv 1x1 94.86 / 74.59, Conv DW 3x3 3.06 / 1.06,
    # Conv Dense 3x3 1.19 / 0.02 (1.19 is a digit swap of 1.91: the column then sums to 100), FC 0.18 / 24.33.
    for kind, macs_pct, params_pct in (("pointwise", 94.86, 74.59), ("depthwise", 3.06, 1.06),
                                       ("dense", 1.91, 0.02), ("fc", 0.18, 24.33)):
        assert 100 * kinds[kind].macs_share == pytest.approx(macs_pct, abs=0.005)
        assert 100 * kinds[kind].params_share == pytest.approx(params_pct, abs=0.03)
    assert kinds["depthwise"].layers == kinds["pointwise"].layers == 13
    assert kinds["other"].macs == 0 and kinds["other"].other_flops > 0
    assert profile(mobilenet_v1(), (3, 32, 32)).params == 4_231_976  # with batch norm's weight and bias


def test_matches_flop_counter_and_parameters_on_a_random_model() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(4, 6, 3, padding=1, groups=2), nn.Conv1d(6, 12, 5, stride=2, groups=6),
                          nn.Conv1d(12, 8, 1), nn.Flatten(), nn.Linear(8 * 6, 5))
    prof = profile(model, (4, 15))
    with FlopCounterMode(display=False) as counter:
        model(torch.randn(1, 4, 15))
    assert prof.flops == counter.get_total_flops()
    assert prof.params == sum(p.numel() for p in model.parameters())
    assert [r.kind for r in prof.rows if r.macs] == ["grouped", "depthwise", "pointwise", "fc"]


class Shared(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block = nn.Conv2d(4, 4, 3, padding=1)
        self.alias = self.block  # the same module under a second name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.alias(self.block(x))


def test_shared_module_called_twice() -> None:
    prof = profile(Shared(), (4, 6, 6))
    one = conv_cost(4, 4, 3, (6, 6), padding=1)
    assert prof.params == one.params  # parameters once
    assert prof.macs == 2 * one.macs  # MACs at every call
    assert [(r.label, r.params) for r in prof.rows] == [("block", one.params), ("block #2", 0)]


class Functional(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(6, 1, 3, 3))
        self.proj = nn.Parameter(torch.randn(5, 6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.conv2d(x, self.weight, None, 1, 1, 1, 3)  # depthwise with multiplier 2, called functionally
        y = F.relu(y).mean(dim=(2, 3))
        return F.linear(y, self.proj)


def test_functional_calls_are_seen() -> None:
    prof = profile(Functional(), (3, 8, 8), batch_size=2)
    dw = conv_cost(3, 6, 3, (8, 8), padding=1, groups=3, bias=False, batch_size=2)
    fc = linear_cost(6, 5, bias=False, batch_size=2)
    assert prof.macs == dw.macs + fc.macs
    assert prof.params == 6 * 9 + 30
    assert {r.kind for r in prof.rows} == {"depthwise", "fc", "other"}
    assert all(r.name == "" and r.type == "Functional" for r in prof.rows)
    assert not prof.unaccounted


class Branchy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.left = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1, groups=3), nn.Conv2d(3, 8, 1))
        self.right = nn.Conv2d(3, 8, 3, padding=1)
        self.head = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.cat([self.left(x), self.right(x)], dim=1) + 1.0
        return self.head(y.mean(dim=(2, 3)))


def test_branches() -> None:
    prof = profile(Branchy(), (3, 7, 7))
    expected = (separable_cost(3, 8, 3, (7, 7), padding=1, inner_bias=True).macs
                + conv_cost(3, 8, 3, (7, 7), padding=1).macs + linear_cost(16, 4).macs)
    assert prof.macs == expected
    assert prof.params == sum(p.numel() for p in Branchy().parameters())
    assert [r.name for r in prof.rows if r.macs] == ["left.0", "left.1", "right", "head"]


class Unseen(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 1)
        self.hidden = nn.Linear(3, 3)  # its work happens in NumPy, outside PyTorch's dispatcher
        self.unused = nn.Linear(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.fft.rfft(self.conv(x), dim=-1).abs()
        w = self.hidden.weight.detach().numpy()
        return x + torch.from_numpy(np.asarray(w.sum(), dtype=np.float32))


def test_ops_it_cannot_see_are_reported() -> None:
    prof = profile(Unseen(), (2, 4, 4))
    found = {(u.name, u.op): u.reason for u in prof.unaccounted}
    assert "without a cost rule" in found[("", "_fft_r2c")]
    assert "never called" in found[("unused", "(parameters)")]
    # hidden.weight is read only by a view and NumPy: counted as parameters, flagged as not seen.
    assert ("hidden", "(parameters)") in found
    assert prof.params == sum(p.numel() for p in Unseen().parameters())
    assert "Not accounted for" in prof.to_markdown() and "_fft_r2c" in prof.to_markdown()
    assert json.loads(prof.to_json())["unaccounted"]


class ConvBn(nn.Module):
    def __init__(self, bias: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, bias=bias)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(F.relu(self.bn(self.conv(x))).amax(dim=(2, 3)))


@pytest.mark.parametrize("conv_bias", [False, True])
def test_conventions(conv_bias: bool) -> None:
    model = ConvBn(conv_bias)
    weights = 8 * 3 * 9 + 16
    conv_b, bn, fc_b = (8 if conv_bias else 0), 16, 2
    base = profile(model, (3, 6, 6))
    assert base.params == weights + conv_b + bn + fc_b
    assert profile(model, (3, 6, 6), count_bias=False).params == weights + bn
    assert profile(model, (3, 6, 6), count_bn=False).params == weights + conv_b + fc_b
    folded = profile(model, (3, 6, 6), fold_bn=True)
    assert folded.params == weights + 8 + fc_b  # the conv gains (or keeps) a bias, the bn disappears
    assert folded.other_flops < base.other_flops and folded.macs == base.macs
    assert "(folded)" in folded.to_markdown()
    assert profile(model, (3, 6, 6), fold_bn=True, count_bias=False).params == weights
    flops = profile(model, (3, 6, 6), unit="flops")
    assert flops.flops == 2 * base.macs
    assert "FLOPs" in flops.to_markdown().splitlines()[2]
    assert list(csv.reader(io.StringIO(flops.to_csv())))[0][7] == "flops"


def test_every_format_parses() -> None:
    prof = profile(Branchy(), (3, 7, 7))
    data = json.loads(prof.to_json())
    assert data["totals"]["macs"] == prof.macs and data["totals"]["params"] == prof.params
    assert len(data["rows"]) == len(prof.rows) and set(data["by_kind"]) == set(prof.by_kind())
    table = list(csv.DictReader(io.StringIO(prof.to_csv())))
    assert table[-1]["layer"] == "TOTAL" and int(table[-1]["macs"]) == prof.macs
    assert sum(int(r["macs"]) for r in table[:-1]) == prof.macs
    markdown = prof.to_markdown()
    assert "| layer | type | kind | op | output shape | params | MACs | share | other FLOPs |" in markdown
    assert "| kind | layers | params | params % | MACs | MACs % |" in markdown
    from rich.console import Console

    console = Console(file=io.StringIO(), width=160)
    prof.print_rich(console)
    text = console.file.getvalue()
    assert "left.1" in text and "By kind" in text and "pointwise conv" in text


def test_modes_are_restored_and_state_untouched() -> None:
    model = ConvBn(True).train()
    model.fc.eval()
    before = model.bn.running_mean.clone()
    profile(model, (3, 6, 6))
    assert model.training and model.bn.training and not model.fc.training
    assert torch.equal(model.bn.running_mean, before)


def test_dsconv_layers_and_backend() -> None:
    from dsconv.nn import SeparableConv2d
    from dsconv.nn.backend import use_backend

    layer = SeparableConv2d(4, 8, 3, padding="same", depth_multiplier=2)
    expected = separable_cost(4, 8, 3, (6, 6), padding="same", depth_multiplier=2)
    with use_backend("dsconv"):  # profiling takes the visible torch path: same work
        prof = profile(layer, (4, 6, 6))
    assert (prof.params, prof.macs) == (expected.params, expected.macs)
    assert [r.kind for r in prof.rows if r.macs] == ["depthwise", "pointwise"]


def test_bad_input() -> None:
    with pytest.raises(ValueError, match=r"`input_size` must be a non-empty tuple .*Received input_size=\(3, 0, 8\)"):
        profile(Branchy(), (3, 0, 8))
    with pytest.raises(ValueError, match=r"`input_size` must be a non-empty tuple .*Received input_size=\(\)"):
        profile(Branchy(), ())
    with pytest.raises(TypeError, match=r"`input_size` must be a tuple \(C, \*spatial\). Received input_size=224"):
        profile(Branchy(), 224)
    with pytest.raises(TypeError, match=r"`model` must be a torch.nn.Module. Received model of type function"):
        profile(mobilenet_v1, (3, 32, 32))
    with pytest.raises(ValueError, match=r"`batch_size` must be a positive integer .*Received batch_size=0"):
        profile(Branchy(), (3, 7, 7), batch_size=0)
    with pytest.raises(ValueError, match=r"`unit` must be one of 'macs', 'flops'. Received unit='ops'"):
        profile(Branchy(), (3, 7, 7), unit="ops")


def test_input_size_the_model_cannot_take() -> None:
    model = nn.Sequential(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 7)), nn.Flatten())
    with pytest.raises(ValueError, match=r"`input_size` \(3, 6, 6\) cannot be fed.*layer `0.1` \(Conv2d\) failed"):
        profile(model, (3, 6, 6))
    with pytest.raises(ValueError, match=r"layer `0.0` \(Conv2d\) failed.*Received input_size=\(2, 9, 9\)"):
        profile(model, (2, 9, 9))  # wrong channel count
    assert model.training  # restored after the failure too
    head = nn.Sequential(nn.Flatten(), nn.Linear(12, 2))
    with pytest.raises(ValueError, match=r"layer `1` \(Linear\) failed"):
        profile(head, (3, 5))


class Mixed(nn.Module):
    """Transposed convolution, a linear layer on a 3D input, batched matmul and attention."""

    def __init__(self) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2)
        self.proj = nn.Linear(6, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.up(x).flatten(2).transpose(1, 2)  # (B, L, 6)
        q = self.proj(y)  # (B, L, 8): matmul on a 3D input
        scores = torch.bmm(q, q.transpose(1, 2))  # (B, L, L)
        out = F.scaled_dot_product_attention(q[:, None], q[:, None], q[:, None])
        return scores.sum() + out.sum()


def test_transposed_matmul_attention_against_flop_counter() -> None:
    model = Mixed()
    prof = profile(model, (4, 3, 3), batch_size=2)
    with FlopCounterMode(display=False) as counter:
        with torch.no_grad():
            model(torch.randn(2, 4, 3, 3))
    attention = prof.by_kind()["attention"].macs
    assert attention == 2 * 49 * 49 * (8 + 8)  # Q K^T and the weighted sum of V, batch 2, one head, L = S = 49
    # FlopCounterMode has no rule for the CPU attention kernel; everything else agrees.
    assert prof.flops - 2 * attention == counter.get_total_flops()
    kinds = [r.kind for r in prof.rows if r.macs]
    assert kinds[0] == "grouped" and "fc" in kinds and "attention" in kinds
    assert prof.params == sum(p.numel() for p in model.parameters())
    assert not prof.unaccounted


class NotFoldable(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 1, bias=False)
        self.bn_after_relu = nn.BatchNorm2d(4)
        self.bn_after_add = nn.BatchNorm2d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn_after_relu(F.relu(self.conv(x), inplace=True))  # the conv output changed in place
        return self.bn_after_add(y + 1.0)


def test_fold_bn_only_directly_after_a_conv() -> None:
    prof = profile(NotFoldable(), (2, 3, 3), fold_bn=True)
    assert prof.params == 8 + 16  # nothing folded: both batch norms keep their parameters
    assert "(folded)" not in prof.to_markdown()


def test_import_stays_light() -> None:
    import subprocess
    import sys

    code = "import sys, dsconv.cost; print(sorted(m for m in ('torch', 'rich', 'numba') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
