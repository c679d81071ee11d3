"""The reasoning-judge outcome reward (``judge_outcome``): each row's reward against an
independent recomputation (one row at a time, the verdict probability from the judge's raw
logits), placement, the over-optimisation metrics, and bad settings."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.model.model import ModelConfig, TinyLlama
from sandbox.model.tokenizer import CharTokenizer
from sandbox.prm.stepwiser_judge import judge_outputs, recomputation
from sandbox.prm.verification import CHECK, NO, YES
from sandbox.rewards.base import RewardContext
from sandbox.rewards.judge_outcome import judge_outcome
from sandbox.rng import row_key
from sandbox.rollout.rollouts import Rollouts
from toy_envs import ConfigError, make_task

TASK = make_task("arithmetic", n_steps=2, operators="+-", start_max=50)
TOK = CharTokenizer()
torch.manual_seed(0)
JUDGE = TinyLlama(ModelConfig(d_model=32, n_layers=1, n_heads=2, n_kv_heads=2, d_ff=64)).eval()
"""A random judge: its checks are noise, which is all the invariants need."""


def texts_of(problem_indices, edits):
    """Gold solutions, some with a wrong answer, some empty (nothing to check), some garbage, some
    repeated five times (a context long enough that the judge's output budget is cut)."""
    problems, texts = [], []
    for index, edit in zip(problem_indices, edits):
        problem = TASK.problem(index)
        gold = TASK.gold_solution(problem)
        text = {"gold": gold, "empty": "", "garbage": "abc\n",
                "wrong": gold.replace("#", "#1", 1), "long": gold * 5}[edit]
        problems.append(problem)
        texts.append(text)
    return problems, texts


def by_hand(problem, text, p, r, n_chains, seed, step) -> float:
    """One row alone: its checks sampled one at a time, P(Y)/(P(Y)+P(N)) from the judge's logits."""
    if not TASK.segment(text):
        return 0.0
    context = TASK.prompt(problem) + text
    total = 0.0
    for k in range(n_chains):
        budget = min(48, JUDGE.cfg.max_seq_len - len(TOK.encode(context + CHECK, bos=True)))
        (output,) = judge_outputs(JUDGE, [context], [row_key(seed, step, "judge-solution", p, r, k)], 1.0, budget)
        ids = TOK.encode(context + CHECK + recomputation(output) + " ", bos=True)[-JUDGE.cfg.max_seq_len:]
        with torch.no_grad():
            logits = JUDGE(torch.tensor([ids]))[0, -1].double()
        yes, no = logits[TOK.encode(YES)[0]], logits[TOK.encode(NO)[0]]
        total += float(torch.sigmoid(yes - no))
    return total / n_chains


@settings(max_examples=6, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 500), st.sampled_from(["gold", "wrong", "empty", "garbage", "long"])), min_size=1, max_size=4),
       st.integers(1, 3), st.integers(0, 3), st.integers(0, 5))
def test_each_rows_reward_is_its_mean_verdict_probability_alone_on_its_last_token(rows, n_chains, seed, step):
    problems, texts = texts_of([i for i, _ in rows], [e for _, e in rows])
    rollouts = Rollouts.from_texts(TASK, problems, texts, tokenizer=TOK)
    ctx = RewardContext(task=TASK, seed=seed, step=step, stepwiser=JUDGE)
    rewards = judge_outcome(rollouts, ctx, n_chains=n_chains)
    assert ((rewards != 0).sum(-1) <= 1).all()
    rows_ = torch.arange(len(texts))
    assert torch.equal(rewards.sum(-1), rewards[rows_, rollouts.last_token])
    expected = [by_hand(problems[b], texts[b], int(rollouts.problem_index[b]), int(rollouts.rollout_index[b]), n_chains, seed, step)
                for b in range(len(texts))]
    assert rewards.sum(-1).tolist() == pytest.approx(expected, abs=1e-5)
    assert ctx.metrics["prm/mean_score"] == pytest.approx(sum(expected) / len(expected), abs=1e-5)
    assert ctx.metrics["prm/oracle_correct"] == pytest.approx(float(rollouts.correct.float().mean()))


def test_without_a_judge_or_with_bad_settings_it_is_one_clear_error():
    problems, texts = texts_of([0], ["gold"])
    rollouts = Rollouts.from_texts(TASK, problems, texts, tokenizer=TOK)
    with pytest.raises(ValueError, match="Variant.models\\['stepwiser'\\]"):
        judge_outcome(rollouts, RewardContext(task=TASK))
    with pytest.raises(ConfigError, match="n_chains=0"):
        judge_outcome(rollouts, RewardContext(task=TASK, stepwiser=JUDGE), n_chains=0)
    with pytest.raises(ConfigError, match="temperature=0"):
        judge_outcome(rollouts, RewardContext(task=TASK, stepwiser=JUDGE), temperature=0)
