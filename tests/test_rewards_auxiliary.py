"""Auxiliary models through the trainer: built per variant, trained, checkpointed, and resumed
exactly (the critic of ``ppo-gae``, the implicit PRM of ``prime``)."""

import copy

import pytest
import torch

from sandbox.model.policy import TinyPolicy
from sandbox.rewards.auxiliary import auxiliary
from sandbox.rewards.base import RewardContext
from sandbox.rewards.registry import Variant
from sandbox.train.rl import RLConfig, Trainer, deterministic
from sandbox.train.run_dir import RunDir
from toy_envs.base import ConfigError

SMALL = dict(problems_per_step=4, group_size=4, eval_every=0, eval_problems=8, pass_problems=0, progress=False)


def make(warmstart_tiny, variant, steps, run=None):
    model, task, _ = warmstart_tiny
    cfg = RLConfig(variant=variant, steps=steps, **SMALL)
    return Trainer(cfg, task, TinyPolicy(copy.deepcopy(model)), run)


def auxiliary_weights(trainer) -> list[torch.Tensor]:
    modules = {"ppo-gae": lambda a: a["value_head"].scorer, "prime": lambda a: a["implicit_prm"].psi}
    return [p.detach().clone() for p in modules[trainer.cfg.variant](trainer.auxiliaries).parameters()]


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["ppo-gae", "prime"])
def test_auxiliary_models_learn_and_resume_exactly(warmstart_tiny, tmp_path, variant):
    config = {"variant": variant}
    straight = make(warmstart_tiny, variant, 3, RunDir(tmp_path / "a", config, tensorboard=False))
    initial = auxiliary_weights(straight)
    straight.train()
    assert any(not torch.equal(a, b) for a, b in zip(initial, auxiliary_weights(straight)))
    make(warmstart_tiny, variant, 2, RunDir(tmp_path / "b", config, tensorboard=False)).train()
    resumed = make(warmstart_tiny, variant, 3, RunDir(tmp_path / "b", config, resume=True, tensorboard=False))
    assert resumed.run.resume(resumed) == 2
    resumed.train()

    def training_metrics(path):  # evaluation and drift are measured at each run's own end, so leave them out
        return [{k: v for k, v in deterministic(m).items() if not k.startswith(("eval/", "drift/"))}
                for m in RunDir(path, config, resume=True, tensorboard=False).metrics()]

    assert training_metrics(tmp_path / "a") == training_metrics(tmp_path / "b")
    for a, b in zip(auxiliary_weights(straight), auxiliary_weights(resumed)):
        assert torch.equal(a, b)
    for p, q in zip(straight.policy.module.parameters(), resumed.policy.module.parameters()):
        assert torch.equal(p, q)


def test_a_missing_auxiliary_model_and_an_unknown_one_are_clear_errors():
    with pytest.raises(ValueError, match="implicit_prm"):
        auxiliary(RewardContext(task=None), "implicit_prm")
    with pytest.raises(ConfigError, match="auxiliary"):
        Variant(name="x", description="x", sources=(("outcome", 1.0, {}),), estimator="grpo", auxiliaries=(("nope", {}),))
