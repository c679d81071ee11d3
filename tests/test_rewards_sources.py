import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from sandbox.rewards.base import RewardContext
from sandbox.rewards.brier import brier
from sandbox.rewards.format_rubric import format_rubric
from sandbox.rewards.incorrect_label import gold_answer_content, incorrect_label, wrong_label
from sandbox.rewards.outcome import outcome
from sandbox.rewards.overlong import overlong, soft_overlong_penalty
from sandbox.rewards.random_reward import random_reward
from sandbox.rewards.registry import SOURCES
from sandbox.rollout.rollouts import Rollouts
from sandbox.testing.strategies import rollouts_batches
from toy_envs import ConfigError, make_task

TASK = make_task("arithmetic", n_steps=2)
LAST_TOKEN_SOURCES = [
    (outcome, {}),
    (format_rubric, {}),
    (format_rubric, {"binary": True}),
    (overlong, {}),
    (random_reward, {}),
    (incorrect_label, {}),
    (brier, {}),
]


def last_token_mask(rollouts) -> torch.Tensor:
    mask = torch.zeros(rollouts.tokens.shape, dtype=torch.bool)
    mask[torch.arange(len(rollouts)), rollouts.last_token] = True
    return mask


def test_the_outcome_type_sources_here_are_registered():
    # every registered source, dense and step-level ones included, is checked under its kind by
    # the property-testing kit in tests/test_testing_registry.py; this module covers these
    assert {case[0] for case in LAST_TOKEN_SOURCES} <= set(SOURCES.values())


@given(rollouts=rollouts_batches(TASK), step=st.integers(0, 5))
def test_outcome_type_sources_reward_only_the_last_response_token(rollouts, step):
    ctx = RewardContext(task=TASK, step=step, max_new_tokens=24)
    last = last_token_mask(rollouts)
    assert (last <= rollouts.response_mask).all()
    for source, params in LAST_TOKEN_SOURCES:
        rewards = source(rollouts, ctx, **params)
        assert rewards.shape == rollouts.tokens.shape and rewards.dtype == torch.float32
        assert (rewards[~last] == 0).all(), source.__name__


@given(rollouts=rollouts_batches(TASK))
def test_outcome_is_correctness_and_unparseable_answers_get_zero(rollouts):
    values = outcome(rollouts, RewardContext(task=TASK))[last_token_mask(rollouts)]
    for value, verdict in zip(values.tolist(), rollouts.verdicts):
        assert value == float(verdict.correct)
        if verdict.parse_status in ("no_answer", "bad_answer"):
            assert value == 0.0


@given(rollouts=rollouts_batches(TASK))
def test_format_rubric_is_the_task_rubric(rollouts):
    ctx = RewardContext(task=TASK)
    last = last_token_mask(rollouts)
    scores = format_rubric(rollouts, ctx)[last].tolist()
    binary = format_rubric(rollouts, ctx, binary=True)[last].tolist()
    for text, score, perfect in zip(rollouts.texts, scores, binary):
        rubric = TASK.format_rubric(text)
        assert score == pytest.approx(rubric.score)
        assert perfect == float(rubric.well_formed and rubric.answer_present)


def rows_of_lengths(lengths: list[int]):
    """One row per response length (``<eos>`` included), all answering problem 0."""
    problems = [TASK.problem(0)] * len(lengths)
    return Rollouts.from_texts(TASK, problems, ["1" * (n - 1) for n in lengths])


def test_overlong_penalty_at_its_boundaries():
    max_len, cache = 20, 5
    rollouts = rows_of_lengths([1, 14, 15, 16, 18, 20, 21, 30])
    got = overlong(rollouts, RewardContext(task=TASK, max_new_tokens=max_len), cache_len=cache)
    values = got[last_token_mask(rollouts)].tolist()
    assert values == pytest.approx([0.0, 0.0, 0.0, -0.2, -0.6, -1.0, -1.0, -1.0])


@given(max_len=st.integers(1, 40), cache=st.integers(1, 40), length=st.integers(1, 60))
def test_overlong_penalty_matches_the_piecewise_formula(max_len, cache, length):
    cache = min(cache, max_len)
    if length <= max_len - cache:
        expected = 0.0
    elif length <= max_len:
        expected = ((max_len - cache) - length) / cache
    else:
        expected = -1.0
    got = soft_overlong_penalty(torch.tensor([length]), max_len, cache)
    assert float(got) == pytest.approx(expected, abs=1e-6)


def test_overlong_default_cache_is_a_fifth_of_the_budget():
    """DAPO: a 4,096-token cache at the end of a 20,480-token maximum (1/5)."""
    rollouts = rows_of_lengths([16, 17, 18, 20, 21])
    got = overlong(rollouts, RewardContext(task=TASK, max_new_tokens=20))[last_token_mask(rollouts)]
    assert got.tolist() == pytest.approx([0.0, -0.25, -0.5, -1.0, -1.0])
    with pytest.raises(ConfigError, match="cache_len"):
        overlong(rollouts, RewardContext(task=TASK, max_new_tokens=16), cache_len=0)


def test_dapo_penalty_is_in_dapos_proportion_to_the_outcome():
    """DAPO's outcome spans 2 (±1) and its penalty reaches −1; the sandbox's outcome spans 1, so
    the dapo variant's full penalty is half the outcome's span: a correct row that runs past the
    budget is worth the midpoint between a correct and a wrong row of normal length."""
    from sandbox.rewards.registry import compute_token_rewards, get_variant

    gold = TASK.gold_solution(TASK.problem(0))
    wrong = gold.replace("#", "#9")
    long = gold + "1" * 30
    rollouts = Rollouts.from_texts(TASK, [TASK.problem(0)] * 3, [gold, wrong, long])
    ctx = RewardContext(task=TASK, max_new_tokens=40)  # gold and wrong rows end before the cache, long past it
    totals = compute_token_rewards(get_variant("dapo"), rollouts, ctx).sum(-1)
    span = float(totals[0] - totals[1])
    assert span == pytest.approx(1.0)
    assert float(totals[0] - totals[2]) == pytest.approx(span / 2)


def many_rows(n_problems: int, group_size: int):
    problems = [TASK.problem(i) for i in range(n_problems) for _ in range(group_size)]
    return Rollouts.from_texts(TASK, problems, ["#1"] * len(problems))


def test_random_reward_is_keyed_by_seed_step_problem_and_rollout():
    rollouts = many_rows(40, 4)
    ctx = RewardContext(task=TASK, seed=3, step=2)
    values = random_reward(rollouts, ctx)[last_token_mask(rollouts)]
    assert torch.equal(values, random_reward(rollouts, ctx)[last_token_mask(rollouts)])
    order = torch.randperm(len(rollouts), generator=torch.Generator().manual_seed(0))[:50]
    subset = rollouts.select(order)
    assert torch.equal(random_reward(subset, ctx)[last_token_mask(subset)], values[order])
    other_step = random_reward(rollouts, RewardContext(task=TASK, seed=3, step=3))[last_token_mask(rollouts)]
    other_seed = random_reward(rollouts, RewardContext(task=TASK, seed=4, step=2))[last_token_mask(rollouts)]
    assert not torch.equal(values, other_step) and not torch.equal(values, other_seed)


def test_random_reward_is_a_fair_coin_over_many_rows():
    rollouts = many_rows(500, 4)
    values = random_reward(rollouts, RewardContext(task=TASK, seed=1))[last_token_mask(rollouts)]
    assert set(values.tolist()) == {0.0, 1.0}
    assert abs(values.mean().item() - 0.5) < 0.05  # 2000 rows: std of the mean ≈ 0.011
    biased = random_reward(rollouts, RewardContext(task=TASK, seed=1), p=0.2)[last_token_mask(rollouts)]
    assert abs(biased.mean().item() - 0.2) < 0.05


def plus_one_on_last_number(gold: str, op_path: bool) -> str:
    """``"14"`` -> ``"15"``, ``"7,14"`` -> ``"7,15"``, op path ``"*2,+3,-1"`` -> ``"*2,+3,-2"``."""
    *head, last = gold.split(",")
    symbol = last[0] if op_path else ""
    return ",".join([*head, f"{symbol}{int(last[len(symbol):]) + 1}"])


@pytest.mark.parametrize(
    ("task", "op_path"),
    [
        (make_task("arithmetic", n_steps=2), False),
        (make_task("arithmetic", n_steps=3, long_answer=True), False),
        (make_task("tree"), True),
    ],
    ids=["short", "long", "tree"],
)
def test_incorrect_label_rewards_the_derived_wrong_answer_not_the_gold_one(task, op_path):
    problems = [task.problem(i) for i in range(12)]
    texts = []
    for problem in problems:
        gold = task.gold_solution(problem)
        steps = "".join(gold.splitlines(keepends=True)[:-1])
        texts += [gold, f"{steps}#{plus_one_on_last_number(gold_answer_content(task, problem), op_path)}\n"]
    rollouts = Rollouts.from_texts(task, [p for p in problems for _ in range(2)], texts)
    values = incorrect_label(rollouts, RewardContext(task=task))[last_token_mask(rollouts)]
    assert values.tolist() == [0.0, 1.0] * len(problems)


def test_wrong_label_changes_the_last_number():
    assert wrong_label(14) == 15
    assert wrong_label((7, -14)) == (7, -13)
    assert wrong_label((("*", 2), ("+", 3), ("-", 1))) == (("*", 2), ("+", 3), ("-", 2))
