"""Shared test configuration: hypothesis profile, deterministic seeds, a call counter."""

from __future__ import annotations

import os
from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest
from hypothesis import settings

# Small, deterministic property tests: the suite has a time budget (see README, "Tests").
settings.register_profile("dsconv", max_examples=25, deadline=None, derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dsconv"))


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, seeded NumPy generator per test."""
    return np.random.default_rng(0)


@pytest.fixture
def count_calls(monkeypatch) -> Callable[[ModuleType, str], list[int]]:
    """``count_calls(module, name)`` wraps ``module.name`` for the test's duration (calls still go through) and
    returns the list that gets one entry per call."""

    def patch(module: ModuleType, name: str) -> list[int]:
        calls: list[int] = []
        real = getattr(module, name)

        def counting(*args, **kwargs):
            calls.append(1)
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, counting)
        return calls

    return patch
