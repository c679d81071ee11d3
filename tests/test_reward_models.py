"""The trained models a variant declares reach its sources through the trainer, never a source's own loading."""

from __future__ import annotations

import pytest
import torch

from sandbox.model.model import ModelConfig, TinyLlama
from sandbox.prm.discriminative import StepScorer, save_scorer
from sandbox.rewards.base import RewardContext
from sandbox.rewards.thinkprm_reward import prm_generative
from sandbox.rewards.prm_reward import prm_learned
from sandbox.rewards.registry import MODEL_KINDS, SOURCE_MODELS, VARIANTS, Variant, get_variant
from sandbox.rollout.rollouts import Rollouts
from sandbox.train import recipes
from sandbox.train.reward_models import check_reward_models, load_reward_models, model_specs
from toy_envs import ConfigError, make_task

TASK = make_task("arithmetic", n_steps=2)


@pytest.fixture(scope="module")
def prm_dir(tmp_path_factory) -> str:
    torch.manual_seed(0)
    scorer = StepScorer(TinyLlama(ModelConfig(d_model=32, n_layers=1, n_heads=2, n_kv_heads=2, d_ff=64)))
    return str(save_scorer(tmp_path_factory.mktemp("prm") / "random", scorer, {"recipe": "random"}))


def test_every_model_kind_has_a_loader_and_every_model_reading_source_a_kind():
    assert set(MODEL_KINDS) <= set(recipes.KINDS)  # a kind of the recipe table: checked and loaded there
    assert set(SOURCE_MODELS.values()) <= set(MODEL_KINDS)
    for variant in VARIANTS.values():
        for source, _, _ in variant.sources:
            if source in SOURCE_MODELS:
                assert SOURCE_MODELS[source] in variant.models, variant.name


def test_a_variant_whose_source_scores_with_a_model_must_declare_it():
    with pytest.raises(ConfigError, match="models"):
        Variant(name="x", description="x", sources=(("prm_learned", 1.0, {}),), estimator="process_grpo")
    with pytest.raises(ConfigError, match="models"):
        Variant(name="x", description="x", sources=(("outcome", 1.0, {}),), estimator="grpo", models={"critic": "a"})


def test_specs_are_checked_before_a_run_and_the_override_replaces_the_default(prm_dir, tmp_path):
    variant = get_variant("prm-mc")
    assert model_specs(variant) == {"prm": "tiny-mc"}
    assert model_specs(variant, prm_dir) == {"prm": prm_dir}
    check_reward_models(variant, prm_dir)
    with pytest.raises(ConfigError, match="prm="):
        check_reward_models(variant, str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="prm="):
        check_reward_models(get_variant("thinkprm"), "no-such-judge")
    with pytest.raises(ConfigError, match="scores with no PRM or judge"):
        check_reward_models(get_variant("outcome-grpo"), prm_dir)
    assert load_reward_models(get_variant("outcome-grpo")) == {}


def test_the_loaded_model_reaches_the_source_through_the_context(prm_dir):
    models = load_reward_models(get_variant("sprm"), prm_dir)
    assert set(models) == {"prm"} and isinstance(models["prm"], StepScorer)
    rollouts = Rollouts.from_texts(TASK, [TASK.problem(0)] * 2, ["1+2=3\n#3", "x"])
    rewards = prm_learned(rollouts, RewardContext(task=TASK, **models))
    assert rewards.shape == rollouts.tokens.shape
    with pytest.raises(ValueError, match="RewardContext.prm"):
        prm_learned(rollouts, RewardContext(task=TASK))
    with pytest.raises(ValueError, match="RewardContext.judge"):
        prm_generative(rollouts, RewardContext(task=TASK))
