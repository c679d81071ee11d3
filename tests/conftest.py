"""Shared test setup: one torch thread per worker, hypothesis profiles, the warm-start model."""

from __future__ import annotations

import os

import matplotlib
import pytest
import torch
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")
torch.set_num_threads(1)

# "ci": derandomized (the same examples every run), no deadline (a 2-core CI machine is slow
# and shared), bounded example counts. "dev": more examples, still no deadline.
settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=40,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", deadline=None, max_examples=200)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

FAST = os.environ.get("REWARD_SANDBOX_FAST", "1") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_collection(session):
    """No test module builds or loads a cached model when it is imported: under ``dev.py test`` the
    models are built beside the tests, and a pytest worker whose collection waits for a build runs
    no test meanwhile (one module loading 'tiny-noisy-fast' at import held both workers for about
    100 s of a CI run, one core idle for 45 s of them). Models are loaded in fixtures or tests."""
    from sandbox.train import recipes

    build = recipes.build

    def refuse(name: str):
        raise RuntimeError(f"cached model {name!r} requested while the tests are collected: load it in a fixture or "
                           "in the test (collection would wait for its build)")

    recipes.build = refuse
    try:
        yield
    finally:
        recipes.build = build


@pytest.fixture(scope="session")
def warmstart_tiny():
    """(model, task, state) of the cached 'tiny' warm-start preset (built once per cache)."""
    from sandbox.train import recipes

    return recipes.load("tiny")


@pytest.fixture(scope="session")
def warmstart_long_answer():
    """(model, task, state) of 'tiny-long-answer-fast', the fast copy of the 'tiny-long-answer'
    preset (DRO's reference-answer tests; ``recipes.FAST_COPIES``)."""
    from sandbox.train import recipes

    return recipes.load("tiny-long-answer-fast")
