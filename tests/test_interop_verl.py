"""verl adapters: compute_score is the task's verdict, the estimators in verl's convention are the
sandbox's, and they agree with verl's own core_algos where verl is installed."""

import sys

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from sandbox.interop.verl import (
    compute_score,
    data_source,
    exported_estimators,
    group_ids,
    register_with_verl,
    reward_step_ids,
    task_from_data_source,
    verl_estimator,
    verl_row,
)
from sandbox.rewards.registry import ESTIMATORS
from sandbox.rollout.rollouts import step_ends
from sandbox.testing.strategies import TEXT_KINDS, estimator_batches, response_text
from toy_envs import ArithmeticChain, ConfigError, TreePuzzle

TASKS = (ArithmeticChain(n_steps=3), ArithmeticChain(n_steps=2, long_answer=True, modulus=7), TreePuzzle(depth=2))


@pytest.fixture(scope="module")
def core_algos():
    """verl's ``core_algos``; the test is skipped where verl (or what it imports) is missing."""
    return pytest.importorskip("verl.trainer.ppo.core_algos")


def uids(group: torch.Tensor) -> np.ndarray:
    """verl's per-row prompt uids (strings) for sandbox group ids."""
    return np.array([f"uid-{g}" for g in group.tolist()], dtype=object)


@given(st.sampled_from(TASKS), st.integers(0, 10**5), st.sampled_from(("train", "eval")), st.data())
def test_compute_score_is_the_tasks_verdict(task, index, split, data):
    problem = task.problem(index, split)
    text = response_text(data.draw, task, problem, data.draw(st.sampled_from(TEXT_KINDS)))
    row = verl_row(task, index, split)
    score = compute_score(row["data_source"], text, row["reward_model"]["ground_truth"], row["extra_info"])
    assert score in (0.0, 1.0)
    assert score == float(task.score(problem, text).correct)
    gold = task.gold_solution(problem)
    assert compute_score(row["data_source"], gold, row["reward_model"]["ground_truth"], row["extra_info"]) == 1.0


@pytest.mark.parametrize("task", TASKS)
def test_data_source_names_the_task_and_its_config(task):
    source = data_source(task)
    assert source.startswith(f"reward-sandbox/{task.name}:{{")
    assert task_from_data_source(source) == task
    row = verl_row(task, 3)
    assert row["prompt"] == [{"role": "user", "content": task.prompt(task.problem(3))}]
    assert row["extra_info"] == {"index": 3, "split": "train"}


def test_reasoning_gym_tasks_round_trip():
    pytest.importorskip("reasoning_gym")
    from toy_envs.reasoning_gym import ReasoningGym

    task = ReasoningGym(dataset="basic_arithmetic", options='{"max_terms": 3}')
    assert task_from_data_source(data_source(task)) == task
    row = verl_row(task, 2, "eval")
    answer = row["reward_model"]["ground_truth"]
    assert answer == task.problem(2, "eval").answer
    assert compute_score(row["data_source"], f"thinking\n#{answer}\n", answer, row["extra_info"]) == 1.0


def test_numpy_integers_from_parquet_are_accepted():
    row = verl_row(TASKS[0], 5)
    info = {"index": np.int64(5), "split": "train"}
    gold = TASKS[0].gold_solution(TASKS[0].problem(5))
    assert compute_score(row["data_source"], gold, row["reward_model"]["ground_truth"], info) == 1.0


def test_bad_rows_fail_loudly():
    row = verl_row(TASKS[0], 1)
    source, truth = row["data_source"], row["reward_model"]["ground_truth"]
    with pytest.raises(ValueError, match="another task config"):
        compute_score(source, "#1\n", truth + "0", row["extra_info"])
    with pytest.raises(ConfigError, match="^data_source="):
        compute_score("openai/gsm8k", "#1\n", truth, row["extra_info"])
    with pytest.raises(ConfigError, match="^data_source="):
        compute_score("reward-sandbox/arithmetic:{oops", "#1\n", truth, row["extra_info"])
    with pytest.raises(ConfigError, match="^n_steps="):
        compute_score('reward-sandbox/arithmetic:{"n_steps":0}', "#1\n", truth, row["extra_info"])
    with pytest.raises(ConfigError, match="^extra_info.index="):
        compute_score(source, "#1\n", truth, None)
    with pytest.raises(ConfigError, match="^extra_info.split="):
        compute_score(source, "#1\n", truth, {"index": 1, "split": "test"})


@given(st.lists(st.integers(0, 4), min_size=1, max_size=12))
def test_group_ids_keep_the_partition(values):
    ids = group_ids(np.array([f"u{v}" for v in values], dtype=object)).tolist()
    assert all((ids[i] == ids[j]) == (values[i] == values[j]) for i in range(len(values)) for j in range(len(values)))
    assert ids[0] == 0 and max(ids) == len(set(values)) - 1


def test_reward_step_ids_end_a_step_at_each_nonzero_reward():
    rewards = torch.tensor([[0.0, 0.5, 0.0, 0.0, -1.0, 0.0], [0.0, 0.0, 1.0, 0.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0]]).bool()
    assert reward_step_ids(rewards, mask).tolist() == [[0, 0, 1, 1, 1, -1], [0, 0, 0, -1, -1, -1]]


@pytest.mark.parametrize("name", [n for n in exported_estimators() if n != "process_grpo"])
@given(batch=estimator_batches())
def test_adapters_return_the_sandbox_estimators_advantages(name, batch):
    advantages, returns = verl_estimator(name)(batch.rewards, batch.mask.int(), uids(batch.group))
    expected = ESTIMATORS[name](batch.rewards, batch.mask, batch.group, batch.step_ids)
    assert torch.equal(advantages, expected) and returns is advantages


@given(batch=estimator_batches(layouts=("step_ends", "last")))
def test_process_grpo_adapter_matches_with_nonzero_step_rewards(batch):
    ends = step_ends(batch.mask, batch.step_ids)
    rewards = torch.where(ends & (batch.rewards == 0), torch.full_like(batch.rewards, 0.25), batch.rewards)
    rewards = torch.where(ends, rewards, torch.zeros_like(rewards))
    advantages, _ = verl_estimator("process_grpo")(rewards, batch.mask, uids(batch.group), epsilon=1e-6)
    assert torch.equal(advantages, ESTIMATORS["process_grpo"](rewards, batch.mask, batch.group, batch.step_ids))


def test_unknown_tree_and_critic_estimators_are_config_errors():
    for name in ("tree_grpo", "gae", "nope"):
        with pytest.raises(ConfigError, match="^estimator="):
            verl_estimator(name)


def test_registering_without_verl_says_what_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "verl.trainer.ppo.core_algos", None)
    with pytest.raises(ImportError, match="verl is not importable"):
        register_with_verl()


@st.composite
def verl_batches(draw, min_group_size: int = 2):
    """(token_level_rewards [B, L], response_mask [B, L], group [B]): response-only, right-padded
    rows, an outcome reward on each row's last token from a 1/8 grid (exact sums, so groups of equal
    rewards are exactly equal in both implementations), groups of >= ``min_group_size`` rows in
    shuffled order."""
    sizes = draw(st.lists(st.integers(min_group_size, 5), min_size=1, max_size=4))
    group = draw(st.permutations([g for g, size in enumerate(sizes) for _ in range(size)]))
    lengths = draw(st.lists(st.integers(1, 6), min_size=len(group), max_size=len(group)))
    values = draw(st.lists(st.integers(-8, 16), min_size=len(group), max_size=len(group)))
    width = max(lengths) + draw(st.integers(0, 2))
    rewards, mask = torch.zeros(len(group), width), torch.zeros(len(group), width, dtype=torch.int64)
    for row, (length, value) in enumerate(zip(lengths, values)):
        mask[row, :length] = 1
        rewards[row, length - 1] = value / 8
    return rewards, mask, torch.tensor(group)


@given(batch=verl_batches())
def test_grpo_and_rloo_agree_with_verl(core_algos, batch):
    rewards, mask, group = batch
    for ours, theirs in (
        ("grpo", core_algos.compute_grpo_outcome_advantage),
        ("rloo", core_algos.compute_rloo_outcome_advantage),
    ):
        expected, _ = theirs(rewards.clone(), mask, uids(group))
        got, _ = verl_estimator(ours)(rewards, mask, uids(group))
        torch.testing.assert_close(got, expected.float(), rtol=1e-5, atol=1e-5)


@given(batch=verl_batches())
def test_rpp_baseline_agrees_with_verl_up_to_where_eps_sits(core_algos, batch):
    """verl whitens by 1/sqrt(var + 1e-8), the sandbox by 1/(std + 1e-6): relative gap ~1e-6/std."""
    rewards, mask, group = batch
    expected, _ = core_algos.compute_reinforce_plus_plus_baseline_outcome_advantage(rewards.clone(), mask, uids(group))
    got, _ = verl_estimator("rpp_baseline")(rewards, mask, uids(group))
    torch.testing.assert_close(got, expected.float(), rtol=1e-3, atol=1e-4)


def test_a_group_of_one_row_is_where_the_two_differ(core_algos):
    """The documented difference: verl keeps a lone row's raw reward, the sandbox gives it 0."""
    rewards = torch.tensor([[0.0, 1.0], [2.0, 0.0], [0.0, 3.0]])
    mask = torch.tensor([[1, 1], [1, 0], [1, 1]])
    index = np.array(["alone", "pair", "pair"], dtype=object)
    verl_grpo, _ = core_algos.compute_grpo_outcome_advantage(rewards.clone(), mask, index)
    verl_rloo, _ = core_algos.compute_rloo_outcome_advantage(rewards.clone(), mask, index)
    ours_grpo, _ = verl_estimator("grpo")(rewards, mask, index)
    ours_rloo, _ = verl_estimator("rloo")(rewards, mask, index)
    torch.testing.assert_close(verl_grpo[0], torch.full((2,), 1.0 / (1 + 1e-6)))
    torch.testing.assert_close(verl_rloo[0], torch.ones(2))
    assert not ours_grpo[0].any() and not ours_rloo[0].any()
    torch.testing.assert_close(ours_grpo[1:], verl_grpo[1:].float())
    torch.testing.assert_close(ours_rloo[1:], verl_rloo[1:].float())


def test_registered_estimators_are_found_by_verl(core_algos):
    names = register_with_verl()
    assert names == [f"sandbox_{name}" for name in exported_estimators()]
    assert register_with_verl() == names  # registering again is harmless
    rewards, mask = torch.tensor([[0.0, 1.0], [0.0, 0.0]]), torch.ones(2, 2)
    advantages, _ = core_algos.get_adv_estimator_fn("sandbox_grpo")(
        token_level_rewards=rewards, response_mask=mask, index=np.array(["a", "a"], dtype=object), config=None
    )
    torch.testing.assert_close(advantages, verl_estimator("grpo")(rewards, mask, ["a", "a"])[0])
