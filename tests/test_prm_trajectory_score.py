"""Trajectory aggregation of step scores."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.prm.trajectory_score import TRAJECTORY_SCORES, trajectory_score
from sandbox.prm.oracle_labels import oracle_labels
from sandbox.testing.strategies import rollouts_batches
from toy_envs import ConfigError, make_task

SCORES = st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=1, max_size=8)
TASK = make_task("arithmetic", n_steps=2)


@given(scores=SCORES)
def test_min_le_geo_mean_le_max_and_product_le_geo_mean(scores):
    lo, geo, prod = trajectory_score(scores, "min"), trajectory_score(scores, "geo_mean"), trajectory_score(scores, "product")
    assert lo <= geo * (1 + 1e-12) and geo <= max(scores) * (1 + 1e-12)
    assert prod <= geo * (1 + 1e-12)
    assert trajectory_score(scores, "last") == scores[-1]


@given(scores=SCORES)
def test_product_and_geo_mean_match_the_naive_formulas(scores):
    prod = 1.0
    for s in scores:
        prod *= s
    assert math.isclose(trajectory_score(scores, "product"), prod, rel_tol=1e-9, abs_tol=1e-300)
    assert math.isclose(trajectory_score(scores, "geo_mean"), prod ** (1 / len(scores)), rel_tol=1e-9, abs_tol=1e-12)


@given(rollouts=rollouts_batches(TASK))
def test_an_oracle_prm_ranks_every_all_valid_chain_above_every_chain_with_an_invalid_step(rollouts):
    labels = oracle_labels(rollouts.verdicts)
    for how in TRAJECTORY_SCORES[:3]:
        valid = [trajectory_score(y, how) for y, v in zip(labels, rollouts.verdicts) if v.first_error is None and v.n_steps]
        invalid = [trajectory_score(y, how) for y, v in zip(labels, rollouts.verdicts) if v.first_error is not None]
        assert all(a > b for a in valid for b in invalid)


def test_empty_solutions_score_zero_and_unknown_aggregations_are_rejected():
    assert all(trajectory_score([], how) == 0.0 for how in TRAJECTORY_SCORES)
    with pytest.raises(ConfigError, match="how="):
        trajectory_score([0.5], "mean")
