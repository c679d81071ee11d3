import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from sandbox.rewards.dr_grpo import dr_grpo
from sandbox.rewards.grpo import grpo
from sandbox.rewards.process_grpo import process_grpo
from sandbox.rewards.registry import ESTIMATORS
from sandbox.rewards.return_to_go import return_to_go
from sandbox.rewards.rloo import rloo
from sandbox.rewards.rpp_baseline import rpp_baseline
from sandbox.rewards.tree_grpo import tree_grpo
from sandbox.testing.strategies import (
    EstimatorBatch,
    batch_permutations,
    estimator_batches,
    permute_batch,
    permuted_token_rewards,
    within_group_permutations,
)

ESTIMATOR_CASES = [
    (grpo, {}),
    (dr_grpo, {}),
    (rloo, {}),
    (rpp_baseline, {}),
    (return_to_go, {}),
    (return_to_go, {"gamma": 0.9, "baseline": "group_mean"}),
    (process_grpo, {}),
]
CASE_IDS = ["grpo", "dr_grpo", "rloo", "rpp_baseline", "rtg", "rtg_discounted_baseline", "process_grpo"]
OUTCOME_CENTRED = [grpo, dr_grpo, rloo]


def advantages(estimator, batch: EstimatorBatch, **options) -> torch.Tensor:
    return estimator(batch.rewards, batch.mask, batch.group, batch.step_ids, **options)


def row_returns(batch: EstimatorBatch) -> list[float]:
    """Σ_t r·m per row, computed with loops."""
    return [
        sum(float(batch.rewards[i, t]) for t in range(batch.mask.shape[1]) if batch.mask[i, t])
        for i in range(len(batch.group))
    ]


def row_value(adv: torch.Tensor, batch: EstimatorBatch) -> torch.Tensor:
    """[B] an outcome estimator's per-row advantage (read at the first response token)."""
    first = batch.mask.int().argmax(1)
    return adv[torch.arange(len(first)), first]


def groups_of(batch: EstimatorBatch) -> dict[int, list[int]]:
    members: dict[int, list[int]] = {}
    for i, g in enumerate(batch.group.tolist()):
        members.setdefault(g, []).append(i)
    return members


def test_the_estimators_here_are_registered():
    # every registered estimator (tree_grpo and gae included, each with its own module)
    # is checked under its kind by the property-testing kit in tests/test_testing_registry.py
    assert {case[0] for case in ESTIMATOR_CASES} <= set(ESTIMATORS.values())


def assert_permutes(batch: EstimatorBatch, order: torch.Tensor) -> None:
    for (estimator, options), name in zip(ESTIMATOR_CASES, CASE_IDS):
        expected = advantages(estimator, batch, **options)[order]
        got = advantages(estimator, permute_batch(batch, order), **options)
        torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4, msg=name)


@given(data=st.data())
def test_permuting_rows_within_a_group_permutes_advantages(data):
    batch = data.draw(estimator_batches())
    assert_permutes(batch, data.draw(within_group_permutations(batch.group)))


@given(data=st.data())
def test_permuting_rows_of_the_batch_permutes_advantages(data):
    batch = data.draw(estimator_batches())
    assert_permutes(batch, data.draw(batch_permutations(len(batch.group))))


@given(batch=estimator_batches())
def test_advantages_are_zero_off_the_response(batch):
    for estimator, options in ESTIMATOR_CASES:
        adv = advantages(estimator, batch, **options)
        assert adv.shape == batch.rewards.shape and adv.dtype == torch.float32
        assert torch.isfinite(adv).all()
        assert (adv[~batch.mask] == 0).all()


@given(batch=estimator_batches(layouts=("last",)), value=st.sampled_from([0.0, 0.1, 1.0, -0.7, 3.3]))
def test_a_group_of_equal_rewards_gets_zero_advantage(batch, value):
    first_group = batch.group[0]
    last = batch.mask.shape[1] - 1 - batch.mask.flip(1).int().argmax(1)
    rows = torch.arange(len(batch.group))[batch.group == first_group]
    rewards = batch.rewards.clone()
    rewards[rows, last[rows]] = value
    for estimator in OUTCOME_CENTRED:
        adv = advantages(estimator, batch._replace(rewards=rewards))
        assert (adv[rows] == 0).all()


@given(batch=estimator_batches())
def test_outcome_advantage_is_constant_over_a_row(batch):
    for estimator in OUTCOME_CENTRED:
        adv = advantages(estimator, batch)
        torch.testing.assert_close(adv, row_value(adv, batch)[:, None] * batch.mask)


@given(batch=estimator_batches())
def test_grpo_advantages_sum_to_zero_within_each_group(batch):
    per_row = row_value(grpo(*batch), batch).double()
    for rows in groups_of(batch).values():
        assert abs(float(per_row[rows].sum())) < 1e-4 * len(rows)


@given(
    batch=estimator_batches(layouts=("last",), pools=(st.sampled_from([-1.0, 0.0, 0.5, 1.0, 2.0]),)),
    scale=st.sampled_from([0.5, 2.0, 10.0]),
    shift=st.sampled_from([-3.0, 0.0, 1.5]),
)
def test_grpo_is_invariant_to_positive_affine_rewards(batch, scale, shift):
    last = batch.mask.shape[1] - 1 - batch.mask.flip(1).int().argmax(1)
    rows = torch.arange(len(batch.group))
    transformed = batch.rewards * batch.mask * scale
    transformed[rows, last] += shift
    expected = grpo(*batch)
    got = grpo(*batch._replace(rewards=transformed))
    torch.testing.assert_close(got, expected, atol=1e-3, rtol=1e-3)


@given(batch=estimator_batches())
def test_grpo_uses_the_unbiased_group_std(batch):
    returns = row_returns(batch)
    per_row = row_value(grpo(*batch), batch)
    for rows in groups_of(batch).values():
        values = [returns[i] for i in rows]
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
        for i in rows:
            expected = 0.0 if len(rows) == 1 else (returns[i] - mean) / (std + 1e-6)
            assert float(per_row[i]) == pytest.approx(expected, abs=2e-3, rel=1e-3)


@given(batch=estimator_batches())
def test_rloo_matches_the_leave_one_out_formula(batch):
    returns = row_returns(batch)
    members = groups_of(batch)
    expected = torch.zeros_like(batch.rewards)
    for i, g in enumerate(batch.group.tolist()):
        others = [returns[j] for j in members[g] if j != i]
        value = returns[i] - sum(others) / len(others) if others else 0.0
        for t in range(batch.mask.shape[1]):
            if batch.mask[i, t]:
                expected[i, t] = value
    torch.testing.assert_close(rloo(*batch), expected, atol=1e-4, rtol=1e-4)


@given(batch=estimator_batches())
def test_rpp_baseline_matches_group_centring_then_batch_whitening(batch):
    returns = row_returns(batch)
    members = groups_of(batch)
    tokens = []
    for i, g in enumerate(batch.group.tolist()):
        centred = returns[i] - sum(returns[j] for j in members[g]) / len(members[g])
        tokens += [(i, t, centred) for t in range(batch.mask.shape[1]) if batch.mask[i, t]]
    mean = sum(v for _, _, v in tokens) / len(tokens)
    std = math.sqrt(sum((v - mean) ** 2 for _, _, v in tokens) / (len(tokens) - 1)) if len(tokens) > 1 else 0.0
    expected = torch.zeros_like(batch.rewards)
    for i, t, v in tokens:
        expected[i, t] = (v - mean) / (std + 1e-6)
    torch.testing.assert_close(rpp_baseline(*batch), expected, atol=2e-3, rtol=1e-3)


@given(
    batch=estimator_batches(),
    gamma=st.sampled_from([1.0, 0.9, 0.5]),
    baseline=st.sampled_from(["none", "group_mean"]),
)
def test_return_to_go_matches_its_formula(batch, gamma, baseline):
    n_rows, width = batch.mask.shape
    to_go = [
        [
            sum(gamma ** (u - t) * float(batch.rewards[i, u]) for u in range(t, width) if batch.mask[i, u])
            for t in range(width)
        ]
        for i in range(n_rows)
    ]
    first = [min(t for t in range(width) if batch.mask[i, t]) for i in range(n_rows)]
    totals = [to_go[i][first[i]] for i in range(n_rows)]
    members = groups_of(batch)
    expected = torch.zeros_like(batch.rewards)
    for i, g in enumerate(batch.group.tolist()):
        b = sum(totals[j] for j in members[g]) / len(members[g]) if baseline == "group_mean" else 0.0
        for t in range(width):
            if batch.mask[i, t]:
                expected[i, t] = to_go[i][t] - b
    got = return_to_go(*batch, gamma=gamma, baseline=baseline)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


@given(batch=estimator_batches())
def test_process_grpo_matches_its_formula(batch):
    n_rows, width = batch.mask.shape
    ends = {}
    for i in range(n_rows):
        for t in range(width):
            step = int(batch.step_ids[i, t])
            is_last = t == width - 1 or not batch.mask[i, t + 1] or int(batch.step_ids[i, t + 1]) != step
            if batch.mask[i, t] and step >= 0 and is_last:
                ends[(i, t)] = float(batch.rewards[i, t])
    normalised = {}
    for rows in groups_of(batch).values():
        keys = [key for key in ends if key[0] in rows]
        values = [ends[key] for key in keys]
        if len(values) < 2:
            normalised.update({key: 0.0 for key in keys})
            continue
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
        normalised.update({key: (ends[key] - mean) / (std + 1e-6) for key in keys})
    expected = torch.zeros_like(batch.rewards)
    for i in range(n_rows):
        for t in range(width):
            if batch.mask[i, t]:
                expected[i, t] = sum(v for (row, u), v in normalised.items() if row == i and u >= t)
    torch.testing.assert_close(process_grpo(*batch), expected, atol=2e-3, rtol=1e-3)


def test_process_grpo_with_outcome_only_reward_credits_every_token_of_the_row():
    # Two rows of one group, one step each ending on the last token: r = 1 and r = 0.
    mask = torch.tensor([[False, True, True], [False, True, True]])
    step_ids = torch.tensor([[-1, 0, 0], [-1, 0, 0]])
    rewards = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    adv = process_grpo(rewards, mask, torch.tensor([7, 7]), step_ids)
    z = 0.5 / (math.sqrt(0.5) + 1e-6)
    torch.testing.assert_close(adv, torch.tensor([[0.0, z, z], [0.0, -z, -z]]))


def test_single_row_groups_have_no_baseline():
    mask = torch.tensor([[True, True]])
    rewards = torch.tensor([[0.0, 1.0]])
    group, step_ids = torch.tensor([3]), torch.tensor([[0, 0]])
    for estimator in (grpo, dr_grpo, rloo, process_grpo):
        assert (estimator(rewards, mask, group, step_ids) == 0).all()


def tree_grpo_two_trees(rewards, mask, group, step_ids):
    return tree_grpo(rewards, mask, group, step_ids, tree=torch.arange(len(group)) % 2)


EQUAL_TOTAL_ESTIMATORS = {
    "grpo": grpo, "dr_grpo": dr_grpo, "rloo": rloo, "rpp_baseline": rpp_baseline, "tree_grpo": tree_grpo_two_trees,
}
"""Outcome estimators, all of which must give exactly 0 to a group whose rows' totals are equal."""

FLOAT32_UNEQUAL_ROWS = [[0.87, 0.62, 0.58, 0.88], [0.88, 0.58, 0.62, 0.87], [0.58, 0.62, 0.87, 0.88]]
"""One multiset of token rewards in three orders: summed in float32 the totals are 2.9499998,
2.9499998 and 2.9500003 (one ulp apart), which GRPO used to turn into advantages -0.125,
-0.125, 0.249."""


def dense_batch(rows: torch.Tensor, prompt: int = 0) -> EstimatorBatch:
    """One group: ``rows`` [G, L] of token rewards on the response, after ``prompt`` prompt tokens
    carrying reward 5 (which must be ignored)."""
    n, length = rows.shape
    rewards = torch.cat([torch.full((n, prompt), 5.0), rows], dim=1)
    mask = torch.cat([torch.zeros(n, prompt, dtype=torch.bool), torch.ones(n, length, dtype=torch.bool)], dim=1)
    step_ids = torch.where(mask, 0, -1)
    return EstimatorBatch(rewards, mask, torch.full((n,), 4), step_ids)


def test_token_rewards_summing_to_one_total_in_any_order_give_zero_advantages():
    batch = dense_batch(torch.tensor(FLOAT32_UNEQUAL_ROWS))
    for name, estimator in EQUAL_TOTAL_ESTIMATORS.items():
        assert (advantages(estimator, batch) == 0).all(), name


@given(data=st.data())
def test_rows_with_permuted_token_rewards_get_zero_advantages(data):
    n_rows, length = data.draw(st.integers(2, 6)), data.draw(st.integers(1, 8))
    batch = dense_batch(data.draw(permuted_token_rewards(n_rows, length)), prompt=data.draw(st.integers(0, 3)))
    for name, estimator in EQUAL_TOTAL_ESTIMATORS.items():
        assert (advantages(estimator, batch) == 0).all(), name
