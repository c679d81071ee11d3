"""The calibration reward (RLCR): bounds, properness, missing confidence, placement."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from sandbox.rewards.base import RewardContext
from sandbox.rewards.brier import brier, brier_reward, stated_confidences
from sandbox.rewards.outcome import outcome
from sandbox.rollout.rollouts import Rollouts
from toy_envs import make_task

TASK = make_task("arithmetic", n_steps=2, operators="+-", start_max=50, confidence_line=True)
NAN = float("nan")

confidences = st.one_of(st.just(NAN), st.floats(0.0, 1.0, allow_nan=False, width=32))


@given(st.lists(st.tuples(st.booleans(), confidences), min_size=1, max_size=32))
def test_reward_is_bounded_and_on_the_right_side_of_zero(rows):
    correct = torch.tensor([c for c, _ in rows])
    reward = brier_reward(correct, torch.tensor([q for _, q in rows]))
    assert ((reward >= -1) & (reward <= 1)).all()
    assert (reward[correct] >= 0).all() and (reward[~correct] <= 0).all()


@given(st.lists(st.booleans(), min_size=1, max_size=16), st.floats(0.0, 1.0, allow_nan=False))
def test_missing_confidence_scores_like_the_worst_stated_one(correct, q):
    correct = torch.tensor(correct)
    missing = brier_reward(correct, torch.full(correct.shape, NAN))
    worst = brier_reward(correct, 1.0 - correct.float())
    stated = brier_reward(correct, torch.full(correct.shape, q))
    assert torch.equal(missing, worst)
    assert (missing <= stated).all()
    assert torch.equal(missing, correct.float() - 1.0)


def expected_reward(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """E over correctness ~ Bernoulli(p) of the reward for stating q, summed by hand."""
    right = brier_reward(torch.ones_like(q, dtype=torch.bool), q)
    wrong = brier_reward(torch.zeros_like(q, dtype=torch.bool), q)
    return p * right + (1 - p) * wrong


@given(st.integers(0, 1000))
def test_expected_reward_is_maximised_at_the_true_probability(p_thousandths):
    """Proper scoring rule, checked by brute force over a grid of 1001 confidences."""
    p = torch.tensor(p_thousandths / 1000, dtype=torch.float64)
    grid = torch.linspace(0, 1, 1001, dtype=torch.float64)
    values = expected_reward(p, grid)
    best = grid[values.argmax()]
    assert abs(float(best) - float(p)) < 1e-9
    # strictly proper: every other q loses by exactly (q - p)^2
    assert torch.allclose(expected_reward(p, p.reshape(1)) - values, (grid - p) ** 2, atol=1e-12)


def test_source_places_the_reward_on_the_last_token_and_parses_each_row():
    problem = TASK.problem(3)
    gold = TASK.gold_solution(problem).split("conf:")[0]
    wrong = gold.replace("#", "#1")
    texts = [gold + "conf: 0.9\n", gold + "conf: 0.3", wrong + "conf: 0.2\n", wrong + "conf: 2\n", gold, "garbage"]
    rollouts = Rollouts.from_texts(TASK, [problem] * len(texts), texts)
    rewards = brier(rollouts, RewardContext(task=TASK))
    rows = torch.arange(len(texts))
    assert (rewards.sum(-1) == rewards[rows, rollouts.last_token]).all()
    expected = [1 - 0.1**2, 1 - 0.7**2, -(0.2**2), -1.0, 0.0, -1.0]
    assert rewards.sum(-1).tolist() == pytest.approx(expected, abs=1e-6)
    assert torch.isnan(stated_confidences(texts)).tolist() == [False, False, False, True, True, True]


def test_on_a_task_without_confidence_lines_it_is_the_outcome_reward_minus_one():
    task = make_task("arithmetic", n_steps=2)
    problems = [task.problem(i) for i in (0, 0, 1)]
    texts = [task.gold_solution(problems[0]), "#-1\n", "garbage"]
    rollouts = Rollouts.from_texts(task, problems, texts)
    ctx = RewardContext(task=task)
    assert torch.equal(brier(rollouts, ctx).sum(-1), outcome(rollouts, ctx).sum(-1) - 1)
