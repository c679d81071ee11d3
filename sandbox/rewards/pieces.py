"""Reward pieces by name, and the ``Variant`` record that composes them.

Every source, filter, problem filter, advantage estimator, sampler and auxiliary model the
variants may name sits in one table below, side by side (like verl's advantage-estimator registry
in ``core_algos``); adding a piece is one file plus one line here. ``Variant`` validates its names
against these tables when it is made. The variants themselves are in ``sandbox.rewards.catalog``,
the functions that run them in ``sandbox.rewards.registry``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.rewards.base import LOSS_AGGREGATIONS, RewardContext
from sandbox.rewards.brier import brier
from sandbox.rewards.critique_grpo import CritiqueRefinement
from sandbox.rewards.dr_grpo import dr_grpo
from sandbox.rewards.dro_length import dro_length
from sandbox.rewards.dro_query_filter import ProblemFilterResult, dro_query_filter
from sandbox.rewards.dro_r3 import dro_r3
from sandbox.rewards.effective_rank_grpo import effective_rank_grpo
from sandbox.rewards.expert_similarity import expert_similarity
from sandbox.rewards.format_rubric import format_rubric
from sandbox.rewards.gae import gae
from sandbox.rewards.thinkprm_reward import prm_generative
from sandbox.rewards.grpo import grpo
from sandbox.rewards.incorrect_label import incorrect_label
from sandbox.rewards.info_gain import info_gain
from sandbox.rewards.judge_outcome import judge_outcome
from sandbox.rewards.mean_range_filter import mean_range_filter
from sandbox.rewards.outcome import outcome
from sandbox.rewards.overlong import overlong
from sandbox.rewards.prime import ImplicitPRM, prime_implicit
from sandbox.rewards.prime_rloo import prime_rloo
from sandbox.rewards.prm_reward import prm_learned, prm_oracle
from sandbox.rewards.process_grpo import process_grpo
from sandbox.rewards.random_reward import random_reward
from sandbox.rewards.return_to_go import return_to_go
from sandbox.rewards.rloo import rloo
from sandbox.rewards.rpp_baseline import rpp_baseline
from sandbox.rewards.rubric_dense import rubric_dense
from sandbox.rewards.rubric_gate import rubric_gate
from sandbox.rewards.sdpo import SelfDistillation
from sandbox.rewards.self_evaluation import self_evaluation
from sandbox.rewards.tree_grpo import tree_grpo
from sandbox.rewards.value_head import ValueHead
from sandbox.rewards.variance_filter import variance_filter
from sandbox.prm.search_sampler import check_search_options, sample_search
from sandbox.rollout.expert_step_sampler import check_expert_step_options, sample_expert_steps
from sandbox.rollout.gold_sampler import sample_gold
from sandbox.rollout.group_sampler import sample_groups
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
    "judge_outcome": judge_outcome,
    "dro_r3": dro_r3,
    "dro_length": dro_length,
    "rubric_dense": rubric_dense,
    "prime_implicit": prime_implicit,
    "brier": brier,
    "self_evaluation": self_evaluation,
    "expert_similarity": expert_similarity,
    "info_gain": info_gain,
}
"""Reward source name -> ``RewardSource``."""

SOURCE_SAMPLERS = {
    "expert_similarity": "expert-step",
}
"""Source name -> the sampler whose rows it reads (SRL's reward compares an action with the expert
step the expert-step sampler records); ``Variant.validate`` checks the pairing."""

SEQUENCE_LEVEL_SOURCES = frozenset({"outcome", "format_rubric", "overlong", "random_reward", "incorrect_label", "brier",
                                    "self_evaluation"})
"""Reward sources that put one reward on each row's last response token and read nothing of the
token layout but that position and the response length (a TRL reward function can carry them;
a reverse curriculum's given gold steps leave them unchanged)."""

MODEL_KINDS = ("prm", "judge", "stepwiser")
"""The kinds of trained model a variant can declare (``Variant.models``); each reaches the sources
in the ``RewardContext`` field of that name (``sandbox.train.reward_models`` resolves and loads them)."""

SOURCE_MODELS = {
    "prm_learned": "prm",
    "prm_generative": "judge",
    "judge_outcome": "stepwiser",
}
"""Source name -> the kind of trained model it scores with (its variant must declare one)."""

SOURCE_TASK_FIELDS = {
    "brier": ("confidence_line", "a task whose responses end with a confidence line (--task-confidence-line true, "
              "e.g. the 'tiny-calib' warm start); without one brier is the outcome reward shifted by -1"),
    "self_evaluation": ("post_completion", "a task whose responses continue after the answer with a post-completion "
                        "evaluation (--task-post-completion true, e.g. the 'tiny-pcl' warm start); without one every "
                        "row scores 0"),
}
"""Source name -> (task field that must be true, what that means): a source that scores something
only some tasks' responses contain (``registry.check_variant_task`` checks it before a run)."""

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
    "prime_rloo": prime_rloo,
    "process_grpo": process_grpo,
    "tree_grpo": tree_grpo,
    "gae": gae,
    "effective_rank_grpo": effective_rank_grpo,
}
"""Advantage estimator name -> ``AdvantageEstimator``."""

ESTIMATOR_EXTRAS = {
    "tree_grpo": ("tree",),
    "prime_rloo": ("outcome_total",),
    "effective_rank_grpo": ("hidden_states",),
}
"""Estimator name -> the ``Rollouts.extras`` keys it reads, passed to it as keyword arguments
(a sampler provides some, e.g. the tree sampler's ``tree`` ids; ``registry.compute_token_rewards``
provides each source's weighted row total as ``<source>_total``; the trainer provides the kept rows'
response-token final hidden states as ``hidden_states``, ``sandbox.train.rank_diagnostics``); other
estimators get none."""

SAMPLERS = {
    "group": sample_groups,
    "tree": sample_trees,
    "gold": sample_gold,
    "expert-step": sample_expert_steps,
    "mcts": sample_search,
}
"""Sampler name -> ``sampler(policy, task, problem_indices, group_size, sampling, seed, step, **options)``
returning ``Rollouts`` with the rows of one problem adjacent (``group_size`` rows per problem)."""

SAMPLER_CHECKS = {
    "tree": lambda group_size, trees=2, rounds=2, branches=2: leaves_per_tree(group_size, trees, rounds, branches),
    "expert-step": check_expert_step_options,
    "mcts": check_search_options,
}
"""Sampler name -> ``check(group_size, **options)``: ``ConfigError`` when the sampler cannot draw
``group_size`` rows per problem with these options (the tree's shape)."""

AUXILIARIES = {
    "value_head": ValueHead,
    "implicit_prm": ImplicitPRM,
}
"""Auxiliary model name -> ``factory(policy, task, seed, **params)`` building an ``AuxiliaryModel``
(``sandbox.rewards.auxiliary``) that the trainer builds, drives and checkpoints beside the policy."""

DISTILLATIONS = {
    "sdpo": SelfDistillation,
}
"""Distillation term name -> ``factory(**params)``: a loss on the policy's own rollouts towards a
teacher whose logits the trainer computes without gradient (SDPO: the policy with feedback in its
context, ``sandbox.rewards.sdpo``); the trainer adds it to the policy loss
(``sandbox.train.self_distillation``)."""

REFINEMENTS = {
    "critique": CritiqueRefinement,
}
"""Refinement name -> ``factory(**params)``: rows the trainer samples after the on-policy group,
conditioned on feedback about its failed rows, and adds to the group as answers to the bare
prompt, learned through a shaped off-policy loss (Critique-GRPO, ``sandbox.rewards.critique_grpo``)."""

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
    distillation: tuple = ()
    """(distillation name, params), or () for none (``DISTILLATIONS``): a loss term added to the policy
    loss, towards a teacher the trainer runs without gradient (SDPO's self-teacher)."""
    refinement: tuple = ()
    """(refinement name, params), or () for none (``REFINEMENTS``): after sampling, the trainer
    refines the group's failed rows with the critique the piece writes and adds the rows it picks
    (Critique-GRPO); needs the group sampler."""
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
        for source, _, _ in self.sources:
            if source in SOURCE_SAMPLERS:
                check(self.sampler == SOURCE_SAMPLERS[source], "sampler", f"{SOURCE_SAMPLERS[source]!r} for source {source!r}",
                      self.sampler)
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
        if self.distillation:
            name, params = self.distillation
            check(name in DISTILLATIONS, "distillation", f"one of {sorted(DISTILLATIONS)}", name)
            DISTILLATIONS[name](**params)  # its parameters checked now, before any compute
        if self.refinement:
            name, params = self.refinement
            check(name in REFINEMENTS, "refinement", f"one of {sorted(REFINEMENTS)}", name)
            REFINEMENTS[name](**params)  # its parameters checked now, before any compute
            check(self.sampler == "group", "sampler", "'group' for a variant with a refinement (it adds rows to each group)",
                  self.sampler)
        for key in self.loss:
            check(key in LOSS_KEYS, "loss", f"keys among {LOSS_KEYS}", key)
        aggregation = self.loss.get("aggregation", LOSS_AGGREGATIONS[0])
        check(aggregation in LOSS_AGGREGATIONS, "aggregation", f"one of {LOSS_AGGREGATIONS}", aggregation)
