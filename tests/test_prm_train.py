"""PRM / ORM training: deterministic, rejects bad configs before compute, lowers its loss."""

import pytest
import torch

from sandbox.model.policy import TinyPolicy
from sandbox.prm.discriminative import step_scores
from sandbox.train import recipes
from sandbox.train.prm_train import PRMTrainConfig, label_solutions, sample_solutions, train_prm, train_scorer
from toy_envs import ConfigError


@pytest.mark.parametrize("field,value", [("kind", "value-head"), ("labels", "human"), ("steps", 0), ("n_completions", 0), ("lr", 0.0)])
def test_bad_config_is_rejected_naming_the_field(field, value):
    with pytest.raises(ConfigError, match=field):
        PRMTrainConfig(**{field: value}).validate()


def test_training_is_deterministic_and_fits_its_labels():
    torch.set_num_threads(1)
    model, task, _ = recipes.load("tiny")
    policy = TinyPolicy(model)
    cfg = PRMTrainConfig(labels="mc-soft", n_problems=6, group_size=2, n_completions=2, steps=8, batch_size=8)
    first, info = train_prm(policy, task, cfg)
    second, _ = train_prm(policy, task, cfg)
    solutions = sample_solutions(policy, task, cfg)
    assert step_scores(first, solutions) == step_scores(second, solutions)
    assert info["prm/final_loss"] < 0.69  # below the loss of the zero head (log 2)
    orm, _ = train_scorer(model, solutions, None, PRMTrainConfig(kind="orm", steps=4, batch_size=8))
    assert len(step_scores(orm, solutions)) == len(solutions)
    labels = label_solutions(policy, task, solutions, cfg)
    assert [len(y) for y in labels] == [v.n_steps for v in solutions.verdicts]
