"""Our own reward pieces through the user-facing kit (``sandbox.testing``): every entry of
``ESTIMATORS``, ``FILTERS`` and ``SOURCES``, with its default options and with the options of
every variant that uses it, checked under the kind it claims.

A piece added to the registry later gets its own test case here automatically; until its kind
is entered in ``ESTIMATOR_KINDS`` / ``FILTER_KINDS`` / ``SOURCE_KINDS`` below, that case fails
with a message asking for it.
"""

from __future__ import annotations

import json

import pytest
import torch

from sandbox.model.checkpoint import save_checkpoint
from sandbox.model.model import ModelConfig, TinyLlama
from sandbox.model.policy import TinyPolicy
from sandbox.prm.discriminative import StepScorer, save_scorer
from sandbox.rewards.base import RewardContext
from sandbox.rewards.prime import ImplicitPRM
from sandbox.rewards.registry import ESTIMATOR_EXTRAS, ESTIMATORS, FILTERS, SOURCES, VARIANTS
from sandbox.testing import check_advantage_estimator, check_filter, check_reward_source
from sandbox.testing import estimator_checks, filter_checks
from sandbox.testing.references import REFERENCES
from sandbox.testing.trees import TREE_EXTRAS
from sandbox.train import recipes
from toy_envs import make_task

TASK = make_task("arithmetic", n_steps=2)

ESTIMATOR_KINDS = {
    "grpo": "grpo",
    "dr_grpo": "dr_grpo",
    "rloo": "rloo",
    "tree_grpo": "tree_grpo",
    "rpp_baseline": "rpp_baseline",
    "return_to_go": "return_to_go",
    "prime_rloo": lambda options: "dense_whitened" if options.get("whiten", True) else "dense",
    "process_grpo": "process_grpo",
    "gae": lambda options: "dense" if options.get("whiten") is False else "dense_whitened",
}
"""Estimator name -> kit kind: a standard estimator's name (its structural kind plus the kit's
reference implementation as an oracle, ``sandbox.testing.references``) or a structural kind
(``sandbox.testing.estimator_checks.KINDS``), or options -> structural kind."""

KIT_UNDRAWN = {
    "effective_rank_grpo": "reads the trainer's response-token hidden states, which the kit does not draw; "
    "tests/test_rewards_effective_rank_grpo.py property-tests it against a per-row oracle",
}
"""Estimator name -> why the kit cannot call it (an input only the trainer provides) and where it is tested instead."""

FILTER_KINDS = {
    "variance_filter": lambda params: {"kind": "variance", "metric": params.get("metric", "accuracy")},
    "mean_range_filter": lambda params: {"kind": "group"},
    "rubric_gate": lambda params: {"kind": "row" if params.get("mode", "group") == "row" else "group_rows"},
}
"""Filter name -> (params -> ``check_filter`` keyword arguments)."""

SOURCE_KINDS = {
    "outcome": {"placement": "last", "bounds": (0, 1)},
    "format_rubric": {"placement": "last", "bounds": (0, 1)},
    "overlong": {"placement": "last", "ctx": "short_budget"},
    "random_reward": {"placement": "last", "bounds": (0, 1)},
    "incorrect_label": {"placement": "last", "bounds": (0, 1)},
    "prm_oracle": {"placement": "step_ends"},
    "prm_learned": {"placement": "step_ends", "ctx": "random_prm"},
    "prm_generative": {"placement": "step_ends", "ctx": "random_judge", "max_examples": 8},  # sampling chains is slow
    "judge_outcome": {"placement": "last", "bounds": (0, 1), "ctx": "random_stepwiser", "max_examples": 8},
    "dro_r3": {"placement": "last", "locality": "group", "ctx": "random_policy"},
    "dro_length": {"placement": "last"},
    "rubric_dense": {"placement": "last"},
    "brier": {"placement": "last", "bounds": (-1, 1), "ctx": "confidence_task"},
    "self_evaluation": {"placement": "last", "bounds": (0, 1), "ctx": "post_completion_task"},
    "prime_implicit": {"placement": "response", "ctx": "implicit_prm"},
    "expert_similarity": {"placement": "last", "bounds": (-1, 1)},
    "info_gain": {"placement": "step_ends", "locality": "batch", "ctx": "random_policy", "max_examples": 20},  # the Fisher is over the batch
}
"""Source name -> ``check_reward_source`` placement/locality/bounds, and the context it needs."""

EXTRA_OPTIONS = {
    "return_to_go": [{"gamma": 0.9}, {"gamma": 0.9, "baseline": "group_mean"}, {"baseline": "leave_one_out"},
                     {"gamma": 0.9, "baseline": "leave_one_out", "whiten": True}],
    "tree_grpo": [{"prompt_term": False}],
    "gae": [{"whiten": False}],
    "variance_filter": [{"metric": "reward"}],
    "rubric_gate": [{"mode": "group", "min_pass": 1.0}, {"mode": "row"}],
    "format_rubric": [{"binary": True}],
    "prm_oracle": [{"target": "value", "mode": "difference"}],
    "dro_r3": [{"masked": True}, {"gate": {"mode": "row"}}],
}
"""Options worth checking beyond the defaults and the variants' own."""


def cases(registry: dict, variant_options) -> list[tuple[str, dict]]:
    """(name, options) for each registered piece: defaults, variants' options, ``EXTRA_OPTIONS``."""
    found = [(name, {}) for name in sorted(registry)]
    found += [(name, dict(options)) for name, options in variant_options if name in registry]
    found += [(name, options) for name in sorted(registry) for options in EXTRA_OPTIONS.get(name, [])]
    unique = {(name, json.dumps(options, sort_keys=True)): (name, options) for name, options in found}
    return list(unique.values())


def case_id(case: tuple[str, dict]) -> str:
    name, options = case
    return name + "".join(f"-{k}={v}" for k, v in sorted(options.items()))


ESTIMATOR_CASES = cases(ESTIMATORS, [(v.estimator, v.estimator_options) for v in VARIANTS.values()])
FILTER_CASES = cases(FILTERS, [f for v in VARIANTS.values() for f in v.filters])
SOURCE_CASES = cases(SOURCES, [(name, params) for v in VARIANTS.values() for name, _, params in v.sources])


@pytest.fixture(scope="module")
def random_policy() -> TinyPolicy:
    """An untrained one-layer model: the kit checks invariants, which hold for any weights."""
    torch.manual_seed(0)
    return TinyPolicy(TinyLlama(ModelConfig(d_model=32, n_layers=1, n_heads=2, n_kv_heads=2, d_ff=64)))


@pytest.fixture(scope="module")
def random_judge_dir(tmp_path_factory, random_policy) -> str:
    """A judge checkpoint with random weights (its chains are noise; the kit checks invariants)."""
    return str(save_checkpoint(tmp_path_factory.mktemp("judge") / "random", random_policy.module, {"judge": "random"}))


@pytest.fixture(scope="module")
def random_prm_dir(tmp_path_factory, random_policy) -> str:
    """A PRM checkpoint with a random backbone and a random (nonzero) head."""
    scorer = StepScorer(random_policy.module)
    with torch.no_grad():
        scorer.head.weight.normal_(0, 1)
    return str(save_scorer(tmp_path_factory.mktemp("prm") / "random", scorer, {"recipe": "random"}))


def source_context(name: str, random_policy, random_prm_dir, random_judge_dir=None) -> RewardContext:
    needs = SOURCE_KINDS[name].get("ctx")
    if needs == "short_budget":
        return RewardContext(task=TASK, max_new_tokens=16)
    if needs == "random_prm":
        return RewardContext(task=TASK, prm=recipes.load(random_prm_dir, "prm"))
    if needs == "random_judge":
        return RewardContext(task=TASK, judge=recipes.load(random_judge_dir, "judge"))
    if needs == "random_stepwiser":  # a single checkpoint directory is a StepWiser judge too
        return RewardContext(task=TASK, stepwiser=recipes.load(random_judge_dir, "stepwiser"))
    if needs == "random_policy":
        return RewardContext(task=TASK, policy=random_policy)
    if needs == "implicit_prm":  # ψ a perturbed copy of the reference, so the token rewards are nonzero
        implicit, gen = ImplicitPRM(random_policy), torch.Generator().manual_seed(0)
        with torch.no_grad():
            for parameter in implicit.psi.parameters():
                parameter.add_(0.1 * torch.randn(parameter.shape, generator=gen))
        return RewardContext(task=TASK, auxiliaries={"implicit_prm": implicit})
    if needs == "confidence_task":
        return RewardContext(task=make_task("arithmetic", n_steps=2, confidence_line=True))
    if needs == "post_completion_task":
        return RewardContext(task=make_task("arithmetic", n_steps=2, post_completion=True))
    return RewardContext(task=TASK)


def require_kind(table: dict, piece: str, name: str, allowed) -> None:
    if name not in table:
        pytest.fail(
            f"{piece} {name!r} is registered but has no kit kind: add it to {piece.upper()}_KINDS in "
            f"tests/test_testing_registry.py ({allowed}) so sandbox.testing checks it"
        )


@pytest.mark.parametrize("case", ESTIMATOR_CASES, ids=case_id)
def test_every_estimator_passes_the_kit(case):
    name, options = case
    if name in KIT_UNDRAWN:
        pytest.skip(KIT_UNDRAWN[name])
    require_kind(ESTIMATOR_KINDS, "estimator", name, f"one of {estimator_checks.KINDS} or {tuple(REFERENCES)}")
    kind = ESTIMATOR_KINDS[name]
    check_advantage_estimator(
        ESTIMATORS[name], kind(options) if callable(kind) else kind, options=options, extras=kit_extras(name)
    )


def kit_extras(name: str) -> tuple[str, ...] | None:
    """The tree keys among the estimator's ``ESTIMATOR_EXTRAS`` (the kit draws tree layouts); its
    other extras (a source's row total, ``prime_rloo``'s ``outcome_total``) keep their defaults."""
    keys = tuple(key for key in ESTIMATOR_EXTRAS.get(name, ()) if key in TREE_EXTRAS)
    return keys or None


@pytest.mark.parametrize("case", FILTER_CASES, ids=case_id)
def test_every_filter_passes_the_kit(case):
    name, params = case
    require_kind(FILTER_KINDS, "filter", name, f"params -> kind among {filter_checks.KINDS}")
    check_filter(FILTERS[name], params=params, task=TASK, **FILTER_KINDS[name](params))


@pytest.mark.parametrize("case", SOURCE_CASES, ids=case_id)
def test_every_source_passes_the_kit(case, random_policy, random_prm_dir, random_judge_dir):
    name, params = case
    require_kind(SOURCE_KINDS, "source", name, "placement, locality and the context it needs")
    kinds = {k: v for k, v in SOURCE_KINDS[name].items() if k != "ctx"}
    check_reward_source(SOURCES[name], ctx=source_context(name, random_policy, random_prm_dir, random_judge_dir), params=params, **kinds)


def test_a_piece_without_a_kind_fails_naming_the_table_to_fill_in():
    with pytest.raises(pytest.fail.Exception, match="ESTIMATOR_KINDS in tests/test_testing_registry.py"):
        require_kind(ESTIMATOR_KINDS, "estimator", "brand_new_estimator", "one of the kinds")


def test_the_kind_tables_name_only_registered_pieces():
    assert set(ESTIMATOR_KINDS) <= set(ESTIMATORS)
    assert set(FILTER_KINDS) <= set(FILTERS)
    assert set(SOURCE_KINDS) <= set(SOURCES)
