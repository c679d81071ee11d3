"""Sandbox rewards as TRL reward functions: the registry's sequence rewards exactly, dense variants
rejected, and TRL's GRPOTrainer training a tiny local Llama with one."""

import re
import types

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from sandbox.interop.trl import SandboxReward, reward_rollouts, trl_reward
from sandbox.rewards.pieces import SEQUENCE_LEVEL_SOURCES
from sandbox.model.tokenizer import CharTokenizer
from sandbox.rewards.base import RewardContext, sequence_rewards
from sandbox.rewards.registry import SOURCES, VARIANTS, compute_token_rewards
from sandbox.rollout.rollouts import Rollouts
from sandbox.testing.strategies import TEXT_KINDS, group_layouts, response_text, rollouts_batches
from toy_envs import ArithmeticChain, ConfigError, TreePuzzle

TASKS = (ArithmeticChain(n_steps=2), TreePuzzle(depth=2), ArithmeticChain(n_steps=2, confidence_line=True))
"""The calibration reward reads confidence lines; ``incorrect_label`` cannot take confidence-line
tasks yet (it reads the gold solution's last line, which is then the confidence line), so it is
drawn from the first two only."""


def tasks_for(names) -> st.SearchStrategy:
    return st.sampled_from(TASKS[:2] if "incorrect_label" in names else TASKS)
SEQUENCE_VARIANTS = sorted(n for n, v in VARIANTS.items()
                           if all(s in SEQUENCE_LEVEL_SOURCES for s, _, _ in v.sources) and not v.distillation and not v.refinement)
DENSE_VARIANTS = sorted(set(VARIANTS) - set(SEQUENCE_VARIANTS))
BUDGET = 20
"""A small response budget, so that DAPO's overlong penalty is non-zero on some rows."""


@st.composite
def text_batches(draw, sources):
    """(task, problems, texts): groups of rows of one task, texts of every kind, some with a
    confidence line (the calibration reward reads it)."""
    task = draw(tasks_for(sources))
    group = draw(group_layouts(max_groups=3, max_group_size=4))
    problems = [task.problem(index) for index in group]
    texts = []
    for problem in problems:
        text = response_text(draw, task, problem, draw(st.sampled_from(TEXT_KINDS)))
        confidence = draw(st.sampled_from(["", "conf: 0.3\n", "conf: 1\n"]))
        texts.append(text + confidence if text.endswith("\n") else text)
    return task, problems, texts


def state(step: int):
    return types.SimpleNamespace(global_step=step)


@pytest.mark.parametrize("name", sorted(SEQUENCE_LEVEL_SOURCES))
@given(data=st.data())
def test_sequence_level_sources_reward_only_the_last_token(name, data):
    task = data.draw(tasks_for([name]))
    rollouts = data.draw(rollouts_batches(task))
    rewards = SOURCES[name](rollouts, RewardContext(task=task, seed=3, step=2, max_new_tokens=BUDGET))
    rewards[torch.arange(len(rollouts)), rollouts.last_token] = 0.0
    assert not rewards.any()


@pytest.mark.parametrize("variant", SEQUENCE_VARIANTS)
@given(data=st.data(), seed=st.integers(0, 5), step=st.integers(0, 5))
def test_reward_function_returns_the_registrys_sequence_rewards(variant, data, seed, step):
    task, problems, texts = data.draw(text_batches([name for name, _, _ in VARIANTS[variant].sources]))
    reward = trl_reward(variant, task, seed=seed, max_new_tokens=BUDGET)
    tokenizer = CharTokenizer()
    got = reward(
        prompts=[task.prompt(p) for p in problems],
        completions=texts,
        completion_ids=[tokenizer.encode(text, eos=True) for text in texts],
        trainer_state=state(step),
        problem_index=[p.index for p in problems],
        split=["train"] * len(problems),
    )
    rollouts = Rollouts.from_texts(task, problems, texts)
    ctx = RewardContext(task=task, seed=seed, step=step, max_new_tokens=BUDGET)
    expected = sequence_rewards(compute_token_rewards(VARIANTS[variant], rollouts, ctx), rollouts.response_mask)
    assert got == expected.tolist()
    assert all(isinstance(value, float) for value in got)


def test_the_outcome_reward_is_correctness():
    task = TASKS[0]
    problems = [task.problem(i, "eval") for i in (4, 4, 9)]
    gold = task.gold_solution(problems[0])
    texts = [gold, gold.replace("#", "#1"), "garbage"]
    got = trl_reward("outcome-grpo", task)(
        prompts=[task.prompt(p) for p in problems], completions=texts, problem_index=[4, 4, 9], split=["eval"] * 3
    )
    assert got == [1.0, 0.0, 0.0]


@pytest.mark.parametrize("variant", DENSE_VARIANTS)
def test_token_level_variants_are_rejected_by_name(variant):
    with pytest.raises(ConfigError, match=re.escape(f"variant={variant!r} is not allowed: a sequence-level variant")):
        trl_reward(variant, TASKS[0])


def test_unknown_variant_is_a_config_error():
    with pytest.raises(ConfigError, match="^variant='nope'"):
        trl_reward("nope", TASKS[0])


def test_any_characters_and_conversational_messages_are_accepted():
    task = TASKS[0]
    problem = task.problem(1)
    gold = task.gold_solution(problem)
    reward = SandboxReward("outcome-grpo", task)
    prompt = [{"role": "system", "content": "solve"}, {"role": "user", "content": task.prompt(problem)}]
    completions = [[{"role": "assistant", "content": gold}], [{"role": "assistant", "content": "ünïcode ✓\n#7"}]]
    assert reward(prompts=[prompt, prompt], completions=completions, problem_index=[1, 1]) == [1.0, 0.0]


def test_missing_column_or_mismatched_prompt_fails_loudly():
    task = TASKS[0]
    reward = SandboxReward("outcome-grpo", task)
    with pytest.raises(ValueError, match="problem_index"):
        reward(prompts=["x"], completions=["#1\n"])
    with pytest.raises(ValueError, match="another task or config"):
        reward(prompts=[task.prompt(task.problem(2))], completions=["#1\n"], problem_index=[3])


def test_lengths_come_from_the_policys_token_ids():
    task = TASKS[0]
    problems = [task.problem(0)] * 3
    rollouts = reward_rollouts(task, problems, ["abc", "", "x"], [7, 0, 1])
    assert rollouts.response_lens.tolist() == [7, 1, 1]
    assert rollouts.response_mask.sum(1).tolist() == [7, 1, 1]
    assert rollouts.response_mask[torch.arange(3), rollouts.last_token].all()
    assert rollouts.rollout_index.tolist() == [0, 1, 2]


def test_trl_dataset_rows_carry_prompt_index_and_split():
    pytest.importorskip("datasets")
    from sandbox.interop.trl import trl_dataset

    task = TASKS[1]
    rows = trl_dataset(task, 3, split="eval", start=5)
    assert rows.column_names == ["prompt", "problem_index", "split"]
    assert rows["problem_index"] == [5, 6, 7] and rows["split"] == ["eval"] * 3
    assert rows["prompt"] == [task.prompt(task.problem(i, "eval")) for i in (5, 6, 7)]
    with pytest.raises(ConfigError, match="^split="):
        trl_dataset(task, 3, split="test")


@pytest.mark.slow
def test_grpo_trainer_trains_a_tiny_local_llama_on_a_sandbox_reward(tmp_path):
    """Two GRPO steps of TRL on a randomly initialised one-layer Llama with the character tokenizer.

    The sandbox's ``random`` variant (a Bernoulli(0.5) reward keyed by (seed, step, problem,
    rollout)) gives groups with reward variance even though an untrained model never answers, so
    TRL's loss has a gradient and the weights move; every call TRL made returned exactly the
    registry's rewards for the completions it sampled. About 12 s, most of it importing TRL."""
    pytest.importorskip("trl")
    from transformers import LlamaConfig, LlamaForCausalLM
    from trl import GRPOConfig, GRPOTrainer

    from sandbox.interop.tokenizer import char_tokenizer_fast
    from sandbox.interop.trl import trl_dataset

    task = ArithmeticChain(n_steps=1)
    tokenizer = char_tokenizer_fast()
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=64,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    before = [p.detach().clone() for p in model.parameters()]
    reward = trl_reward("random", task, seed=1, max_new_tokens=8)
    calls = []

    def recorded(**kwargs):
        out = reward(**kwargs)
        calls.append((kwargs, kwargs["trainer_state"].global_step, out))  # the state object moves on
        return out

    recorded.__name__ = "sandbox_random"
    args = GRPOConfig(
        output_dir=str(tmp_path),
        max_steps=2,
        per_device_train_batch_size=4,
        num_generations=4,
        max_completion_length=8,
        learning_rate=1e-2,
        logging_steps=1,
        report_to="none",
        use_cpu=True,
        save_strategy="no",
        seed=0,
        disable_tqdm=True,
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[recorded, trl_reward("outcome-grpo", task)],
        args=args,
        train_dataset=trl_dataset(task, 8),
        processing_class=tokenizer,
    )
    trainer.train()

    assert trainer.state.global_step == 2 and len(calls) == 2
    for kwargs, step, out in calls:
        problems = [task.problem(i) for i in kwargs["problem_index"]]
        texts = kwargs["completions"]
        rollouts = Rollouts.from_texts(task, problems, texts)  # TRL decoded the character vocabulary: ASCII
        ctx = RewardContext(task=task, seed=1, step=step, max_new_tokens=8)
        expected = sequence_rewards(compute_token_rewards(VARIANTS["random"], rollouts, ctx), rollouts.response_mask)
        assert out == expected.tolist()
        assert all(task.prompt(p) == prompt for p, prompt in zip(problems, kwargs["prompts"]))
    logged = [entry for entry in trainer.state.log_history if "rewards/sandbox_random/mean" in entry]
    assert len(logged) == 2 and "rewards/sandbox/outcome-grpo/mean" in logged[0]
    assert any(0.0 < entry["rewards/sandbox_random/std"] for entry in logged)
    assert any(not torch.equal(a, b.detach()) for a, b in zip(before, model.parameters()))
