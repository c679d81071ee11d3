"""Cumulative cost metrics (``sandbox.train.cost``) and the generated-token budget
(``RLConfig.max_generated_tokens``): sums of the per-step counts, the FLOPs formula by hand, a
run that stops at the first step reaching its budget (and evaluates there), totals restored on resume."""

import copy

import pytest
import torch

from sandbox.model.policy import TinyPolicy
from sandbox.train.cost import CostMeter
from sandbox.train.rl import RLConfig, Trainer, deterministic
from sandbox.train.run_dir import RunDir

TINY = dict(problems_per_step=4, group_size=2, eval_every=0, eval_problems=8, pass_problems=0, drift_every=0, warmup_steps=0, progress=False)


def trainer(warmstart_tiny, run=None, **fields):
    model, task, _ = warmstart_tiny
    cfg = RLConfig(**{**TINY, **fields})
    policy = TinyPolicy(copy.deepcopy(model))
    return Trainer(cfg, task, policy, run, TinyPolicy(copy.deepcopy(model).eval()))


def test_meter_sums_and_flops_by_hand():
    meter = CostMeter(parameters=10, ppo_epochs=2)
    meter.add(5, 7, [11, 3, 60])
    m = meter.add(3, 1, [2, 0, 0])
    assert (m["cost/generated_tokens"], m["cost/trained_tokens"], m["cost/policy_collect_tokens"], m["cost/aux_forward_tokens"]) == (8, 16, 13, 3)
    assert m["cost/train_flops"] == 6 * 10 * 16 + 2 * 10 * 13 + 60
    restored = CostMeter(10, 2)
    restored.load_state(meter.state())
    assert restored.metrics() == m
    old = CostMeter(10, 2)
    old.load_state({"step": 3})  # a checkpoint from before the cost metrics
    assert old.metrics()["cost/generated_tokens"] == 0


def test_hooks_count_each_forward_calls_tokens_once_and_leave_with_the_block():
    model = torch.nn.Embedding(5, 3)
    meter = CostMeter(parameters=1, ppo_epochs=1)
    with meter.watching([model, model, None], "aux_forward_tokens"):
        model(torch.zeros(2, 4, dtype=torch.long))
        model(input=torch.zeros(2, 1, dtype=torch.long))
    model(torch.zeros(9, 9, dtype=torch.long))  # outside the block: not counted
    assert meter.take_pending() == [0, 10, 2 * 15 * 10] and meter.take_pending() == [0, 0, 0]
    assert not model._forward_pre_hooks


def test_costs_accumulate_the_steps_counts(warmstart_tiny):
    t = trainer(warmstart_tiny, steps=3, kl_coef=0.05)
    history = t.train()
    generated = [m["rollout/generated_tokens"] for m in history]
    assert [m["cost/generated_tokens"] for m in history] == [sum(generated[: i + 1]) for i in range(3)]
    n = sum(p.numel() for p in t.policy.module.parameters())
    last = history[-1]
    # the policy's collect passes: every prompt's prefill and decoding step, at least the tokens decoded
    assert last["cost/policy_collect_tokens"] >= last["cost/generated_tokens"] > 0
    # the reference (same size as the policy) scores the kept rows once per step for the KL penalty
    assert last["cost/aux_forward_tokens"] >= last["cost/trained_tokens"] > 0
    assert last["cost/train_flops"] == 6 * n * last["cost/trained_tokens"] + 2 * n * (last["cost/policy_collect_tokens"] + last["cost/aux_forward_tokens"])
    assert trainer(warmstart_tiny, steps=1).train()[-1]["cost/aux_forward_tokens"] == 0  # no KL, no scoring model


def test_token_budget_stops_at_the_first_step_reaching_it_and_evaluates_there(warmstart_tiny):
    free = trainer(warmstart_tiny, steps=4).train()
    budget = free[1]["cost/generated_tokens"]  # reached after the second step
    capped = trainer(warmstart_tiny, steps=4, max_generated_tokens=budget).train()
    assert len(capped) == 2 and "eval/accuracy" in capped[-1] and "eval/accuracy" not in free[1]
    assert [deterministic({k: v for k, v in m.items() if not k.startswith("eval/")}) for m in capped] == \
        [deterministic({k: v for k, v in m.items() if not k.startswith("eval/")}) for m in free[:2]]
    assert trainer(warmstart_tiny, steps=4, max_generated_tokens=budget + 1).train()[-1]["step"] == 2


def test_resume_restores_the_totals(warmstart_tiny, tmp_path):
    straight = trainer(warmstart_tiny, steps=3).train()
    config = {"rl": "x"}
    first = trainer(warmstart_tiny, RunDir(tmp_path / "r", config, tensorboard=False), steps=3, checkpoint_every=1)
    first.cfg.steps = 2
    first.train()
    resumed = trainer(warmstart_tiny, RunDir(tmp_path / "r", config, resume=True, tensorboard=False), steps=3)
    resumed.run.resume(resumed)
    last = resumed.train()[-1]
    assert {k: v for k, v in last.items() if k.startswith("cost/")} == {k: v for k, v in straight[-1].items() if k.startswith("cost/")}


def test_budget_must_be_non_negative():
    from toy_envs.base import ConfigError

    with pytest.raises(ConfigError, match="max_generated_tokens"):
        RLConfig(max_generated_tokens=-1).validate()
