"""RL can start from the SFT optimizer's state: warm starts save AdamW's moments and step counts
keyed by parameter name, and ``RLConfig.init_optimizer_state`` loads them under RL's own
hyper-parameters; a run with it resumes exactly."""

import copy

import pytest
import torch

import toy_envs
from sandbox.cli import main
from sandbox.model.checkpoint import load_checkpoint, load_named_optimizer_state, save_checkpoint, verify_checkpoint
from sandbox.model.model import ModelConfig
from sandbox.model.policy import TinyPolicy
from sandbox.model.tokenizer import CharTokenizer
from sandbox.train import recipes
from sandbox.train.rl import RLConfig, Trainer, deterministic
from sandbox.train.run_dir import RunDir
from sandbox.train.sft import SFTConfig, train_sft_with_optimizer
from toy_envs.base import ConfigError

TASK = toy_envs.make_task("arithmetic", n_steps=1, operators="+-", start_max=20)
SMALL = ModelConfig(vocab_size=CharTokenizer().vocab_size, d_model=32, n_layers=1, n_heads=2, n_kv_heads=2, d_ff=64, max_seq_len=64)
RL_SMALL = dict(problems_per_step=4, group_size=4, eval_every=0, eval_problems=8, pass_problems=0, drift_every=0, progress=False)


@pytest.fixture(scope="module")
def sft_checkpoint(tmp_path_factory):
    """(checkpoint directory, SFT's AdamW and model after its last step) of a 3-step SFT."""
    model, _, optimizer = train_sft_with_optimizer(TASK, SMALL, SFTConfig(steps=3, batch_size=8, eval_problems=0), progress=False)
    state = {"task": "arithmetic", "task_fields": {"n_steps": 1, "operators": "+-", "start_max": 20}}
    path = save_checkpoint(tmp_path_factory.mktemp("sft") / "ckpt", model, state, optimizer, by_name=True)
    return path, optimizer, model


def test_the_saved_state_is_keyed_by_name_and_covered_by_the_manifest(sft_checkpoint):
    path, optimizer, model = sft_checkpoint
    assert "optimizer.safetensors" in verify_checkpoint(path)["files"]
    saved, groups = load_named_optimizer_state(path)
    named = dict(model.named_parameters())
    assert set(saved) == set(named)
    for name, param in named.items():
        for key in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(saved[name][key], optimizer.state[param][key])
    assert groups[0]["betas"] == [0.9, 0.98]  # SFT's own, kept for the record
    with pytest.raises(ValueError, match="keyed by parameter name"):  # not a positional (resume) state
        load_checkpoint(path, optimizer=torch.optim.AdamW(model.parameters()))


def test_the_option_starts_rl_adamw_from_the_sft_state_under_rl_hyperparameters(sft_checkpoint):
    path, sft_optimizer, sft_model = sft_checkpoint
    model, _ = load_checkpoint(path)
    cfg = RLConfig(init=str(path), init_optimizer_state=True, adam_eps=1e-6, steps=1, **RL_SMALL)
    trainer = Trainer(cfg, TASK, TinyPolicy(model))
    sft_params = dict(sft_model.named_parameters())
    for name, param in model.named_parameters():
        got, want = trainer.optimizer.state[param], sft_optimizer.state[sft_params[name]]
        assert set(got) == {"step", "exp_avg", "exp_avg_sq"} and float(got["step"]) == 3.0
        assert all(torch.equal(got[k], want[k]) for k in got)
    group = trainer.optimizer.param_groups[0]
    assert group["betas"] == (0.9, 0.99) and group["eps"] == 1e-6 and group["weight_decay"] == 0.0
    trainer.train()  # AdamW continues from the carried step count
    assert all(float(s["step"]) == 4.0 for s in trainer.optimizer.state.values())
    fresh = Trainer(RLConfig(init=str(path), steps=1, **RL_SMALL), TASK, TinyPolicy(load_checkpoint(path)[0]))
    assert not fresh.optimizer.state  # off by default: a fresh AdamW
    fresh.train()  # the same step from a fresh AdamW moves the weights elsewhere
    assert any(not torch.equal(p, q) for p, q in zip(model.parameters(), fresh.policy.module.parameters()))


def test_an_init_without_a_saved_sft_state_is_one_clear_error_before_any_run(tmp_path, capsys):
    model, _ = load_checkpoint(recipes.build("tiny"))
    old = save_checkpoint(tmp_path / "old", model, {"task": "arithmetic"})  # weights only, as before
    rl_like = save_checkpoint(tmp_path / "rl", model, {"task": "arithmetic"}, torch.optim.AdamW(model.parameters()))
    for init in (old, rl_like):
        with pytest.raises(ConfigError, match="init_optimizer_state=True is not allowed: .*holds none keyed by parameter name"):
            RLConfig(init=str(init), init_optimizer_state=True).validate()
        RLConfig(init=str(init)).validate()  # off: fine
    with pytest.raises(ConfigError, match="init_optimizer_state.*Hugging Face"):
        RLConfig(init="hf:/nowhere", init_optimizer_state=True).validate()
    run_dir = tmp_path / "run"
    assert main(["train", "--init", str(old), "--init-optimizer-state", "--run-dir", str(run_dir), "--steps", "1"]) == 2
    assert "--init-optimizer-state=True" in capsys.readouterr().err and not run_dir.exists()


def test_the_tiny_preset_holds_its_sft_state():
    saved, groups = load_named_optimizer_state(recipes.build("tiny"))
    assert {float(s["step"]) for s in saved.values()} == {float(recipes.RECIPES[recipes.in_mode("tiny")].config.sft.steps)}
    assert groups[0]["betas"] == [0.9, 0.98]


def make(warmstart_tiny, run=None, **fields):
    model, task, _ = warmstart_tiny
    cfg = RLConfig(**{**RL_SMALL, "init_optimizer_state": True, **fields})
    return Trainer(cfg, task, TinyPolicy(copy.deepcopy(model)), run, TinyPolicy(copy.deepcopy(model)))


def test_a_run_with_the_option_resumes_exactly(warmstart_tiny, tmp_path):
    config = {"test": 1}
    straight = make(warmstart_tiny, steps=3, run=RunDir(tmp_path / "a", config, tensorboard=False))
    straight.train()
    first = make(warmstart_tiny, steps=1, run=RunDir(tmp_path / "b", config, tensorboard=False))
    first.train()
    resumed = make(warmstart_tiny, steps=3, run=RunDir(tmp_path / "b", config, resume=True, tensorboard=False))
    assert resumed.run.resume(resumed) == 1
    sft_steps = warmstart_tiny[2]["sft"]["steps"]
    assert all(float(s["step"]) == sft_steps + 1 for s in resumed.optimizer.state.values())  # the RL checkpoint's, not SFT's
    resumed.train()

    def training_metrics(run):  # evaluation and drift are measured at each run's own end, so leave them out
        return [{k: v for k, v in deterministic(m).items() if not k.startswith(("eval/", "drift/"))} for m in run.metrics()]

    assert training_metrics(RunDir(tmp_path / "a", config, resume=True, tensorboard=False)) == training_metrics(resumed.run)
    for p, q in zip(straight.policy.module.parameters(), resumed.policy.module.parameters()):
        assert torch.equal(p, q)


def test_an_experiment_grid_takes_the_option():
    from sandbox.experiments.spec import ExperimentSpec

    spec = ExperimentSpec.from_dict({"name": "x", "budget": {"steps": 2}, "rl": {"grid": {"init_optimizer_state": [True, False]}},
                                     "variants": [{"variant": "outcome-grpo"}]})
    runs = spec.validate()
    assert [r.rl["init_optimizer_state"] for r in runs] == [True, False]
    assert runs[0].id == "init_optimizer_state=True/outcome-grpo/seed-0"


def test_the_sft_command_saves_its_optimizer_state(tmp_path):
    out = tmp_path / "ckpt"
    argv = ["sft", "--out", str(out), "--task-n-steps", "1", "--sft-steps", "2", "--sft-eval-problems", "0"]
    argv += ["--model-d-model", "32", "--model-n-layers", "1", "--model-n-heads", "2", "--model-n-kv-heads", "2"]
    assert main(argv) == 0
    saved, _ = load_named_optimizer_state(out)
    assert {float(s["step"]) for s in saved.values()} == {2.0}
    RLConfig(init=str(out), init_optimizer_state=True).validate()
