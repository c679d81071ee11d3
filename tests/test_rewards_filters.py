import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from sandbox.rewards.base import RewardContext
from sandbox.rewards.mean_range_filter import mean_range_filter
from sandbox.rewards.outcome import outcome
from sandbox.rewards.variance_filter import variance_filter
from sandbox.rollout.rollouts import Rollouts
from sandbox.testing.strategies import REWARD_POOLS, permuted_token_rewards, rollouts_batches
from toy_envs import ConfigError, make_task

TASK = make_task("arithmetic", n_steps=2)
CTX = RewardContext(task=TASK)


def groups_of(rollouts) -> dict[int, list[int]]:
    members: dict[int, list[int]] = {}
    for i, g in enumerate(rollouts.group.tolist()):
        members.setdefault(g, []).append(i)
    return members


@st.composite
def rewarded_rollouts(draw):
    """Rollouts with token rewards drawn from a reward pool on the last response token."""
    rollouts = draw(rollouts_batches(TASK, max_groups=5, max_group_size=6))
    pool = draw(st.lists(draw(st.sampled_from(REWARD_POOLS)), min_size=1, max_size=4))
    values = draw(st.lists(st.sampled_from(pool), min_size=len(rollouts), max_size=len(rollouts)))
    rewards = torch.zeros(rollouts.tokens.shape)
    rewards[torch.arange(len(rollouts)), rollouts.last_token] = torch.tensor(values)
    return rollouts, rewards


def check_group_filter(result, rollouts, metric: list[float], keeps_group) -> None:
    """The result keeps exactly the groups ``keeps_group(values)`` accepts, whole, and counts
    every dropped constant group in ``collapsed``."""
    members = groups_of(rollouts)
    expected_collapsed: dict[float, int] = {}
    kept = 0
    for rows in members.values():
        values = [metric[i] for i in rows]
        keep = keeps_group(values)
        kept += keep
        assert all(bool(result.keep[i]) == keep for i in rows)
        if not keep and len(set(values)) == 1:
            expected_collapsed[values[0]] = expected_collapsed.get(values[0], 0) + 1
    assert result.keep.dtype == torch.bool and result.keep.shape == (len(rollouts),)
    assert result.info["groups"] == len(members)
    assert result.info["kept_groups"] == kept
    assert result.info["collapsed"] == pytest.approx(expected_collapsed)


def population_variance(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / len(values)


@given(rewarded_rollouts())
def test_variance_filter_on_accuracy_drops_exactly_the_zero_variance_groups(case):
    rollouts, rewards = case
    result = variance_filter(rollouts, rewards, CTX)
    accuracy = [float(v.correct) for v in rollouts.verdicts]
    check_group_filter(result, rollouts, accuracy, lambda values: population_variance(values) > 0)
    dropped = result.info["groups"] - result.info["kept_groups"]
    assert sum(result.info["collapsed"].values()) == dropped
    assert set(result.info["collapsed"]) <= {0.0, 1.0}


@given(rewarded_rollouts())
def test_variance_filter_on_reward_drops_exactly_the_constant_groups(case):
    rollouts, rewards = case
    result = variance_filter(rollouts, rewards, CTX, metric="reward")
    totals = [float(rewards[i].sum()) for i in range(len(rollouts))]
    check_group_filter(result, rollouts, totals, lambda values: len(set(values)) > 1)
    assert sum(result.info["collapsed"].values()) == result.info["groups"] - result.info["kept_groups"]


@given(rewarded_rollouts())
def test_variance_filter_on_outcome_reward_agrees_with_accuracy(case):
    rollouts, _ = case
    rewards = outcome(rollouts, CTX)
    by_reward = variance_filter(rollouts, rewards, CTX, metric="reward")
    by_accuracy = variance_filter(rollouts, rewards, CTX)
    assert torch.equal(by_reward.keep, by_accuracy.keep)
    assert by_reward.info == by_accuracy.info


def test_variance_filter_drops_single_rows_and_keeps_split_pairs():
    problems = [TASK.problem(0), TASK.problem(1), TASK.problem(1), TASK.problem(2), TASK.problem(2)]
    gold = [TASK.gold_solution(p) for p in problems]
    rollouts = Rollouts.from_texts(TASK, problems, [gold[0], gold[1], "#x", gold[3], gold[4]])
    result = variance_filter(rollouts, outcome(rollouts, CTX), CTX)
    assert result.keep.tolist() == [False, True, True, False, False]
    assert result.info == {"groups": 3, "kept_groups": 1, "collapsed": {1.0: 2}}


@given(rewarded_rollouts(), st.sampled_from([(0.0, 1.0), (0.25, 0.75), (0.0, 0.5), (0.5, 1.0), (-1.0, 2.0)]))
def test_mean_range_filter_matches_a_naive_check(case, bounds):
    rollouts, rewards = case
    lo, hi = bounds
    result = mean_range_filter(rollouts, rewards, CTX, lo=lo, hi=hi)
    accuracy = [float(v.correct) for v in rollouts.verdicts]
    check_group_filter(result, rollouts, accuracy, lambda values: lo < sum(values) / len(values) < hi)


def test_filter_params_are_checked():
    rollouts = Rollouts.from_texts(TASK, [TASK.problem(0)], ["#1"])
    with pytest.raises(ConfigError, match="metric"):
        variance_filter(rollouts, outcome(rollouts, CTX), CTX, metric="loss")
    with pytest.raises(ConfigError, match="lo"):
        mean_range_filter(rollouts, outcome(rollouts, CTX), CTX, lo=0.5, hi=0.5)


def dense_rewards_on_gold(rows: torch.Tensor):
    """Rollouts of one problem answered with its gold solution G times, and token rewards
    ``rows`` [G, L] on the first L response tokens of each row."""
    problem = TASK.problem(3)
    rollouts = Rollouts.from_texts(TASK, [problem] * len(rows), [TASK.gold_solution(problem)] * len(rows))
    rewards = torch.zeros(rollouts.tokens.shape)
    start = int(rollouts.prompt_lens[0])
    rewards[:, start : start + rows.shape[1]] = rows
    return rollouts, rewards


def test_token_rewards_summing_to_one_total_in_any_order_are_a_zero_variance_group():
    rows = torch.tensor([[0.87, 0.62, 0.58, 0.88], [0.88, 0.58, 0.62, 0.87], [0.58, 0.62, 0.87, 0.88]])
    result = variance_filter(*dense_rewards_on_gold(rows), CTX, metric="reward")
    assert not result.keep.any() and list(result.info["collapsed"].values()) == [1]
    assert list(result.info["collapsed"]) == pytest.approx([2.95])


@given(data=st.data())
def test_rows_with_permuted_token_rewards_are_dropped_by_the_variance_filter(data):
    rows = data.draw(permuted_token_rewards(data.draw(st.integers(1, 6)), data.draw(st.integers(1, 8))))
    result = variance_filter(*dense_rewards_on_gold(rows), CTX, metric="reward")
    assert not result.keep.any()
