import inspect
from dataclasses import replace

import pytest
import torch
from hypothesis import given

from sandbox.model.model import ModelConfig, TinyLlama
from sandbox.model.policy import TinyPolicy
from sandbox.prm.discriminative import StepScorer
from sandbox.rewards.base import LOSS_AGGREGATIONS, RewardContext
from sandbox.rewards.registry import (
    ESTIMATOR_EXTRAS,
    ESTIMATORS,
    FILTERS,
    LOSS_KEYS,
    SOURCES,
    VARIANTS,
    Variant,
    apply_filters,
    build_auxiliaries,
    compute_advantages,
    compute_token_rewards,
    get_variant,
)
from sandbox.rollout.rollouts import Rollouts
from sandbox.testing.strategies import rollouts_batches
from sandbox.train.rank_diagnostics import HIDDEN_STATES, response_hidden_states
from toy_envs import ConfigError, make_task

TASK = make_task("arithmetic", n_steps=2)
torch.manual_seed(0)
SCORING_POLICY = TinyPolicy(TinyLlama(ModelConfig(d_model=32, n_layers=1, n_heads=2, n_kv_heads=2, d_ff=64)))
"""An untrained one-layer policy for sources that score with a model (any weights will do)."""
STAND_INS = {"prm": StepScorer(SCORING_POLICY.module), "judge": SCORING_POLICY.module, "stepwiser": SCORING_POLICY.module}
"""Untrained stand-ins for the trained models variants declare (``Variant.models``), by kind."""
REQUIRED = (
    "outcome-grpo",
    "dr-grpo",
    "rloo",
    "rpp-baseline",
    "dapo",
    "grpo-mean-range",
    "random",
    "format-only",
    "incorrect-label",
    "outcome-rtg",
)


def mixed_rollouts():
    """Three groups: all right, split, all answerless (one row truncated)."""
    problems = [TASK.problem(i) for i in (0, 0, 1, 1, 1, 2, 2)]
    gold = [TASK.gold_solution(p) for p in problems]
    texts = [gold[0], gold[1], gold[2], "#-1\n", gold[4], "1+1=2\n", "12345"]
    return Rollouts.from_texts(TASK, problems, texts, truncated=[False] * 6 + [True])


def test_required_variants_are_registered_under_their_names():
    assert set(REQUIRED) <= set(VARIANTS)
    for name, variant in VARIANTS.items():
        assert variant.name == name and get_variant(name) is variant
        assert variant.description and "\n" not in variant.description


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_variant_names_existing_pieces_with_accepted_params(name):
    variant = VARIANTS[name]
    for source, weight, params in variant.sources:
        assert isinstance(weight, float)
        inspect.signature(SOURCES[source]).bind(None, None, **params)
    for filter_name, params in variant.filters:
        inspect.signature(FILTERS[filter_name]).bind(None, None, None, **params)
    extras = dict.fromkeys(ESTIMATOR_EXTRAS.get(variant.estimator, ()))
    inspect.signature(ESTIMATORS[variant.estimator]).bind(None, None, None, None, **extras, **variant.estimator_options)
    assert set(variant.loss) <= set(LOSS_KEYS)
    assert variant.loss.get("aggregation", LOSS_AGGREGATIONS[0]) in LOSS_AGGREGATIONS


def test_dapo_composition():
    dapo = get_variant("dapo")
    assert [s[0] for s in dapo.sources] == ["outcome", "overlong"]
    assert [f[0] for f in dapo.filters] == ["variance_filter"]
    assert dapo.estimator == "grpo" and dapo.refill
    assert dapo.loss == {"clip_low": 0.2, "clip_high": 0.28, "aggregation": "token-mean"}


def test_unknown_names_raise_config_errors():
    with pytest.raises(ConfigError, match="variant") as error:
        get_variant("no-such-variant")
    assert "outcome-grpo" in str(error.value)
    base = VARIANTS["outcome-grpo"]
    with pytest.raises(ConfigError, match="source"):
        replace(base, sources=(("nope", 1.0, {}),))
    with pytest.raises(ConfigError, match="filter"):
        replace(base, filters=(("nope", {}),))
    with pytest.raises(ConfigError, match="estimator"):
        replace(base, estimator="nope")
    with pytest.raises(ConfigError, match="aggregation"):
        replace(base, loss={"aggregation": "sum"})
    with pytest.raises(ConfigError, match="loss"):
        replace(base, loss={"lr": 1.0})


@pytest.mark.slow
@given(rollouts_batches(TASK))
def test_every_variant_turns_rollouts_into_finite_advantages_on_the_response(rollouts):
    rollouts = replace(rollouts, extras={**rollouts.extras, "tree": rollouts.rollout_index % 2})  # tree ids, as the tree sampler gives them
    for variant in VARIANTS.values():
        auxiliaries = build_auxiliaries(variant, SCORING_POLICY, TASK, 0)  # e.g. PRIME's implicit PRM, PPO's critic
        models = {kind: STAND_INS[kind] for kind in variant.models}  # what the trainer would load
        # model-scored sources (DRO) read the policy
        ctx = RewardContext(task=TASK, max_new_tokens=24, policy=SCORING_POLICY, auxiliaries=auxiliaries, **models)
        rewards = compute_token_rewards(variant, rollouts, ctx)
        assert (rewards[~rollouts.response_mask] == 0).all()
        kept = apply_filters(variant, rollouts, rewards, ctx)
        assert set(kept.info) == {name for name, _ in variant.filters}
        if not kept.keep.any():
            continue
        rows = kept.keep.nonzero().flatten()
        subset = rollouts.select(rows)
        inputs = {k: v for model in auxiliaries.values() for k, v in model.estimator_inputs(subset).items()}
        if HIDDEN_STATES in ESTIMATOR_EXTRAS.get(variant.estimator, ()):  # as the trainer hands them in
            subset.extras[HIDDEN_STATES] = response_hidden_states(SCORING_POLICY, subset, torch.device("cpu"), "fp32")
        adv = compute_advantages(variant, subset, rewards[rows][:, : subset.tokens.shape[1]], inputs)
        assert adv.shape == subset.tokens.shape and torch.isfinite(adv).all()
        assert (adv[~subset.response_mask] == 0).all()


def test_token_rewards_are_the_weighted_sum_of_sources():
    rollouts = mixed_rollouts()
    ctx = RewardContext(task=TASK, max_new_tokens=24)
    variant = Variant(
        name="mix",
        description="test",
        sources=(("outcome", 2.0, {}), ("overlong", 0.5, {"cache_len": 4})),
        estimator="grpo",
    )
    expected = 2.0 * SOURCES["outcome"](rollouts, ctx) + 0.5 * SOURCES["overlong"](rollouts, ctx, cache_len=4)
    torch.testing.assert_close(compute_token_rewards(variant, rollouts, ctx), expected)


def test_a_nan_reward_raises_naming_the_variant_and_source():
    rollouts = mixed_rollouts()
    nan_weight = (("outcome", 1.0, {}), ("overlong", float("nan"), {}))
    broken = replace(VARIANTS["dapo"], name="broken-dapo", sources=nan_weight)
    with pytest.raises(ValueError, match="broken-dapo.*overlong"):
        compute_token_rewards(broken, rollouts, RewardContext(task=TASK))


def test_filters_are_combined_with_and():
    rollouts = mixed_rollouts()
    ctx = RewardContext(task=TASK)
    both = replace(
        VARIANTS["outcome-grpo"],
        filters=(("variance_filter", {}), ("mean_range_filter", {"lo": 0.5, "hi": 2.0})),
    )
    rewards = compute_token_rewards(both, rollouts, ctx)
    result = apply_filters(both, rollouts, rewards, ctx)
    alone = [FILTERS[name](rollouts, rewards, ctx, **params).keep for name, params in both.filters]
    assert result.keep.tolist() == [False, False, True, True, True, False, False]
    assert torch.equal(result.keep, alone[0] & alone[1]) and not torch.equal(result.keep, alone[1])
    assert set(result.info) == {"variance_filter", "mean_range_filter"}


def test_a_renamed_variant_is_refused_with_its_new_name():
    from sandbox.rewards.registry import RENAMED_VARIANTS, VARIANTS, get_variant

    for old, new in RENAMED_VARIANTS.items():
        assert old not in VARIANTS and new in VARIANTS
        with pytest.raises(ConfigError, match=f"variant='{old}' is not allowed: renamed '{new}'"):
            get_variant(old)
