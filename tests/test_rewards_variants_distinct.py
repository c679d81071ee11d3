"""Every registered variant trains on a signal of its own: for every pair of variants, some batch
of a property test gives them different kept rows or different advantages.

Two variants that agree on every batch are one variant under two names (as ``dro-masked`` was:
its baseline ℓ_j(∅) is one number per problem and token, so it shifted R3 by a per-group
constant that GRPO's normalisation cancels). The batches are hypothesis': groups of responses
to a confidence-line task (so that ``brier`` sees stated confidences), to a post-completion task
(so that ``pcl`` sees predicted rewards) or to the plain task (whose
well-formed responses pass the rubric: a confidence line has letters), right, wrong (the
``incorrect-label`` answer among them), without an answer, rambling past the response budget
or garbage, with a budget whose overlong cache the well-formed ones fall in (so that ``dapo``'s
penalty varies within groups), and tree layouts for the tree variants.
Models are random: a one-layer policy (DRO's scorer, the critic's and PRIME's copies), and for
each PRM or judge recipe a random model of its own, so that variants naming different recipes
score differently, as trained ones do.

``SAME_ADVANTAGES`` lists the pairs that do coincide in advantages by construction, with the
setting that tells them apart; the test checks that they still coincide (so the list stays
true) and that the setting differs.
"""

from __future__ import annotations

import itertools
import zlib
from dataclasses import replace

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.model.checkpoint import save_checkpoint
from sandbox.model.model import ModelConfig, TinyLlama
from sandbox.model.policy import TinyPolicy
from sandbox.prm.discriminative import StepScorer, save_scorer
from sandbox.rewards.base import RewardContext
from sandbox.rewards.registry import (
    ESTIMATOR_EXTRAS,
    VARIANTS,
    apply_filters,
    build_auxiliaries,
    compute_advantages,
    compute_token_rewards,
)
from sandbox.rollout.rollouts import Rollouts
from sandbox.testing.trees import tree_layouts
from sandbox.train import recipes
from sandbox.train.rank_diagnostics import HIDDEN_STATES, response_hidden_states
from toy_envs import make_task

TASKS = (make_task("arithmetic", n_steps=2, confidence_line=True), make_task("arithmetic", n_steps=2),
         make_task("arithmetic", n_steps=2, post_completion=True))
BUDGET = 32
"""Response budget of the reward context: a well-formed response (26-37 tokens) falls in or past
dapo's overlong cache (its last 6 tokens), a rambling one past it, one without answer before it."""

SAME_ADVANTAGES = {
    ("dr-grpo", "outcome-rtg"): (
        "loss",
        "the return-to-go of an outcome reward is constant over the row, R_i − mean_g(R): Dr.GRPO's "
        "advantage; the two differ in loss aggregation (seq-mean-token-sum-norm vs token-mean)",
    ),
    ("outcome-grpo", "sdpo+grpo"): (
        "distillation",
        "sdpo+grpo has outcome GRPO's advantages and adds the SDPO self-distillation loss, which is no advantage",
    ),
    ("critique-grpo", "dr-grpo"): (
        "refinement",
        "on a given batch critique-grpo's advantage is Dr.GRPO's; it differs in the rows the trainer adds to each "
        "group (critique-guided refinements) and in their shaped loss",
    ),
    ("critique-grpo", "outcome-rtg"): (
        "refinement",
        "both are R_i − mean_g(R) on a given batch (see dr-grpo); critique-grpo adds refinement rows to each group",
    ),
    ("gold-sft", "mcts-sft"): (
        "sampler",
        "both are SFT through the policy loss (the outcome's return-to-go, token-mean) on a given batch; they differ "
        "in the rows: the gold solutions vs the right solutions an MCTS tree of the policy found",
    ),
}
"""Variant pairs with identical advantages on every batch -> (the Variant field that differs, why)."""


def random_model(seed: int) -> TinyLlama:
    torch.manual_seed(seed)
    return TinyLlama(ModelConfig(d_model=32, n_layers=1, n_heads=2, n_kv_heads=2, d_ff=64))


def model_names(kind: str) -> set[str]:
    """The PRM (``prm``) or judge (``judge``, ``stepwiser``) recipe names the variants declare (``Variant.models``)."""
    return {v.models[kind] for v in VARIANTS.values() if kind in v.models}


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory) -> dict[str, str]:
    """A random checkpoint for every PRM and judge (ThinkPRM or StepWiser) recipe a variant names (seeded by the name)."""
    dirs = {}
    for name in model_names("prm"):
        scorer = StepScorer(random_model(zlib.crc32(name.encode())))
        with torch.no_grad():
            scorer.head.weight.normal_(0, 1)
        dirs[name] = str(save_scorer(tmp_path_factory.mktemp("prm") / name, scorer, {"recipe": name}))
    for name in model_names("judge") | model_names("stepwiser"):
        model = random_model(zlib.crc32(name.encode()))
        dirs[name] = str(save_checkpoint(tmp_path_factory.mktemp("judge") / name, model, {"judge": name}))
    return dirs


def perturbed(auxiliaries: dict) -> dict:
    """PRIME's ψ moved off its reference (a fresh ψ equals it, and every implicit reward is 0)."""
    gen = torch.Generator().manual_seed(0)
    for model in auxiliaries.values():
        if hasattr(model, "psi"):
            with torch.no_grad():
                for parameter in model.psi.parameters():
                    parameter.add_(0.1 * torch.randn(parameter.shape, generator=gen))
    return auxiliaries


def training_signal(variant, task, rollouts, policy, auxiliaries, models) -> tuple[torch.Tensor, torch.Tensor]:
    """(kept rows [B] bool, advantages of the kept rows): what the trainer's update would see."""
    ctx = RewardContext(task=task, max_new_tokens=BUDGET, policy=policy, auxiliaries=auxiliaries, **models)
    rewards = compute_token_rewards(variant, rollouts, ctx)
    keep = apply_filters(variant, rollouts, rewards, ctx).keep
    kept = rollouts.select(keep)
    if HIDDEN_STATES in ESTIMATOR_EXTRAS.get(variant.estimator, ()):  # handed over by the trainer, as it does
        kept.extras[HIDDEN_STATES] = response_hidden_states(policy, kept, "cpu", "fp32")
    inputs = {}
    for model in auxiliaries.values():
        inputs.update(model.estimator_inputs(kept))
    return keep, compute_advantages(variant, kept, rewards[keep][:, : kept.tokens.shape[1]], inputs)


def same(a: tuple[torch.Tensor, torch.Tensor], b: tuple[torch.Tensor, torch.Tensor]) -> bool:
    """Same kept rows and advantages up to float32 rounding of rewards of different sizes (a
    per-group shift of R3 by tens of nats moves GRPO's advantages by ~1e-5)."""
    return torch.equal(a[0], b[0]) and a[1].shape == b[1].shape and torch.allclose(a[1], b[1], atol=1e-3, rtol=1e-3)


@st.composite
def response(draw, task, problem) -> str:
    """Right or wrong (the wrong label, answer + 1, included), with a stated confidence on the
    confidence task or a self-evaluation on the post-completion task; without an answer; rambling
    on after it; or garbage."""
    *steps, answer = TASKS[1].gold_solution(problem).splitlines(keepends=True)
    confidence = f"conf: {draw(st.sampled_from(['0.0', '0.3', '0.8', '1.0']))}\n" if task.confidence_line else ""
    if task.post_completion:  # a self-evaluation predicting either reward
        confidence = f"~\n1v,2x={draw(st.sampled_from('01'))}\n"
    value = int(answer[1:]) + draw(st.sampled_from([0, 0, 1, -3, 7]))
    kind = draw(st.sampled_from(["answered", "answered", "no_answer", "rambling", "garbage"]))
    if kind == "garbage":
        return draw(st.text(alphabet="0123456789+-*=,#\n", max_size=16))
    if kind == "no_answer":
        return "".join(steps)
    tail = "1+1=2\n" * draw(st.integers(1, 3)) if kind == "rambling" else ""
    return "".join(steps) + f"#{value}\n" + confidence + tail


@st.composite
def batches_with_trees(draw):
    task = draw(st.sampled_from(TASKS))
    ids = draw(st.lists(st.integers(0, 10**6), min_size=2, max_size=3, unique=True))
    group = [g for g in ids for _ in range(draw(st.integers(3, 4)))]
    group = draw(st.permutations(group))
    problems = [task.problem(index) for index in group]
    rollouts = Rollouts.from_texts(task, problems, [draw(response(task, p)) for p in problems])
    layout = draw(tree_layouts(rollouts.group))
    return task, replace(rollouts, extras={**rollouts.extras, "tree": layout.tree, "tree_node": layout.node})


@pytest.mark.slow
def test_no_two_variants_give_the_same_advantages_on_every_batch(model_dirs):
    policy = TinyPolicy(random_model(0))
    auxiliaries = {name: perturbed(build_auxiliaries(v, policy, TASKS[0], seed=0)) for name, v in VARIANTS.items()}
    # each declared model replaced by its random stand-in, loaded as the trainer loads models
    models = {name: {kind: recipes.load(model_dirs[spec], kind) for kind, spec in v.models.items()} for name, v in VARIANTS.items()}
    names = sorted(VARIANTS)
    differ: set[tuple[str, str]] = set()

    @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
    @given(batches_with_trees())
    def explore(batch):
        task, rollouts = batch
        signals = {name: training_signal(VARIANTS[name], task, rollouts, policy, auxiliaries[name], models[name]) for name in names}
        for a, b in itertools.combinations(names, 2):
            if not same(signals[a], signals[b]):
                differ.add((a, b))

    explore()
    identical = [pair for pair in itertools.combinations(names, 2) if pair not in differ]
    unexplained = [pair for pair in identical if pair not in SAME_ADVANTAGES]
    assert not unexplained, f"variants with the same kept rows and advantages on every batch: {unexplained}"
    for pair, (field, _) in SAME_ADVANTAGES.items():
        assert pair in identical, f"{pair} now differ in advantages: remove them from SAME_ADVANTAGES"
        assert getattr(VARIANTS[pair[0]], field) != getattr(VARIANTS[pair[1]], field), pair
