"""The reverse curriculum's start states (toy_envs/gold_prefix.py, RLConfig.gold_prefix_steps).

Invariants: the prompt is the task's prompt followed by the first min(k, n − 1) gold step lines;
the rest of the gold solution, scored through the prefix, is the gold solution's verdict; a wrong
continuation is wrong; the schedule gives K, K − 1, ..., 0 gold steps, ``stage`` steps each; bad
values are one error naming the field. In a run, the first stage's rollouts continue the gold
steps and later stages sample bare problems."""

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.model.policy import TinyPolicy
from sandbox.train.rl import RLConfig, Trainer
from toy_envs import ArithmeticChain, ConfigError, TreePuzzle
from toy_envs.gold_prefix import GoldPrefix, with_gold_prefix

TASKS = [ArithmeticChain(n_steps=3), ArithmeticChain(n_steps_mix="1:1,4:1", operators="+-"), TreePuzzle(depth=2),
         ArithmeticChain(n_steps=2, confidence_line=True)]


def gold_steps(task, problem) -> list[str]:
    """The gold solution's step lines, read independently: every line before the answer line ('#')."""
    lines = task.gold_solution(problem).splitlines(keepends=True)
    return lines[: next(i for i, line in enumerate(lines) if line.startswith("#"))]


@given(task=st.sampled_from(TASKS), k=st.integers(1, 6), index=st.integers(0, 5_000))
def test_the_prompt_carries_the_first_gold_steps_and_the_rest_scores_as_the_gold_solution(task, k, index):
    problem = task.problem(index)
    steps = gold_steps(task, problem)
    given_steps = steps[: min(k, len(steps) - 1)]
    prefixed = GoldPrefix(task, k)
    assert prefixed.prompt(problem) == task.prompt(problem) + "".join(given_steps)
    gold = task.gold_solution(problem)
    rest = gold[len("".join(given_steps)):]
    assert prefixed.score(problem, rest) == task.score(problem, gold)
    assert prefixed.score(problem, rest).correct
    assert len(given_steps) < len(steps) or len(steps) == 0  # at least one step is the policy's own
    wrong = rest.replace("#", "#9", 1)
    assert not prefixed.score(problem, wrong).correct
    assert prefixed.segment(gold) == task.segment(gold)  # everything else is the task's


def test_the_schedule_and_the_checks():
    cfg = RLConfig(gold_prefix_steps=3, gold_prefix_stage=5)
    assert [cfg.gold_steps_at(s) for s in range(0, 25, 5)] == [3, 2, 1, 0, 0] and cfg.gold_steps_at(4) == 3
    assert RLConfig().gold_steps_at(0) == 0 and with_gold_prefix(TASKS[0], 0) is TASKS[0]
    for field, value in (("gold_prefix_steps", -1), ("gold_prefix_stage", 0)):
        with pytest.raises(ConfigError, match=f"^{field}="):
            RLConfig(**{field: value}).validate()
    with pytest.raises(ConfigError, match="^gold_prefix_steps="):
        GoldPrefix(TASKS[0], 0)
    with pytest.raises(ConfigError, match=r"^gold_prefix_steps=2 .*'prm-oracle', whose sources \['prm_oracle'\] score steps"):
        RLConfig(variant="prm-oracle", gold_prefix_steps=2).validate()
    RLConfig(variant="dapo", gold_prefix_steps=2).validate()  # outcome and overlong: sequence-level
    assert copy.deepcopy(GoldPrefix(TASKS[0], 2)) == GoldPrefix(TASKS[0], 2)


def test_a_run_continues_the_gold_steps_in_its_first_stage_then_samples_bare_problems(warmstart_tiny):
    model, task, _ = warmstart_tiny
    cfg = RLConfig(variant="outcome-grpo", gold_prefix_steps=1, gold_prefix_stage=1, problems_per_step=4, group_size=2,
                   steps=2, eval_every=0, eval_problems=8, pass_problems=0, drift_every=0, progress=False)
    trainer = Trainer(cfg, task, TinyPolicy(copy.deepcopy(model)))
    tok = trainer.policy.tokenizer
    for step, given in ((0, 1), (1, 0)):
        trainer.step = step
        rollouts = trainer.collect().rollouts
        for b, problem in enumerate(rollouts.problems):
            prompt = tok.decode(rollouts.tokens[b, : int(rollouts.prompt_lens[b])].tolist())
            assert prompt == task.prompt(problem) + "".join(gold_steps(task, problem)[:given])
    history = Trainer(cfg, task, TinyPolicy(copy.deepcopy(model))).train()
    assert [m["curriculum/gold_steps"] for m in history if "curriculum/gold_steps" in m] == [1, 0]
