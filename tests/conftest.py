"""Shared test configuration: hypothesis profile and deterministic seeds."""

from __future__ import annotations

import os

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
