"""The experiment registry, configs and the synthetic task generators (fast: no training here)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from dsconv.data.synthetic import gratings_rings, gratings_rings_weights, relative_position, shift_task
from dsconv.experiments import get_experiment, list_experiments, make_config

MINE = ("early_late", "flops_vs_wallclock", "mobilenet_tables", "sample_efficiency", "shift_task")


def test_registry_discovers_every_experiment_module():
    names = list_experiments()
    assert set(MINE) <= set(names)
    assert names == sorted(names)
    assert "conversion" in names  # written by another part, picked up by discovery
    assert not any(n.startswith("_") for n in names)


@pytest.mark.parametrize("name", MINE)
def test_experiment_module_contract(name):
    module = get_experiment(name)
    assert module.NAME == name and module.TITLE and module.DESCRIPTION
    quick, full = module.Config(), module.Config.full()
    assert dataclasses.is_dataclass(quick) and quick.seed == 0
    assert callable(module.run) and callable(module.plot)
    assert quick != full or name == "mobilenet_tables"


def test_unknown_name_suggests_close_names():
    with pytest.raises(ValueError, match=r"Did you mean 'shift_task'\?.*Received name='shift_tsk'"):
        get_experiment("shift_tsk")
    with pytest.raises(ValueError, match=r"`name` must be a registered experiment.*Received name='zzz'"):
        get_experiment("zzz")
    with pytest.raises(TypeError, match=r"`name` must be a string"):
        get_experiment(3)


def test_make_config_overrides_and_errors():
    cfg = make_config("shift_task", seed=7, steps=5)
    assert cfg.seed == 7 and cfg.steps == 5
    assert make_config("shift_task", full=True).steps > make_config("shift_task").steps
    with pytest.raises(ValueError, match=r"`overrides` must name fields of shift_task.Config.*bogus"):
        make_config("shift_task", bogus=1)
    with pytest.raises(ValueError, match=r"`seed` must be a non-negative integer.*Received seed=-1"):
        make_config("shift_task", seed=-1)


@pytest.mark.parametrize(
    ("name", "overrides", "error", "pattern"),
    [
        ("sample_efficiency", {"sizes": (16, 0)}, ValueError, r"`sizes` must be a positive integer.*Received sizes=0"),
        ("sample_efficiency", {"sizes": []}, TypeError, r"`sizes` must be a non-empty tuple"),
        ("sample_efficiency", {"kernel_size": 40}, ValueError, r"`kernel_size` must be <= image_size=16"),
        ("shift_task", {"kernel_size": 2}, ValueError, r"`kernel_size` must be odd and >= 2\*max"),
        ("shift_task", {"d2": -1}, ValueError, r"`d2` must differ from `d1`"),
        ("shift_task", {"n_train": 0}, ValueError, r"`n_train` must be a positive integer.*Received n_train=0"),
        ("early_late", {"image_size": 8}, ValueError, r"`image_size` must be at least 10.*Received image_size=8"),
        ("early_late", {"lr": -1.0}, ValueError, r"`lr` must be a finite number > 0"),
        ("flops_vs_wallclock", {"resolution": 100}, ValueError, r"`resolution` must be a multiple of 32"),
        ("flops_vs_wallclock", {"repeats": 0}, ValueError, r"`repeats` must be a positive integer"),
        ("mobilenet_tables", {"num_classes": 0}, ValueError, r"`num_classes` must be a positive integer"),
    ],
)
def test_invalid_config_values(name, overrides, error, pattern):
    with pytest.raises(error, match=pattern):
        make_config(name, **overrides)


def test_gratings_rings_is_seeded_balanced_and_linear_in_presence():
    x, y = gratings_rings(64, size=12, seed=3)
    x2, y2 = gratings_rings(64, size=12, seed=3)
    assert x.shape == (64, 3, 12, 12) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert 0.25 < y.mean() < 0.75
    w = gratings_rings_weights(3)
    assert np.sign(w).tolist() == [1.0, -1.0, 1.0]  # which patterns, not how many
    with pytest.raises(ValueError, match=r"`channels` must be at most 5"):
        gratings_rings(4, channels=6)
    with pytest.raises(ValueError, match=r"`n` must be a positive integer.*Received n=0"):
        gratings_rings(0)
    with pytest.raises(ValueError, match=r"`size` must be at least 4"):
        gratings_rings(2, size=3)


def test_shift_task_targets_are_circular_shifts():
    x, y = shift_task(5, size=8, d1=-2, d2=1, seed=1)
    assert x.shape == (5, 1, 8, 8) and y.shape == (5, 2, 8, 8)
    np.testing.assert_array_equal(y[:, 0], np.roll(x[:, 0], -2, axis=-1))
    np.testing.assert_array_equal(y[:, 1], np.roll(x[:, 0], 1, axis=-1))
    with pytest.raises(ValueError, match=r"`d1` must satisfy \|d1\| < size=8. Received d1=9"):
        shift_task(2, size=8, d1=9)
    with pytest.raises(TypeError, match=r"`d2` must be an integer"):
        shift_task(2, d2=1.5)


def test_relative_position_labels_match_object_positions():
    x, y = relative_position(40, size=12, noise=0, seed=2)
    assert x.shape == (40, 3, 12, 12) and set(np.unique(y)) <= {0, 1, 2, 3}
    for img, label in zip(x, y):
        ra, ca = np.argwhere(img[0] > 0).mean(axis=0)
        rb, cb = np.argwhere(img[1] > 0).mean(axis=0)
        expected = {0: ca > cb, 1: ca < cb, 2: ra > rb, 3: ra < rb}[int(label)]
        assert expected
    with pytest.raises(ValueError, match=r"`size` must be at least 10. Received size=9"):
        relative_position(3, size=9)
