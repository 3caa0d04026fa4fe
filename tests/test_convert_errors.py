"""Bad input to to_separable: clear errors naming the argument."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dsconv.convert import to_separable


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1))


X = torch.zeros(1, 3, 6, 6)


def test_criterion_must_be_exactly_one():
    with pytest.raises(ValueError, match="exactly one of `rank`, `energy`, `max_macs` must be given. Received rank=None"):
        to_separable(_model(), example_input=X)
    with pytest.raises(ValueError, match="exactly one of .* Received rank=1, energy=0.5"):
        to_separable(_model(), rank=1, energy=0.5, example_input=X)


@pytest.mark.parametrize("rank", [0, -2])
def test_rank_below_one(rank):
    with pytest.raises(ValueError, match=rf"`rank` must be a positive integer \(>= 1\). Received rank={rank}"):
        to_separable(_model(), rank=rank, example_input=X)


@pytest.mark.parametrize("energy", [0.0, 1.5, -0.1])
def test_energy_outside_unit_interval(energy):
    with pytest.raises(ValueError, match=rf"`energy` must be in \(0, 1\]. Received energy={energy}"):
        to_separable(_model(), energy=energy, example_input=X)


def test_model_without_convolutions():
    with pytest.raises(ValueError, match="`model` must contain nn.Conv1d/2d/3d layers to convert. Received model=Sequential"):
        to_separable(nn.Sequential(nn.Linear(3, 4)), rank=1, example_input=torch.zeros(1, 3))
    with pytest.raises(TypeError, match="`model` must be a torch.nn.Module"):
        to_separable("resnet", rank=1)


def test_budget_no_conversion_can_meet():
    with pytest.raises(ValueError, match="`max_macs` cannot be met: the cheapest conversion .* needs [0-9,]+ MACs per sample. Received max_macs=10"):
        to_separable(_model(), max_macs=10, example_input=X)


def test_probe_and_layer_names():
    with pytest.raises(ValueError, match="`example_input` must be given for a model without `default_input_size`"):
        to_separable(_model(), rank=1)
    with pytest.raises(ValueError, match=r"`layers` must name convolutions of the model .* Received unknown layers=\['7'\]"):
        to_separable(_model(), rank=1, layers=["7"], example_input=X)
    with pytest.raises(TypeError, match="`example_input` must be a torch.Tensor batch"):
        to_separable(_model(), rank=1, example_input=[[1.0]])
