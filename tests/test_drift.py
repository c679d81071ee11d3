"""The drift diagnostic: flipped greedy answers and gold log-likelihood on a fixed probe set."""

import pytest
import copy

import torch
from hypothesis import given
from hypothesis import strategies as st

from sandbox.model.model import token_logprobs
from sandbox.model.policy import TinyPolicy
from sandbox.train.drift import DriftProbe, flipped_fraction, gold_logp
from sandbox.train.rl import RLConfig, Trainer, deterministic
from sandbox.train.run_dir import RunDir
from sandbox.train.sft import sft_batch

SMALL = dict(problems_per_step=4, group_size=4, eval_every=0, eval_problems=16, pass_problems=0, progress=False,
             drift_every=1, drift_problems=32, warmup_steps=0, adam_eps=1e-8)


def make(warmstart_tiny, run=None, **fields):
    model, task, _ = warmstart_tiny
    return Trainer(RLConfig(**{**SMALL, **fields}), task, TinyPolicy(copy.deepcopy(model)), run)


@given(st.lists(st.tuples(st.sampled_from("ab"), st.sampled_from("ab")), max_size=20))
def test_flipped_fraction_counts_differing_positions(pairs):
    answers, reference = [a for a, _ in pairs], [r for _, r in pairs]
    expected = sum(1 for a, r in pairs if a != r) / len(pairs) if pairs else 0.0
    assert flipped_fraction(answers, reference) == expected


def test_gold_logp_is_the_token_mean_of_the_gold_solutions(warmstart_tiny):
    model, task, _ = warmstart_tiny
    policy = TinyPolicy(model)
    tokens, mask = sft_batch(task, policy.tokenizer, range(8), split="eval")
    per_row = []  # one row at a time: no padding, an independent computation
    for row, m in zip(tokens, mask):
        n = int(m.nonzero().max()) + 1
        with torch.no_grad():
            per_row.append((token_logprobs(model(row[None, :n]), row[None, :n])[0] * m[:n]).sum())
    expected = float(sum(per_row) / mask.sum())
    assert abs(gold_logp(policy, task, 8) - expected) < 1e-5


@pytest.mark.slow
def test_probe_starts_at_zero_and_a_large_step_flips_answers_and_lowers_gold_logp(warmstart_tiny):
    model, task, _ = warmstart_tiny
    probe = DriftProbe(task, 32, 40)
    start = probe.measure(TinyPolicy(model))
    assert start["drift/flipped_fraction"] == 0 and start["drift/gold_logp_change"] == 0
    again = probe.measure(TinyPolicy(copy.deepcopy(model)))
    assert again == start  # deterministic
    # an undirected update (random rewards) at a large learning rate drifts; a negligible one does not
    tiny_step = make(warmstart_tiny, variant="random", steps=2, lr=1e-9).train()
    big_step = make(warmstart_tiny, variant="random", steps=2, lr=3e-3).train()
    assert tiny_step[-1]["drift/flipped_fraction"] == 0 and abs(tiny_step[-1]["drift/gold_logp_change"]) < 1e-3
    assert big_step[-1]["drift/flipped_fraction"] >= 0.2 and big_step[-1]["drift/gold_logp_change"] < -0.05


@pytest.mark.slow
def test_a_resumed_run_measures_drift_against_the_same_step0_answers(warmstart_tiny, tmp_path):
    config = {"test": 1}
    straight = make(warmstart_tiny, steps=3, lr=1e-3, variant="random", run=RunDir(tmp_path / "a", config, tensorboard=False))
    straight.train()
    make(warmstart_tiny, steps=1, lr=1e-3, variant="random", run=RunDir(tmp_path / "b", config, tensorboard=False)).train()
    resumed = make(warmstart_tiny, steps=3, lr=1e-3, variant="random", run=RunDir(tmp_path / "b", config, resume=True, tensorboard=False))
    assert resumed.run.resume(resumed) == 1
    resumed.train()

    def drift(run):
        return [{k: v for k, v in deterministic(m).items() if k.startswith("drift/")} for m in run.metrics()]

    a, b = drift(straight.run), drift(resumed.run)
    assert a == b and len(a) == 3 and a[-1]["drift/flipped_fraction"] > 0
