"""Nothing lost, nothing silent: Ctrl-C/SIGTERM anywhere resumes exactly, damaged files fall back."""

import copy
import os
import shutil
import signal
import threading

import pytest
import torch

from sandbox.cli import main
from sandbox.errors import NonFiniteError
from sandbox.model.policy import TinyPolicy
from sandbox.rewards import registry
from sandbox.rewards.grpo import grpo
from sandbox.train import collect as collect_module
from sandbox.train import ppo as ppo_module
from sandbox.train import measurements as measurements_module
from sandbox.train import run_dir as run_dir_module
from sandbox.train.collect import out_of_draws_message
from sandbox.train.rl import RLConfig, Trainer, deterministic
from sandbox.train.run_dir import RunDir
from toy_envs.base import ConfigError

# 4 steps of dapo (refills happen), evaluation and a checkpoint every 2 steps; the drift probe (its
# step-0 reference is in the checkpoint) at the start and the end, on 8 problems
RUN = dict(variant="dapo", steps=4, problems_per_step=4, group_size=4, eval_every=2, checkpoint_every=2,
           eval_problems=16, pass_problems=4, pass_k=2, drift_problems=8, progress=False, minibatches=2)  # "update" stops between two
CONFIG = {"test": "resume"}


def trainer_for(warmstart_tiny, path, resume=False, **fields):
    model, task, _ = warmstart_tiny
    run = RunDir(path, CONFIG, resume=resume, tensorboard=False)
    trainer = Trainer(RLConfig(**{**RUN, **fields}), task, TinyPolicy(copy.deepcopy(model)), run, TinyPolicy(copy.deepcopy(model)))
    if resume:
        run.resume(trainer)
    return trainer


def outcome(trainer):
    """The run's logged deterministic metrics and its final weights."""
    return [deterministic(m) for m in trainer.run.metrics()], [p.detach().clone() for p in trainer.policy.module.parameters()]


@pytest.fixture(scope="module")
def straight_dir(warmstart_tiny, tmp_path_factory):
    """A finished 4-step run directory (checkpoints at steps 2 and 4) and its outcome; the tests
    that damage it work on copies."""
    trainer = trainer_for(warmstart_tiny, tmp_path_factory.mktemp("straight") / "run")
    trainer.train()
    return trainer.run.path, outcome(trainer)


@pytest.fixture(scope="module")
def straight(straight_dir):
    """The uninterrupted run's outcome (the run of ``straight_dir``)."""
    return straight_dir[1]


def send_during(monkeypatch, module, name, signum, when):
    """Wrap ``module.name`` so that the call for which ``when(trainer_step, call_in_step)`` holds
    first sends ``signum`` to this process, then runs as usual; returns the list of sends."""
    real, sent, calls = getattr(module, name), [], {}

    def wrapped(*args, **kwargs):
        step = Trainer.current.step
        calls[step] = calls.get(step, 0) + 1
        if not sent and when(step, calls[step]):
            sent.append((step, calls[step]))
            os.kill(os.getpid(), signum)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapped)
    return sent


PHASES = {
    # phase: (module, function, which call sends the signal)
    "sampling": (collect_module, "sample_rollouts", lambda step, n: step == 1 and n == 1),
    "refill": (collect_module, "sample_rollouts", lambda step, n: n == 2),
    "update": (ppo_module, "policy_loss", lambda step, n: step == 1 and n == 2),
    "evaluation": (measurements_module, "evaluate_accuracy", lambda step, n: True),
    "checkpoint writing": (run_dir_module, "save_checkpoint", lambda step, n: True),
}


# every phase with Ctrl-C; SIGTERM takes the same path, so two phases suffice for it
CASES = [(phase, signal.SIGINT) for phase in PHASES] + [(phase, signal.SIGTERM) for phase in ("sampling", "update")]


in_main_thread = pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                                    reason="signal handlers are installed from the main thread only")


@pytest.mark.slow
@in_main_thread
@pytest.mark.parametrize("phase,signum", CASES, ids=[f"{p}-{s.name}" for p, s in CASES])
def test_a_signal_in_any_phase_resumes_to_the_uninterrupted_run(warmstart_tiny, straight, tmp_path, monkeypatch, phase, signum):
    module, name, when = PHASES[phase]
    trainer = trainer_for(warmstart_tiny, tmp_path / "run")
    monkeypatch.setattr(Trainer, "current", trainer, raising=False)
    sent = send_during(monkeypatch, module, name, signum, when)
    handlers = [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)]
    with pytest.raises(KeyboardInterrupt):
        trainer.train()
    assert sent, f"the run never reached {phase}"
    assert [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)] == handlers  # restored
    assert trainer.step < RUN["steps"] and trainer.run.checkpoints()[-1].name == f"step-{trainer.step:06d}"
    monkeypatch.undo()
    resumed = trainer_for(warmstart_tiny, tmp_path / "run", resume=True)
    resumed.train()
    metrics, weights = outcome(resumed)
    assert metrics == straight[0]
    assert all(torch.equal(a, b) for a, b in zip(weights, straight[1]))


@pytest.mark.slow
@in_main_thread
def test_a_second_signal_stops_at_once_and_resume_continues_from_the_last_checkpoint(warmstart_tiny, straight, tmp_path, monkeypatch):
    trainer = trainer_for(warmstart_tiny, tmp_path / "run")
    monkeypatch.setattr(Trainer, "current", trainer, raising=False)
    real = ppo_module.policy_loss

    def stuck_update(*args, **kwargs):  # a step that would not finish: the user presses Ctrl-C twice
        if Trainer.current.step == 3:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
        return real(*args, **kwargs)

    monkeypatch.setattr(ppo_module, "policy_loss", stuck_update)
    with pytest.raises(KeyboardInterrupt):
        trainer.train()
    # the unfinished step 3 left no checkpoint and no metrics line; step 2's checkpoint stands
    assert [p.name for p in trainer.run.checkpoints()] == ["step-000002"]
    assert [m["step"] for m in trainer.run.metrics()] == [0, 1, 2]
    monkeypatch.undo()
    resumed = trainer_for(warmstart_tiny, tmp_path / "run", resume=True)
    assert resumed.step == 2
    resumed.train()
    metrics, weights = outcome(resumed)
    assert metrics == straight[0]
    assert all(torch.equal(a, b) for a, b in zip(weights, straight[1]))


# ---- finite checks ---------------------------------------------------------------------------
def test_a_nan_estimator_stops_the_run_naming_variant_estimator_and_step_and_checkpoints_nothing_bad(
    warmstart_tiny, tmp_path, monkeypatch
):
    def nan_from_step_1(rewards, mask, group, step_ids, **_):
        advantages = grpo(rewards, mask, group, step_ids)
        return advantages * float("nan") if Trainer.current.step >= 1 else advantages

    monkeypatch.setitem(registry.ESTIMATORS, "nan_from_step_1", nan_from_step_1)
    variant = registry.Variant(name="nan-test", description="test", sources=registry.OUTCOME, estimator="nan_from_step_1")
    monkeypatch.setitem(registry.VARIANTS, "nan-test", variant)
    trainer = trainer_for(warmstart_tiny, tmp_path / "run", variant="nan-test", checkpoint_every=1, eval_every=0)
    monkeypatch.setattr(Trainer, "current", trainer, raising=False)
    with pytest.raises(NonFiniteError, match=r"variant 'nan-test', step 1: the absolute sum of the advantages of estimator 'nan_from_step_1' is nan"):
        trainer.train()
    assert [p.name for p in trainer.run.checkpoints()] == ["step-000001"]  # none of the bad step
    assert [m["step"] for m in trainer.run.metrics()] == [0]


def test_a_nan_reward_source_is_named_with_its_step(warmstart_tiny, tmp_path, monkeypatch):
    monkeypatch.setitem(registry.SOURCES, "nan_source", lambda rollouts, ctx: torch.full(rollouts.tokens.shape, float("nan")))
    variant = registry.Variant(name="nan-source-test", description="test", sources=(("nan_source", 1.0, {}),), estimator="grpo")
    monkeypatch.setitem(registry.VARIANTS, "nan-source-test", variant)
    trainer = trainer_for(warmstart_tiny, tmp_path / "run", variant="nan-source-test")
    with pytest.raises(NonFiniteError, match=r"variant 'nan-source-test', step 0: reward source 'nan_source' has \d+ non-finite"):
        trainer.train()


def test_sft_stops_at_a_non_finite_loss_or_gradient(warmstart_tiny):
    from sandbox.model.model import ModelConfig
    from sandbox.train.sft import SFTConfig, train_sft

    model, task, _ = warmstart_tiny
    small = ModelConfig(vocab_size=model.cfg.vocab_size, d_model=32, n_layers=1, n_heads=2, n_kv_heads=2, d_ff=48, max_seq_len=128)
    with pytest.raises(NonFiniteError, match=r"sft step [1-9]: the (loss|gradient norm) is (nan|inf)"):
        train_sft(task, small, SFTConfig(steps=20, batch_size=4, lr=1e30, warmup_steps=0, eval_problems=0), progress=False)


def test_a_diverging_learning_rate_stops_at_the_first_non_finite_loss(warmstart_tiny, tmp_path):
    # RUN's two minibatches: the second one of step 0 sees the weights the first update broke
    trainer = trainer_for(warmstart_tiny, tmp_path / "run", variant="outcome-grpo", lr=1e30, warmup_steps=0, eval_every=0)
    with pytest.raises(NonFiniteError, match=r"variant 'outcome-grpo', step 0: the policy loss \(.*\) is nan"):
        trainer.train()
    assert trainer.run.checkpoints() == [] and trainer.run.metrics() == []


@pytest.mark.parametrize("field,value", [("lr", float("inf")), ("kl_coef", float("nan")), ("temperature", float("nan")), ("grad_clip", float("inf"))])
def test_nan_and_inf_config_values_are_rejected_naming_the_field(field, value):
    with pytest.raises(ConfigError, match=f"{field}={value} is not allowed: a finite number"):
        RLConfig(**{field: value}).validate()


def test_the_refill_error_says_which_way_the_groups_collapsed():
    wrong = out_of_draws_message("dapo", 3, 1, 4, 8, {0.0: 30, 1.0: 2})
    assert "30 to 0 (all wrong), 2 to 1 (all correct)" in wrong and "easier task" in wrong and "harder" not in wrong
    right = out_of_draws_message("dapo", 3, 1, 4, 8, {1.0: 31})
    assert "31 to 1 (all correct)" in right and "harder task" in right


# ---- validation before side effects (the CLI) ------------------------------------------------
SMALL_CLI = ["--steps", "1", "--problems-per-step", "2", "--group-size", "2", "--eval-problems", "4",
             "--pass-problems", "0", "--threads", "1", "--progress", "false"]


def bad_values(tmp_path):
    """(extra argv, the flag the one-line error must name) for every documented bad value."""
    (tmp_path / "a-file").write_text("")
    (tmp_path / "no-state").mkdir(exist_ok=True)
    return {
        "prm missing": (["--variant", "prm-mc", "--prm", str(tmp_path / "missing-prm")], "prm="),
        "tree group size 3": (["--variant", "tree-grpo", "--group-size", "3"], "--group-size=3"),
        "tree group size 20": (["--variant", "tree-grpo", "--group-size", "20"], "--group-size=20"),
        "fsdp on one process": (["--fsdp", "true"], "fsdp=True"),
        "lr inf": (["--lr", "inf"], "lr=inf"),
        "kl-coef nan": (["--kl-coef", "nan"], "--kl-coef=nan"),
        "threads 0": (["--threads", "0"], "threads=0"),
        "model without state.json": (["--model", str(tmp_path / "no-state")], "state.json is missing"),
        "hf model missing": (["--model", "hf:" + str(tmp_path / "missing-hf")], "init="),
        "run-dir is a file": (["--run-dir", str(tmp_path / "a-file")], "this path is a file"),
        "resume a missing run": (["--resume"], "does not exist"),
    }


@pytest.mark.parametrize("case", [
    "prm missing", "tree group size 3", "tree group size 20", "fsdp on one process", "lr inf", "kl-coef nan",
    "threads 0", "model without state.json", "hf model missing", "run-dir is a file", "resume a missing run"])
def test_every_bad_value_fails_the_same_way_twice_before_any_side_effect(tmp_path, capsys, case):
    extra, needle = bad_values(tmp_path)[case]
    run_dir = tmp_path / "run"
    errors = []
    for _ in range(2):
        assert main(["train", *SMALL_CLI, "--run-dir", str(run_dir), *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("reward-sandbox: error: ") and "\n" not in err and needle in err, err
        errors.append(err)
    assert errors[0] == errors[1]
    assert not run_dir.exists()


@pytest.fixture(scope="module")
def cli_run_dir(tmp_path_factory):
    """A finished 2-step run written by the CLI (checkpoints at steps 1 and 2)."""
    run_dir = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", *SMALL_CLI, "--lr", "0.0001", "--steps", "2", "--checkpoint-every", "1", "--run-dir", str(run_dir)]) == 0
    return run_dir


def test_resume_with_a_different_config_names_the_field(cli_run_dir, capsys):
    capsys.readouterr()
    argv = ["train", *SMALL_CLI, "--run-dir", str(cli_run_dir), "--resume", "--lr", "0.001", "--steps", "3"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err, err
    assert "differs: rl.checkpoint_every (run: 1, now: 0); rl.lr (run: 0.0001, now: 0.001)" in err  # 'steps' may change


def test_resume_of_a_run_written_before_a_field_existed_takes_the_default(cli_run_dir, tmp_path, capsys):
    """A run directory whose config.json lacks a field added to RLConfig later (here
    ``update_buckets``, as every run written before it does) resumes when the field is at its
    default, and names the field when it is not."""
    import json
    import shutil

    old = tmp_path / "old"
    shutil.copytree(cli_run_dir, old)
    config = json.loads((old / "config.json").read_text())
    del config["rl"]["update_buckets"]
    (old / "config.json").write_text(json.dumps(config))
    capsys.readouterr()
    argv = ["train", *SMALL_CLI, "--lr", "0.0001", "--checkpoint-every", "1", "--run-dir", str(old), "--resume"]
    assert main([*argv, "--steps", "3", "--update-buckets", "2"]) == 2
    assert "differs: rl.update_buckets (run: '<absent>', now: 2)" in capsys.readouterr().err
    assert main([*argv, "--steps", "3"]) == 0
    assert json.loads((old / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 2


# ---- damaged files -------------------------------------------------------------------------
def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip_a_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


DAMAGE = {
    "model.safetensors truncated": ("model.safetensors", truncate, "model.safetensors is damaged"),
    "optimizer.safetensors altered": ("optimizer.safetensors", flip_a_byte, "optimizer.safetensors is damaged (its sha256"),
    "state.json truncated": ("state.json", truncate, "state.json is damaged"),
    "state.json missing": ("state.json", lambda p: p.unlink(), "state.json is missing"),
    "model.safetensors missing": ("model.safetensors", lambda p: p.unlink(), "model.safetensors is missing"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_a_damaged_checkpoint_falls_back_to_the_newest_intact_one(warmstart_tiny, straight_dir, tmp_path, case):
    source, (metrics, weights) = straight_dir
    shutil.copytree(source, tmp_path / "run")
    name, damage, needle = DAMAGE[case]
    newest = tmp_path / "run" / "checkpoints" / "step-000004"
    damage(newest / name)
    notes = []
    model, task, _ = warmstart_tiny
    run = RunDir(tmp_path / "run", CONFIG, resume=True, tensorboard=False)
    trainer = Trainer(RLConfig(**RUN), task, TinyPolicy(copy.deepcopy(model)), run, TinyPolicy(copy.deepcopy(model)))
    assert run.resume(trainer, report=notes.append) == 2
    assert any(needle in note and "step-000004" in note for note in notes), notes
    assert (tmp_path / "run" / "checkpoints" / "damaged" / "step-000004").exists()  # moved aside, not deleted
    trainer.train()
    assert outcome(trainer)[0] == metrics
    assert all(torch.equal(a, b) for a, b in zip(outcome(trainer)[1], weights))


def test_a_truncated_last_metrics_line_is_dropped_and_the_run_continues(warmstart_tiny, straight_dir, tmp_path):
    source, (metrics, weights) = straight_dir
    shutil.copytree(source, tmp_path / "run")
    # killed while logging step 3: its line is cut, and step 4's checkpoint was never written
    shutil.rmtree(tmp_path / "run" / "checkpoints" / "step-000004")
    log = tmp_path / "run" / "metrics.jsonl"
    log.write_text(log.read_text().rsplit("\n", 2)[0] + "\n" + log.read_text().rsplit("\n", 2)[1][:40])
    notes = []
    model, task, _ = warmstart_tiny
    run = RunDir(tmp_path / "run", CONFIG, resume=True, tensorboard=False)
    trainer = Trainer(RLConfig(**RUN), task, TinyPolicy(copy.deepcopy(model)), run, TinyPolicy(copy.deepcopy(model)))
    assert run.resume(trainer, report=notes.append) == 2
    assert any("metrics.jsonl: dropped a truncated last line" in note for note in notes), notes
    trainer.train()
    assert outcome(trainer)[0] == metrics
    assert all(torch.equal(a, b) for a, b in zip(outcome(trainer)[1], weights))


@pytest.mark.parametrize("case", ["config.json missing", "config.json damaged", "metrics.jsonl damaged inside", "metrics.jsonl missing"])
def test_a_damaged_run_file_is_one_line_naming_it(cli_run_dir, tmp_path, capsys, case):
    run_dir = tmp_path / "run"
    shutil.copytree(cli_run_dir, run_dir)
    file = run_dir / case.split()[0]
    if "missing" in case:
        file.unlink()
    elif case.startswith("config"):
        truncate(file)
    else:
        lines = file.read_text().split("\n")
        file.write_text("\n".join([lines[0], lines[1][:30], *lines[2:]]))
    argv = ["train", *SMALL_CLI, "--lr", "0.0001", "--steps", "3", "--checkpoint-every", "1", "--run-dir", str(run_dir), "--resume"]
    before = sorted(p.relative_to(run_dir) for p in run_dir.rglob("*"))
    assert main(argv) in (1, 2)
    err = capsys.readouterr().err.strip()
    assert err.startswith("reward-sandbox: error: ") and "\n" not in err and file.name in err, err
    assert sorted(p.relative_to(run_dir) for p in run_dir.rglob("*")) == before  # nothing touched


STOPPED_CLI = ["train", *SMALL_CLI, "--variant", "dapo", "--steps", "3", "--eval-every", "2", "--drift-problems", "8"]


@pytest.fixture(scope="module")
def cli_straight(tmp_path_factory):
    """The uninterrupted command's run directory (written once for both stopping points)."""
    run_dir = tmp_path_factory.mktemp("cli-straight") / "straight"
    assert main([*STOPPED_CLI, "--run-dir", str(run_dir)]) == 0
    return run_dir


@pytest.mark.slow
@in_main_thread
@pytest.mark.parametrize("when", ["first evaluation", "step 1"])
def test_the_command_stops_with_130_and_resumes_to_the_straight_run(cli_straight, tmp_path, monkeypatch, capsys, when):
    argv = STOPPED_CLI
    real_eval, real_sample = measurements_module.evaluate_accuracy, collect_module.sample_rollouts
    sent = []

    def evaluate(*args, **kwargs):  # the first call is the evaluation before step 0
        if when == "first evaluation" and not sent:
            sent.append(os.kill(os.getpid(), signal.SIGINT))
        return real_eval(*args, **kwargs)

    def sample(*args, **kwargs):  # the trainer passes the step last
        if when == "step 1" and args[-1] == 1 and not sent:
            sent.append(os.kill(os.getpid(), signal.SIGINT))
        return real_sample(*args, **kwargs)

    monkeypatch.setattr(measurements_module, "evaluate_accuracy", evaluate)
    monkeypatch.setattr(collect_module, "sample_rollouts", sample)
    assert main([*argv, "--run-dir", str(tmp_path / "run")]) == 130
    monkeypatch.undo()
    assert sent
    checkpoints = sorted(p.name for p in (tmp_path / "run" / "checkpoints").glob("step-*"))
    assert checkpoints == ([] if when == "first evaluation" else ["step-000002"])
    assert main([*argv, "--run-dir", str(tmp_path / "run"), "--resume"]) == 0
    assert f"resuming {tmp_path / 'run'} at step {0 if when == 'first evaluation' else 2}" in capsys.readouterr().out

    def logged(run_dir):
        return [deterministic(m) for m in run_dir_module.read_metrics(run_dir / "metrics.jsonl")[0]]

    assert logged(tmp_path / "run") == logged(cli_straight)
    final = [(run_dir / "checkpoints" / "step-000003" / "model.safetensors").read_bytes() for run_dir in (tmp_path / "run", cli_straight)]
    assert final[0] == final[1]
