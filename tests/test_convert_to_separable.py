"""to_separable on models with every conv variant: exact at full rank, monotone error, BN folding, budgets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dsconv.convert import GroupedSeparableConv, to_separable

CONVS = {
    "1d_same_dilated_reflect": (lambda: nn.Conv1d(3, 6, 5, padding="same", dilation=2, padding_mode="reflect"), (24,)),
    "2d_stride_replicate": (lambda: nn.Conv2d(3, 6, (3, 2), stride=2, padding=(1, 0), padding_mode="replicate"), (9, 8)),
    "2d_same_even_kernel": (lambda: nn.Conv2d(3, 6, 4, padding="same", dilation=3), (11, 10)),
    "2d_grouped_zeros": (lambda: nn.Conv2d(4, 8, 3, padding=1, groups=2), (8, 8)),
    "2d_grouped_circular_nobias": (lambda: nn.Conv2d(6, 6, 3, padding=1, groups=3, padding_mode="circular", bias=False), (7, 7)),
    "3d_circular": (lambda: nn.Conv3d(2, 4, 3, padding=1, padding_mode="circular", bias=False), (5, 5, 4)),
}


def _model(name: str) -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    make, size = CONVS[name]
    conv = make()
    return nn.Sequential(conv, nn.ReLU()), torch.randn(2, conv.in_channels, *size)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
@pytest.mark.parametrize("name", sorted(CONVS))
def test_full_rank_conversion_is_exact(name):
    model, x = _model(name)
    new, report = to_separable(model, rank=64, example_input=x, force=True)
    (row,) = report.layers
    assert row.converted and row.rank == row.full_rank
    assert "capped at full rank" in row.reason
    assert row.kernel_error < 1e-6 and row.energy == pytest.approx(1.0)
    with torch.no_grad():
        torch.testing.assert_close(new(x), model(x), rtol=1e-5, atol=1e-5)
    assert report.output_error < 1e-6
    conv = model[0]
    expected = nn.Module if conv.groups == 1 else GroupedSeparableConv
    assert isinstance(new[0], expected) and not isinstance(new[0], nn.Conv2d)
    if conv.groups == 1:
        assert type(new[0]).__name__ == f"SeparableConv{len(conv.kernel_size)}d"
    assert isinstance(model[0], type(conv))  # the input model is untouched


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
@pytest.mark.parametrize("name", ["2d_grouped_zeros", "1d_same_dilated_reflect", "3d_circular"])
def test_error_decreases_with_rank(name):
    model, x = _model(name)
    rows = [to_separable(model, rank=r, example_input=x, force=True)[1].layers[0] for r in range(1, 5)]
    kernel_errors = [row.kernel_error for row in rows]
    output_errors = [row.output_error for row in rows]
    assert all(a >= b - 1e-9 for a, b in zip(kernel_errors, kernel_errors[1:]))
    assert all(a >= b - 1e-6 for a, b in zip(output_errors, output_errors[1:]))
    assert kernel_errors[0] > kernel_errors[-1]
    energies = [row.energy for row in rows]
    assert all(a <= b + 1e-12 for a, b in zip(energies, energies[1:]))
    # The reported kernel error is the Eckart-Young residual of the slice spectra.
    from dsconv.structure import separable_residual
    w = model[0].weight.detach().double().numpy()
    expected = separable_residual(w, 1, groups=model[0].groups) / np.linalg.norm(w)
    assert kernel_errors[0] == pytest.approx(expected, rel=1e-9)


def test_batch_norm_folding_is_exact_in_eval_mode():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, bias=False, groups=2), nn.BatchNorm2d(8)))
    with torch.no_grad():  # non-trivial running statistics and affine parameters
        for bn in (model[1], model[3][1]):
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-1, 1)
    model.eval()
    x = torch.randn(2, 3, 8, 8)
    new, report = to_separable(model, rank=9, example_input=x, fold_bn=True, force=True)
    assert [row.bn_folded for row in report.layers] == [True, True]
    assert isinstance(new[1], nn.Identity) and isinstance(new[3][1], nn.Identity)
    with torch.no_grad():
        torch.testing.assert_close(new(x), model(x), rtol=1e-5, atol=1e-5)
    # Without folding the batch norms stay and the conversion is exact as well.
    kept, report = to_separable(model, rank=9, example_input=x, force=True)
    assert isinstance(kept[1], nn.BatchNorm2d) and not any(r.bn_folded for r in report.layers)


def test_unprofitable_layers_are_left_alone_with_a_reason():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(8, 32, 3, padding=1), nn.Conv2d(32, 16, 1), nn.Conv2d(16, 16, 3, groups=16),
                          nn.Conv2d(16, 4, 3))
    x = torch.randn(1, 8, 10, 10)
    new, report = to_separable(model, rank=1, example_input=x)
    rows = {r.name: r for r in report.layers}
    assert rows["0"].converted and rows["0"].macs_after < rows["0"].macs_before
    assert rows["0"].macs_after == 100 * (8 * 9 + 32 * 8) and rows["0"].macs_before == 100 * 8 * 32 * 9
    assert not rows["1"].converted and "1x1 kernel" in rows["1"].reason
    assert not rows["2"].converted and rows["2"].reason == "already depthwise"
    # 16 -> 4, 3x3: dense 4*16*9 = 576 MACs per position, rank r costs 16*9*r + 4*16*r = 208 r:
    # ranks 1 and 2 save MACs, ranks >= 3 do not.
    assert rows["3"].converted
    _, report9 = to_separable(model, rank=4, example_input=x)
    row = {r.name: r for r in report9.layers}["3"]
    assert not row.converted and "not fewer than the dense" in row.reason
    assert report.params_after < report.params_before
    assert report.macs_after == sum(r.macs_after for r in report.layers)
    assert "criterion rank=1" in report.to_markdown() and report.to_dict()["layers"][0]["name"] == "0"


def test_energy_criterion_picks_the_smallest_sufficient_rank():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(4, 32, 3, padding=1))
    x = torch.randn(1, 4, 6, 6)
    for energy in (0.3, 0.6, 0.9, 1.0):
        _, report = to_separable(model, energy=energy, example_input=x, force=True)
        row = report.layers[0]
        assert row.energy >= energy - 1e-9
        if row.rank > 1:
            lower = to_separable(model, rank=row.rank - 1, example_input=x, force=True)[1].layers[0]
            assert lower.energy < energy


def test_mac_budget_is_met_and_spent_where_it_helps():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(8, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1),
                          nn.Flatten(), nn.Linear(32 * 6 * 6, 10))
    x = torch.randn(1, 8, 6, 6)
    linear_macs = 32 * 36 * 10
    dense_total = 36 * 9 * 8 * 32 + 36 * 9 * 32 * 32 + linear_macs
    budgets = [dense_total // 6, dense_total // 3, dense_total // 2]
    previous_error = np.inf
    for budget in budgets:
        new, report = to_separable(model, max_macs=budget, example_input=x)
        assert report.macs_after + linear_macs <= budget
        assert report.output_error <= previous_error + 1e-6
        previous_error = report.output_error
    _, loose = to_separable(model, max_macs=10 * dense_total, example_input=x)
    assert loose.output_error < 1e-6  # the budget allows keeping everything exact


def test_layer_selection_and_default_probe():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 16, 3), nn.Conv2d(16, 16, 3))
    model.default_input_size = (3, 8, 8)
    _, report = to_separable(model, rank=1, layers=["1"])
    assert [r.name for r in report.layers] == ["1"]
    _, report = to_separable(model, rank=1, layers=lambda name, m: m.in_channels == 3)
    assert [r.name for r in report.layers] == ["0"]


def test_zoo_model_full_rank_with_bn_folding_is_exact():
    from dsconv.models import create_model

    torch.manual_seed(0)
    model = create_model("mobilenet_v1_dense", num_classes=10, width=0.25, resolution=32).eval()
    x = torch.randn(2, *model.default_input_size)
    new, report = to_separable(model, rank=9, fold_bn=True, force=True, example_input=x)
    assert len(report.converted) == sum(1 for r in report.layers if r.kernel_size != (1, 1))
    assert any(r.bn_folded for r in report.converted)
    assert max(r.output_error for r in report.converted) < 1e-5
    with torch.no_grad():
        torch.testing.assert_close(new(x), model(x), rtol=1e-4, atol=1e-5)
