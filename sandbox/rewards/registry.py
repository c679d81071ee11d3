"""The registry engine: run a variant's pieces on a batch.

    token rewards  r = Σ_k w_k · source_k(rollouts, ctx)      (row totals Σ_t w_k·source_k in extras)
    keep           = ∧_f filter_f(rollouts, r, ctx).keep
    advantages     A = estimator(r, response_mask, group, step_ids, **options)

The pieces by name and the ``Variant`` record are in ``sandbox.rewards.pieces``, the variants in
``sandbox.rewards.catalog``; both are re-exported here, so the trainer, CLI, experiments and
notebooks import everything from this module. A variant declares the trained models (``models``)
and auxiliary models (``auxiliaries``) its pieces read; the trainer (``sandbox.train``) builds or
loads them, never a piece.
"""

from __future__ import annotations

import torch

from sandbox.errors import require_finite
from sandbox.rewards.base import FilterResult, RewardContext
from sandbox.rewards.catalog import GAE_OPTIONS, GROUP_GATE, OUTCOME, RENAMED_VARIANTS, ROW_GATE, VARIANTS, get_variant
from sandbox.rewards.dro_query_filter import ProblemFilterResult
from sandbox.rewards.pieces import (
    AUXILIARIES,
    DISTILLATIONS,
    ESTIMATOR_EXTRAS,
    ESTIMATORS,
    FILTERS,
    LOSS_KEYS,
    MODEL_KINDS,
    PROBLEM_FILTERS,
    REFINEMENTS,
    SAMPLER_CHECKS,
    SAMPLERS,
    SOURCE_MODELS,
    SOURCE_TASK_FIELDS,
    SOURCES,
    Variant,
)
from sandbox.rollout.rollouts import Rollouts
from toy_envs.base import check

__all__ = [
    "AUXILIARIES", "DISTILLATIONS", "ESTIMATORS", "ESTIMATOR_EXTRAS", "FILTERS", "GAE_OPTIONS", "GROUP_GATE", "LOSS_KEYS", "MODEL_KINDS",
    "OUTCOME", "PROBLEM_FILTERS", "REFINEMENTS", "RENAMED_VARIANTS", "ROW_GATE", "SAMPLERS", "SAMPLER_CHECKS", "SOURCES", "SOURCE_MODELS",
    "SOURCE_TASK_FIELDS", "VARIANTS", "Variant", "apply_filters", "apply_problem_filter", "build_auxiliaries",
    "build_distillation", "build_refinement", "check_variant_options", "check_variant_task",
    "compute_advantages", "compute_token_rewards", "get_variant", "sample_rollouts",
]


def check_variant_task(variant: Variant, task) -> None:
    """Before a run: ``ConfigError`` naming ``variant`` when one of its sources scores something
    ``task``'s responses do not contain (``SOURCE_TASK_FIELDS``: brier needs a confidence line)."""
    for source, _, _ in variant.sources:
        if source in SOURCE_TASK_FIELDS:
            needed, meaning = SOURCE_TASK_FIELDS[source]
            check(bool(getattr(task, needed, False)), "variant",
                  f"a variant for this task; {variant.name!r} needs {meaning} (task {type(task).__name__} has {needed}=False)",
                  variant.name)


def check_variant_options(variant: Variant, group_size: int) -> None:
    """Before a run: ``ConfigError`` naming the field when the variant's sampler cannot draw
    ``group_size`` rows per problem (checked without sampling anything). The models the variant
    declares are checked by the trainer (``sandbox.train.reward_models.check_reward_models``)."""
    if variant.sampler in SAMPLER_CHECKS:
        SAMPLER_CHECKS[variant.sampler](group_size, **variant.sampler_options)


def sample_rollouts(variant: Variant, policy, task, problem_indices, group_size, sampling, seed, step) -> Rollouts:
    """The variant's sampler on ``problem_indices`` (``group_size`` rows per problem)."""
    sampler = SAMPLERS[variant.sampler]
    return sampler(policy, task, problem_indices, group_size, sampling, seed, step, **variant.sampler_options)


def apply_problem_filter(variant: Variant, problem_indices: list[int], sample, ctx: RewardContext) -> ProblemFilterResult:
    """The variant's problem filter on ``problem_indices`` (the variant must have one)."""
    name, params = variant.problem_filter
    return PROBLEM_FILTERS[name](problem_indices, sample, ctx, **params)


def compute_token_rewards(variant: Variant, rollouts: Rollouts, ctx: RewardContext) -> torch.Tensor:
    """[B, T] float32 Σ weight · source; ``NonFiniteError`` naming the variant, step and source on NaN/inf.
    Each source's weighted row total goes to ``rollouts.extras[f"{source}_total"]`` ([B]), for an
    estimator that baselines reward kinds apart (``ESTIMATOR_EXTRAS``: PRIME's ``outcome_total``)."""
    total = torch.zeros(rollouts.tokens.shape, dtype=torch.float32, device=rollouts.device)
    for source, weight, params in variant.sources:
        weighted = weight * SOURCES[source](rollouts, ctx, **params)
        require_finite(weighted, f"variant {variant.name!r}, step {ctx.step}", f"reward source {source!r}")
        rollouts.extras[f"{source}_total"] = weighted.sum(-1)
        total = total + weighted
    return total


def apply_filters(
    variant: Variant, rollouts: Rollouts, token_rewards: torch.Tensor, ctx: RewardContext
) -> FilterResult:
    """Rows every filter keeps; ``info[filter name]`` is that filter's info."""
    keep = torch.ones(len(rollouts), dtype=torch.bool, device=rollouts.device)
    info = {}
    for filter_name, params in variant.filters:
        result = FILTERS[filter_name](rollouts, token_rewards, ctx, **params)
        keep = keep & result.keep
        info[filter_name] = result.info
    return FilterResult(keep=keep, info=info)


def build_auxiliaries(variant: Variant, policy, task, seed: int) -> dict:
    """The variant's auxiliary models by name, each built from ``policy`` (its initial weights)."""
    return {name: AUXILIARIES[name](policy, task, seed, **params) for name, params in variant.auxiliaries}


def build_distillation(variant: Variant):
    """The variant's distillation term (``Variant.distillation``), or ``None``."""
    if not variant.distillation:
        return None
    name, params = variant.distillation
    return DISTILLATIONS[name](**params)


def build_refinement(variant: Variant):
    """The variant's refinement piece (``Variant.refinement``), or ``None``."""
    if not variant.refinement:
        return None
    name, params = variant.refinement
    return REFINEMENTS[name](**params)


def compute_advantages(
    variant: Variant, rollouts: Rollouts, token_rewards: torch.Tensor, inputs: dict | None = None
) -> torch.Tensor:
    """[B, T] float32 advantages from the variant's estimator, 0 off the response; ``inputs``
    (e.g. an auxiliary critic's ``values``) are passed to it as keyword arguments."""
    estimator = ESTIMATORS[variant.estimator]
    needed = ESTIMATOR_EXTRAS.get(variant.estimator, ())
    missing = [key for key in needed if key not in rollouts.extras]
    if missing:
        raise ValueError(
            f"variant {variant.name!r}: estimator {variant.estimator!r} reads Rollouts.extras {missing}, "
            f"which neither sampler {variant.sampler!r}, nor the variant's reward sources (their '<source>_total'), "
            f"nor the trainer ('hidden_states') provided"
        )
    extras = {key: rollouts.extras[key] for key in needed}
    return estimator(
        token_rewards, rollouts.response_mask, rollouts.group, rollouts.step_ids,
        **extras, **(inputs or {}), **variant.estimator_options,
    )

