"""The RL trainer: every variant trains, runs are deterministic, resume continues exactly."""

import copy
import dataclasses
import json

import pytest
import torch

from sandbox.model.policy import TinyPolicy
from sandbox.rewards.registry import SOURCE_TASK_FIELDS, VARIANTS
from hypothesis import given
from hypothesis import strategies as st

from sandbox.train.collect import refill_draw_size
from sandbox.train.rl import RLConfig, Trainer, deterministic
from sandbox.train.run_dir import RunDir
from toy_envs.base import ConfigError

SMALL = dict(problems_per_step=4, group_size=4, eval_every=0, eval_problems=16, pass_problems=4, pass_k=2, drift_problems=8, progress=False)


def make(warmstart_tiny, run=None, **fields):
    model, task, _ = warmstart_tiny
    cfg = RLConfig(**{**SMALL, **fields})
    sources = VARIANTS[cfg.variant].sources if cfg.variant in VARIANTS else ()  # an unknown name: the Trainer's error
    for source, _, _ in sources:  # brier scores a confidence line: the same task with one
        if source in SOURCE_TASK_FIELDS:
            task = dataclasses.replace(task, **{SOURCE_TASK_FIELDS[source][0]: True})
    policy = TinyPolicy(copy.deepcopy(model))
    reference = TinyPolicy(copy.deepcopy(model))
    return Trainer(cfg, task, policy, run, reference)


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_variant_runs_one_step_with_finite_loss_and_changed_parameters(warmstart_tiny, variant):
    # temperature 1.3: varied, often malformed samples, so every reward (format-only included) varies;
    # the run's closing evaluation and drift probe (the variant's task: a confidence line for brier) on 4 problems
    trainer = make(warmstart_tiny, variant=variant, steps=1, lr=1e-3, warmup_steps=0, kl_coef=0.05, temperature=1.3, group_size=6, problems_per_step=8,
                   eval_problems=4, pass_problems=2, drift_problems=4)
    before = [p.detach().clone() for p in trainer.policy.module.parameters()]
    metrics = trainer.train()[-1]
    assert metrics["step"] == 0 and metrics["rollout/kept_fraction"] > 0
    # a distillation-only variant (sdpo) has no reward, hence zero advantages: its signal is the distillation term
    assert metrics["rollout/advantage_abs_mean"] > 0 or (not VARIANTS[variant].sources and metrics["loss/distill"] > 0)
    assert torch.isfinite(torch.tensor(metrics["loss/policy"]))
    after = list(trainer.policy.module.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after))


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["outcome-grpo", "dapo", "dr-grpo", "sdpo+grpo", "critique-grpo"])
def test_length_buckets_give_the_one_pass_gradient_and_diagnostics(warmstart_tiny, variant, monkeypatch):
    """``update_buckets`` = 3 against the one-pass minibatch (the oracle) on the same collected
    batch, with the KL term on: the gradient at every optimizer step and the logged diagnostics
    agree to float32 rounding, for each aggregation (seq-mean-token-mean, token-mean,
    seq-mean-token-sum-norm), with SDPO's distillation term and Critique-GRPO's off-policy rows."""
    from sandbox.train import ppo

    def run(buckets):
        grads = []

        def capture(optimizer, loss, parameters, *args, **kwargs):
            parameters = list(parameters)
            for p in parameters:
                p.grad = None
            loss.backward()
            grads.append([p.grad.clone() for p in parameters])
            return 0.0

        monkeypatch.setattr(ppo, "optimizer_step", capture)
        # no evaluation or drift probe: they run after the update and compare nothing here
        trainer = make(warmstart_tiny, variant=variant, steps=1, minibatches=2, kl_coef=0.05, temperature=1.3, update_buckets=buckets,
                       eval_problems=0, pass_problems=0, drift_every=0)
        return grads, trainer.train()[-1]

    (one, one_metrics), (three, three_metrics) = run(1), run(3)
    assert len(one) == len(three) == 2
    for a, b in zip(one, three):
        assert all(torch.allclose(x, y, rtol=1e-4, atol=1e-7) for x, y in zip(a, b))
        assert any(x.abs().sum() > 0 for x in a)
    for key in ("loss/policy", "loss/entropy", "loss/clip_fraction", "loss/approx_kl", "loss/kl_ref", "loss/distill"):
        assert (key in one_metrics) == (key in three_metrics)
        if key in one_metrics:
            assert three_metrics[key] == pytest.approx(one_metrics[key], rel=1e-4, abs=1e-7), key


def test_length_groups_sort_positions_by_length_into_contiguous_groups():
    from sandbox.train.toolkit import length_groups

    lengths = torch.tensor([5, 3, 9, 3, 7])
    assert [g.tolist() for g in length_groups(lengths, 2)] == [[1, 3, 0], [4, 2]]
    assert [g.tolist() for g in length_groups(lengths, 1)] == [[1, 3, 0, 4, 2]]
    assert sum(len(g) for g in length_groups(lengths, 8)) == 5  # more groups than rows: no empty ones


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["dapo", "critique-grpo"])  # refills; rows added after sampling (refinements)
def test_same_seed_same_metrics_and_weights(warmstart_tiny, variant):
    # 2 steps: the second samples from the updated weights; dapo refills at step 0 (3 draws), critique-grpo adds refinements at both
    runs = [make(warmstart_tiny, steps=2, variant=variant).train() for _ in range(2)]
    assert [deterministic(m) for m in runs[0]] == [deterministic(m) for m in runs[1]]
    other = make(warmstart_tiny, steps=2, variant=variant, seed=1).train()
    assert [deterministic(m) for m in other] != [deterministic(m) for m in runs[0]]


@pytest.mark.slow
def test_resume_continues_exactly(warmstart_tiny, tmp_path):
    config = {"test": 1}  # one step, a checkpoint, one more step on the restored optimizer, stream and schedule
    straight = make(warmstart_tiny, steps=2, run=RunDir(tmp_path / "a", config, tensorboard=False))
    straight.train()
    first = make(warmstart_tiny, steps=1, run=RunDir(tmp_path / "b", config, tensorboard=False))
    first.train()
    resumed = make(warmstart_tiny, steps=2, run=RunDir(tmp_path / "b", config, resume=True, tensorboard=False))
    assert resumed.run.resume(resumed) == 1
    resumed.train()
    a, b = RunDir(tmp_path / "a", config, resume=True, tensorboard=False), resumed.run

    def training_metrics(run):  # evaluation and drift are measured at each run's own end, so leave them out
        return [{k: v for k, v in deterministic(m).items() if not k.startswith(("eval/", "drift/"))} for m in run.metrics()]

    assert training_metrics(a) == training_metrics(b)
    for p, q in zip(straight.policy.module.parameters(), resumed.policy.module.parameters()):
        assert torch.equal(p, q)


def test_a_variant_that_scores_a_confidence_line_refuses_a_task_without_one(warmstart_tiny):
    model, task, _ = warmstart_tiny
    with pytest.raises(ConfigError, match=r"variant='brier' is not allowed: .*confidence line.*confidence_line=False"):
        Trainer(RLConfig(**{**SMALL, "variant": "brier"}), task, TinyPolicy(model))


def test_run_directory_is_never_overwritten(tmp_path):
    RunDir(tmp_path / "x", {"a": 1}, tensorboard=False).log({"step": 0, "loss/policy": 1.0})
    with pytest.raises(ConfigError, match="never overwritten"):
        RunDir(tmp_path / "x", {"a": 1}, tensorboard=False)
    with pytest.raises(ConfigError, match=r"same config.*differs: a \(run: 1, now: 2\)"):
        RunDir(tmp_path / "x", {"a": 2}, resume=True, tensorboard=False)


def test_a_run_saved_with_tuple_fields_or_their_old_comma_text_resumes(tmp_path):
    """A tuple field is written as a JSON list and read back equal to the tuple; a run saved before
    config lists were tuples holds it as comma-separated text, which equals the same items."""
    from dataclasses import asdict

    config = {"rl": asdict(RLConfig())}
    RunDir(tmp_path / "new", config, tensorboard=False)
    assert RunDir(tmp_path / "new", config, resume=True, tensorboard=False)
    old = tmp_path / "old"
    old.mkdir()
    (old / "config.json").write_text(json.dumps({"rl": {**asdict(RLConfig()), "adam_betas": "0.9,0.99"}}))
    assert RunDir(old, config, resume=True, tensorboard=False)
    other = {"rl": asdict(RLConfig(adam_betas=(0.9, 0.999)))}
    for path in (tmp_path / "new", old):
        with pytest.raises(ConfigError, match=r"differs: rl.adam_betas \(run: .*, now: \[0.9, 0.999\]\)"):
            RunDir(path, other, resume=True, tensorboard=False)


@pytest.mark.parametrize(
    "field,value",
    [("variant", "nope"), ("group_size", 0), ("temperature", 0.0), ("adam_betas", (0.9,)), ("adam_betas", (0.9, 1.0)),
     ("adam_betas", "0.9,0.99"), ("aggregation", "sum")],
)
def test_bad_config_is_one_clear_error_naming_the_field(warmstart_tiny, field, value):
    with pytest.raises(ConfigError, match=field):
        make(warmstart_tiny, **{field: value})


def test_refill_bound_is_a_clear_error(warmstart_tiny):
    trainer = make(warmstart_tiny, variant="dapo", steps=1, max_draws=1, group_size=1)
    with pytest.raises(RuntimeError, match="max_draws=1"):
        trainer.train()


@given(P=st.integers(1, 64), data=st.data())
def test_refill_draw_size_is_the_missing_count_over_the_keep_rate(P, data):
    assert refill_draw_size(P, P, 0, 0) == P
    drawn = data.draw(st.integers(1, 8 * P))
    survived = data.draw(st.integers(0, drawn))
    missing = data.draw(st.integers(1, P))
    n = refill_draw_size(P, missing, drawn, survived)
    assert 1 <= n <= P
    if survived == drawn:  # everything survived so far: draw exactly what is missing
        assert n == missing
    # enough draws at the observed rate to expect the missing groups (unless capped at P)
    assert n == P or n * max(survived, 1) / drawn >= missing


def test_evaluation_reports_accuracy_and_pass_at_k(warmstart_tiny):
    metrics = make(warmstart_tiny, steps=1, eval_every=1).train()[-1]
    assert 0 <= metrics["eval/accuracy"] <= 1 and 0 <= metrics["eval/pass@2"] <= 1
    assert metrics["eval/process_accuracy"] <= metrics["eval/accuracy"] == metrics["eval/accuracy@len2"]
    assert metrics["eval/process_pass@1"] <= metrics["eval/process_pass@2"] <= metrics["eval/pass@2"]


@pytest.mark.hf
def test_a_few_rl_steps_with_a_transformers_llama(warmstart_tiny):
    transformers = pytest.importorskip("transformers")
    from sandbox.model.policy import HFPolicy
    from sandbox.model.tokenizer import CharTokenizer

    _, task, _ = warmstart_tiny
    tok = CharTokenizer()
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=tok.vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
    )
    policy = HFPolicy(transformers.LlamaForCausalLM(config), tok)
    before = [p.detach().clone() for p in policy.module.parameters()]
    cfg = RLConfig(**{**SMALL, "steps": 2, "variant": "random", "lr": 1e-3, "warmup_steps": 0, "max_new_tokens": 24})
    history = Trainer(cfg, task, policy).train()
    assert len(history) == 2 and all(torch.isfinite(torch.tensor(m["loss/policy"])) for m in history)
    assert any(not torch.equal(a, b) for a, b in zip(before, policy.module.parameters()))
