"""The registry: reward pieces by name, and variants that compose them.

    token rewards  r = Σ_k w_k · source_k(rollouts, ctx)
    keep           = ∧_f filter_f(rollouts, r, ctx).keep
    advantages     A = estimator(r, response_mask, group, step_ids, **options)

A variant is one ``Variant`` entry in ``VARIANTS``: its sources with weights and params, its
filters, its estimator and options, its policy-loss overrides, whether the trainer refills
dropped groups, and the trained models (``models``) and auxiliary models (``auxiliaries``) its
pieces read -- declared here, built or loaded by the trainer (``sandbox.train``), never by a piece. The trainer, CLI, experiments and notebooks only call the functions below, so
adding a variant is adding one entry, and adding a piece is one file plus one line in
``SOURCES``, ``FILTERS`` or ``ESTIMATORS`` (side by side, like verl's advantage-estimator
registry in ``core_algos``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from sandbox.errors import require_finite
from sandbox.rewards.base import LOSS_AGGREGATIONS, FilterResult, RewardContext
from sandbox.rewards.brier import brier
from sandbox.rewards.dr_grpo import dr_grpo
from sandbox.rewards.dro_length import dro_length
from sandbox.rewards.dro_query_filter import ProblemFilterResult, dro_query_filter
from sandbox.rewards.dro_r3 import dro_r3
from sandbox.rewards.format_rubric import format_rubric
from sandbox.rewards.gae import gae
from sandbox.rewards.thinkprm_reward import prm_generative
from sandbox.rewards.grpo import grpo
from sandbox.rewards.incorrect_label import incorrect_label
from sandbox.rewards.mean_range_filter import mean_range_filter
from sandbox.rewards.outcome import outcome
from sandbox.rewards.overlong import overlong
from sandbox.rewards.prime import ImplicitPRM, prime_implicit
from sandbox.rewards.prm_reward import prm_learned, prm_oracle
from sandbox.rewards.process_grpo import process_grpo
from sandbox.rewards.random_reward import random_reward
from sandbox.rewards.return_to_go import return_to_go
from sandbox.rewards.rloo import rloo
from sandbox.rewards.rpp_baseline import rpp_baseline
from sandbox.rewards.rubric_dense import rubric_dense
from sandbox.rewards.rubric_gate import rubric_gate
from sandbox.rewards.tree_grpo import tree_grpo
from sandbox.rewards.value_head import ValueHead
from sandbox.rewards.variance_filter import variance_filter
from sandbox.rollout.gold_sampler import sample_gold
from sandbox.rollout.group_sampler import sample_groups
from sandbox.rollout.rollouts import Rollouts
from sandbox.rollout.tree_sampler import leaves_per_tree, sample_trees
from toy_envs.base import check

SOURCES = {
    "outcome": outcome,
    "format_rubric": format_rubric,
    "overlong": overlong,
    "random_reward": random_reward,
    "incorrect_label": incorrect_label,
    "prm_oracle": prm_oracle,
    "prm_learned": prm_learned,
    "prm_generative": prm_generative,
    "dro_r3": dro_r3,
    "dro_length": dro_length,
    "rubric_dense": rubric_dense,
    "prime_implicit": prime_implicit,
    "brier": brier,
}
"""Reward source name -> ``RewardSource``."""

MODEL_KINDS = ("prm", "judge")
"""The kinds of trained model a variant can declare (``Variant.models``); each reaches the sources
in the ``RewardContext`` field of that name (``sandbox.train.reward_models`` resolves and loads them)."""

SOURCE_MODELS = {
    "prm_learned": "prm",
    "prm_generative": "judge",
}
"""Source name -> the kind of trained model it scores with (its variant must declare one)."""

FILTERS = {
    "variance_filter": variance_filter,
    "mean_range_filter": mean_range_filter,
    "rubric_gate": rubric_gate,
}
"""Filter name -> ``Filter``."""

PROBLEM_FILTERS = {
    "dro_query_filter": dro_query_filter,
}
"""Problem filter name -> ``problem_filter(problem_indices, sample, ctx, **params)`` returning a
``ProblemFilterResult`` (the problems to exclude); ``sample(indices, group_size)`` draws Rollouts."""

ESTIMATORS = {
    "grpo": grpo,
    "dr_grpo": dr_grpo,
    "rloo": rloo,
    "rpp_baseline": rpp_baseline,
    "return_to_go": return_to_go,
    "process_grpo": process_grpo,
    "tree_grpo": tree_grpo,
    "gae": gae,
}
"""Advantage estimator name -> ``AdvantageEstimator``."""

ESTIMATOR_EXTRAS = {
    "tree_grpo": ("tree",),
}
"""Estimator name -> the ``Rollouts.extras`` keys it reads, passed to it as keyword arguments
(a sampler must provide them, e.g. the tree sampler's ``tree`` ids); other estimators get none."""

SAMPLERS = {
    "group": sample_groups,
    "tree": sample_trees,
    "gold": sample_gold,
}
"""Sampler name -> ``sampler(policy, task, problem_indices, group_size, sampling, seed, step, **options)``
returning ``Rollouts`` with the rows of one problem adjacent (``group_size`` rows per problem)."""

SAMPLER_CHECKS = {
    "tree": lambda group_size, trees=2, rounds=2, branches=2: leaves_per_tree(group_size, trees, rounds, branches),
}
"""Sampler name -> ``check(group_size, **options)``: ``ConfigError`` when the sampler cannot draw
``group_size`` rows per problem with these options (the tree's shape)."""

AUXILIARIES = {
    "value_head": ValueHead,
    "implicit_prm": ImplicitPRM,
}
"""Auxiliary model name -> ``factory(policy, task, seed, **params)`` building an ``AuxiliaryModel``
(``sandbox.rewards.auxiliary``) that the trainer builds, drives and checkpoints beside the policy."""

LOSS_KEYS = ("clip_low", "clip_high", "aggregation", "kl_coef")


@dataclass(frozen=True, kw_only=True)
class Variant:
    """One reward scheme: which pieces, with which settings."""

    name: str
    """The registry key, e.g. ``"dapo"``."""
    description: str
    """One line saying what the variant is."""
    sources: tuple[tuple[str, float, dict], ...]
    """(source name, weight, params) of every reward source; token rewards are their weighted sum."""
    filters: tuple[tuple[str, dict], ...] = ()
    """(filter name, params) of every filter; a row is kept iff every filter keeps it."""
    estimator: str
    """The advantage estimator's name."""
    estimator_options: dict = field(default_factory=dict)
    """Keyword options for the estimator (e.g. ``eps``, ``gamma``)."""
    loss: dict = field(default_factory=dict)
    """Policy-loss overrides among ``clip_low``, ``clip_high``, ``aggregation``, ``kl_coef``."""
    refill: bool = False
    """The trainer draws fresh problems to refill groups the filters dropped."""
    sampler: str = "group"
    """How rollouts are drawn (``SAMPLERS``): independent groups, or e.g. trees sharing prefixes."""
    sampler_options: dict = field(default_factory=dict)
    """Keyword options for the sampler."""
    problem_filter: tuple = ()
    """(problem filter name, params), or () for none: the trainer screens the problem stream with it
    (``PROBLEM_FILTERS``) and skips the problems it excludes."""
    problem_filter_every: int = 5
    """The problem filter screens the next ``problem_filter_every`` steps' worth of problems (that many
    times P) at once: before training and again whenever the screened window is used up."""
    models: dict = field(default_factory=dict)
    """Trained models the sources score with, by kind (``MODEL_KINDS``) -> the default spec: a recipe
    name or a checkpoint directory, e.g. ``{"prm": "tiny-mc"}``. Declared like the auxiliaries: the
    trainer resolves each (``RLConfig.prm`` overrides the spec), loads it once and hands it to the
    sources in ``RewardContext.prm`` / ``.judge``; a source never loads or trains a model."""
    auxiliaries: tuple[tuple[str, dict], ...] = ()
    """(auxiliary model name, params) of every learned model trained beside the policy (``AUXILIARIES``):
    e.g. PPO's critic, whose values reach the estimator, or PRIME's implicit PRM, which a source reads."""
    uses_verifier: bool = True
    """Training may run the task's verifier (``task.score``). False declares a variant that learns
    without one (DRO): the trainer then logs no verdict-based rollout metrics
    (``rollout/accuracy``, ``rollout/parse_ok``), and since verdicts are computed only when read
    (``Verdicts``), none is computed unless a piece reads one -- which a test of each such variant
    rules out by making ``score`` raise. Held-out evaluation (``eval/*``) still uses the verifier:
    it measures the policy and is not part of the training signal."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """``ConfigError`` naming the first piece or loss override that does not exist."""
        for source, _, _ in self.sources:
            check(source in SOURCES, "source", f"one of {sorted(SOURCES)}", source)
        for filter_name, _ in self.filters:
            check(filter_name in FILTERS, "filter", f"one of {sorted(FILTERS)}", filter_name)
        check(self.sampler in SAMPLERS, "sampler", f"one of {sorted(SAMPLERS)}", self.sampler)
        if self.problem_filter:
            name = self.problem_filter[0]
            check(name in PROBLEM_FILTERS, "problem_filter", f"one of {sorted(PROBLEM_FILTERS)}", name)
        check(self.problem_filter_every >= 1, "problem_filter_every", "an integer >= 1", self.problem_filter_every)
        check(self.estimator in ESTIMATORS, "estimator", f"one of {sorted(ESTIMATORS)}", self.estimator)
        for kind in self.models:
            check(kind in MODEL_KINDS, "models", f"kinds among {MODEL_KINDS}", kind)
        for source, _, _ in self.sources:
            if source in SOURCE_MODELS:
                check(SOURCE_MODELS[source] in self.models, "models", f"a {SOURCE_MODELS[source]!r} entry for source {source!r}",
                      self.models)
        for auxiliary_name, _ in self.auxiliaries:
            check(auxiliary_name in AUXILIARIES, "auxiliary", f"one of {sorted(AUXILIARIES)}", auxiliary_name)
        for key in self.loss:
            check(key in LOSS_KEYS, "loss", f"keys among {LOSS_KEYS}", key)
        aggregation = self.loss.get("aggregation", LOSS_AGGREGATIONS[0])
        check(aggregation in LOSS_AGGREGATIONS, "aggregation", f"one of {LOSS_AGGREGATIONS}", aggregation)


OUTCOME = (("outcome", 1.0, {}),)
"""The plain verifier reward: 1[correct] on the last response token."""

GROUP_GATE = {"mode": "group", "min_pass": 0.5}
"""DRO's rubric gate over groups, shared by ``dro+gate``'s filter and its R3 (σ, w over kept rows)."""
ROW_GATE = {"mode": "row"}
"""The rubric gate over single rows (``dro+rowgate``)."""

GAE_OPTIONS = {"gamma": 1.0, "lam": 0.95}
"""γ, λ of ppo-gae, shared by its estimator and its critic's λ-return targets."""

VARIANTS = {
    variant.name: variant
    for variant in (
        Variant(
            name="outcome-grpo",
            description="1[correct] on the last token, GRPO z-scored group advantage",
            sources=OUTCOME,
            estimator="grpo",
        ),
        Variant(
            name="dr-grpo",
            description="1[correct], group-centred advantage without std, constant length normaliser",
            sources=OUTCOME,
            estimator="dr_grpo",
            loss={"aggregation": "seq-mean-token-sum-norm"},
        ),
        Variant(
            name="rloo",
            description="1[correct], leave-one-out baseline",
            sources=OUTCOME,
            estimator="rloo",
            loss={"aggregation": "token-mean"},
        ),
        Variant(
            name="rpp-baseline",
            description="1[correct], group-centred then whitened over the batch (REINFORCE++-baseline)",
            sources=OUTCOME,
            estimator="rpp_baseline",
            loss={"aggregation": "token-mean"},
        ),
        Variant(
            name="dapo",
            description="1[correct] + soft overlong penalty (cache L_max/5, weight 0.5: DAPO's proportions to a ±1 outcome), "
            "dynamic sampling + refill, clip-higher, token-mean",
            sources=(("outcome", 1.0, {}), ("overlong", 0.5, {})),
            filters=(("variance_filter", {"metric": "accuracy"}),),
            estimator="grpo",
            loss={"clip_low": 0.2, "clip_high": 0.28, "aggregation": "token-mean"},
            refill=True,
        ),
        Variant(
            name="grpo-mean-range",
            description="1[correct], GRPO on groups with 0 < accuracy < 1 only, no refill",
            sources=OUTCOME,
            filters=(("mean_range_filter", {"lo": 0.0, "hi": 1.0}),),
            estimator="grpo",
        ),
        Variant(
            name="random",
            description="spurious control: Bernoulli(0.5) reward, GRPO",
            sources=(("random_reward", 1.0, {"p": 0.5}),),
            estimator="grpo",
        ),
        Variant(
            name="gold-sft",
            description="control: the gold solutions (G copies) with reward 1 and advantage +1 on every token, "
            "token-mean: continued SFT through the policy loss",
            sources=OUTCOME,
            estimator="return_to_go",
            loss={"aggregation": "token-mean"},
            sampler="gold",
        ),
        Variant(
            name="format-only",
            description="spurious control: 1 iff every format check passes, GRPO",
            sources=(("format_rubric", 1.0, {"binary": True}),),
            estimator="grpo",
        ),
        Variant(
            name="incorrect-label",
            description="spurious control: 1 iff the answer is a fixed wrong label, GRPO",
            sources=(("incorrect_label", 1.0, {}),),
            estimator="grpo",
        ),
        Variant(
            name="brier",
            description="RLCR: 1[correct] − (q − 1[correct])² for the stated confidence q, GRPO (confidence-line tasks)",
            sources=(("brier", 1.0, {}),),
            estimator="grpo",
        ),
        Variant(
            name="dro",
            description="DRO R3: σ-weighted log-likelihood of the reference answer given each reasoning, GRPO, query filter; no verifier",
            sources=(("dro_r3", 1.0, {}),),
            estimator="grpo",
            problem_filter=("dro_query_filter", {"group_size": 4}),
            uses_verifier=False,
        ),
        Variant(
            name="dro-uniform",
            description="DRO R3 ablation: uniform weights over the reference tokens (mean log-likelihood of the "
            "reference answer, no σ weighting), GRPO, query filter; no verifier",
            sources=(("dro_r3", 1.0, {"weighting": "uniform"}),),
            estimator="grpo",
            problem_filter=("dro_query_filter", {"group_size": 4}),
            uses_verifier=False,
        ),
        Variant(
            name="dro+gate",
            description="DRO R3 with the rubric as a group gate (groups under half valid leave the batch, and the "
            "invalid rows of the rest), σ and w over the kept rows, GRPO; no verifier",
            sources=(("dro_r3", 1.0, {"gate": GROUP_GATE}),),
            filters=(("rubric_gate", GROUP_GATE),),
            estimator="grpo",
            uses_verifier=False,
        ),
        Variant(
            name="dro+rowgate",
            description="DRO R3 with the rubric as a row gate (every invalid row leaves the batch), σ and w over the "
            "kept rows, GRPO; no verifier",
            sources=(("dro_r3", 1.0, {"gate": ROW_GATE}),),
            filters=(("rubric_gate", ROW_GATE),),
            estimator="grpo",
            uses_verifier=False,
        ),
        Variant(
            name="rubric-dense",
            description="DRO R3 + the hackable format rubric as a dense reward term, GRPO; no verifier",
            sources=(("dro_r3", 1.0, {}), ("rubric_dense", 1.0, {})),
            estimator="grpo",
            uses_verifier=False,
        ),
        Variant(
            name="prm-oracle",
            description="oracle step validity on each step's last token, process-supervised GRPO (no model)",
            sources=(("prm_oracle", 1.0, {"target": "valid"}),),
            estimator="process_grpo",
        ),
        Variant(
            name="prm-mc",
            description="learned PRM (Math-Shepherd MC hard labels, recipe tiny-mc) step scores, process-supervised GRPO",
            sources=(("prm_learned", 1.0, {}),),
            models={"prm": "tiny-mc"},
            estimator="process_grpo",
        ),
        Variant(
            name="prm-rpe",
            description="learned PRM (GenPRM relative-progress labels, recipe tiny-rpe) step scores, process-supervised GRPO",
            sources=(("prm_learned", 1.0, {}),),
            models={"prm": "tiny-rpe"},
            estimator="process_grpo",
        ),
        Variant(
            name="sprm",
            description="self-supervised PRM (MetaStone SPR loss on outcome pseudo-labels, recipe tiny-sprm) step scores, "
            "process-supervised GRPO",
            sources=(("prm_learned", 1.0, {}),),
            models={"prm": "tiny-sprm"},
            estimator="process_grpo",
        ),
        Variant(
            name="thinkprm",
            description="generative PRM (ThinkPRM-style judge, recipe tiny-thinkprm: mean step-verdict P(Y) over 2 "
            "sampled verification chains) step scores, process-supervised GRPO",
            sources=(("prm_generative", 1.0, {"n_chains": 2}),),
            models={"judge": "tiny-thinkprm"},
            estimator="process_grpo",
        ),
        Variant(
            name="outcome-rtg",
            description="1[correct], return-to-go minus the group-mean return",
            sources=OUTCOME,
            estimator="return_to_go",
            estimator_options={"baseline": "group_mean"},
            loss={"aggregation": "token-mean"},
        ),
        Variant(
            name="ppo-gae",
            description="1[correct], PPO critic: GAE (γ=1, λ=0.95, whitened over the batch) on a learned value head "
            "trained with a value loss on the λ-returns",
            sources=OUTCOME,
            estimator="gae",
            estimator_options=GAE_OPTIONS,
            loss={"aggregation": "token-mean"},
            auxiliaries=(("value_head", GAE_OPTIONS),),
        ),
        Variant(
            name="prime",
            description="PRIME: 1[correct] + implicit PRM token rewards β·log πψ/πref (ψ trained online on outcomes), "
            "return-to-go minus the leave-one-out mean return, whitened over the batch",
            sources=(("outcome", 1.0, {}), ("prime_implicit", 1.0, {})),
            estimator="return_to_go",
            estimator_options={"baseline": "leave_one_out", "whiten": True},
            loss={"aggregation": "token-mean"},
            auxiliaries=(("implicit_prm", {"beta": 0.05, "lr": 1e-3}),),
        ),
        Variant(
            name="tree-grpo",
            description="1[correct], tree rollouts sharing prefixes (2 trees, 2 rounds x 2 branches; "
            "group_size = 2K, K <= 5 leaves kept per tree), intra-tree + intra-prompt z-scores",
            sources=OUTCOME,
            estimator="tree_grpo",
            sampler="tree",
            sampler_options={"trees": 2, "rounds": 2, "branches": 2},
        ),
        Variant(
            name="tree-inner",
            description="1[correct], tree rollouts as tree-grpo, intra-tree z-score only",
            sources=OUTCOME,
            estimator="tree_grpo",
            estimator_options={"prompt_term": False},
            sampler="tree",
            sampler_options={"trees": 2, "rounds": 2, "branches": 2},
        ),
    )
}
"""Variant name -> ``Variant``."""


RENAMED_VARIANTS = {"genprm": "thinkprm"}
"""Old variant name -> its new name: ``get_variant`` refuses the old one and names the new one
(``genprm`` was the ThinkPRM judge; GenPRM is another paper, whose labels ``prm-rpe`` uses)."""


def get_variant(name: str) -> Variant:
    """The variant called ``name``; ``ConfigError`` naming ``variant`` and the allowed names."""
    if name in RENAMED_VARIANTS:
        check(False, "variant", f"renamed {RENAMED_VARIANTS[name]!r} (one of {sorted(VARIANTS)})", name)
    check(name in VARIANTS, "variant", f"one of {sorted(VARIANTS)}", name)
    return VARIANTS[name]


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
    """[B, T] float32 Σ weight · source; ``NonFiniteError`` naming the variant, step and source on NaN/inf."""
    total = torch.zeros(rollouts.tokens.shape, dtype=torch.float32, device=rollouts.device)
    for source, weight, params in variant.sources:
        weighted = weight * SOURCES[source](rollouts, ctx, **params)
        require_finite(weighted, f"variant {variant.name!r}, step {ctx.step}", f"reward source {source!r}")
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
            f"which sampler {variant.sampler!r} did not provide"
        )
    extras = {key: rollouts.extras[key] for key in needed}
    return estimator(
        token_rewards, rollouts.response_mask, rollouts.group, rollouts.step_ids,
        **extras, **(inputs or {}), **variant.estimator_options,
    )

