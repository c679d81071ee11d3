"""Training step scorers (discriminative PRM, ORM) on labelled policy samples.

    solutions  ← G samples of each of N train problems from the policy (keyed, step tag −1)
    labels     ← a labeller (``sandbox.prm.labels``: oracle, MC, RPE, StepWiser); ORM: 1[correct]
                 (``mcts-hard``: the solutions are instead the terminal nodes of an MCTS tree per
                 problem, ``sandbox.prm.mcts``, each step labelled 1[Q > 0] of its node)
    scorer     ← copy of the policy's backbone + zero head (SPRM: a random head keyed by the seed)
    for step s: minibatch of rows (order keyed by (seed, epoch)); masked BCE at labelled tokens

Deterministic for a fixed config and thread count: sampling noise, MC completions and batch
order are keyed; the head starts at zero (SPRM's from a keyed generator); nothing reads global
RNG state.

Trained PRMs by name (``PRM_RECIPES``, built by ``build_prm``) are recipes of the one table of
cached models, ``sandbox.train.recipes``: ``recipes.build(name)`` returns the checkpoint
directory (trained once per cache) and ``recipes.load(name)`` the scorer.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from sandbox.eval.accuracy import default_max_new_tokens
from sandbox.model.policy import TinyPolicy
from sandbox.model.sampler import SamplingConfig
from sandbox.prm.discriminative import StepScorer, prm_targets, save_scorer
from sandbox.prm.labels import LABELLERS, NEEDS_MC, step_labels
from sandbox.prm.mc_labels import PolicyCompleter, mc_values
from sandbox.prm.mcts import MCTSConfig, labelled_solutions, search
from sandbox.prm.orm import orm_targets
from sandbox.prm.sprm import WEIGHTINGS, sprm_head_init, sprm_loss, sprm_targets
from sandbox.rng import sample_stream
from sandbox.rollout.group_sampler import sample_groups
from sandbox.rollout.rollouts import Rollouts
from sandbox.train.progress import progress_bar
from sandbox.train.toolkit import keyed_batches, optimizer_step
from toy_envs.base import check

KINDS = ("prm", "orm", "sprm")
MCTS_LABELS = ("mcts-hard",)
"""Labels that come with their own solutions: MCTS trees' (``mcts_solutions``)."""


@dataclass
class PRMTrainConfig:
    kind: str = "prm"
    """``prm``: BCE on step labels at step ends; ``orm``: BCE on final correctness at the last token;
    ``sprm``: the self-supervised SPR loss, final correctness at every step end (``sandbox.prm.sprm``)."""
    labels: str = "oracle-valid"
    """Step labeller (prm only): oracle-valid, oracle-value, mc-hard, mc-soft, rpe, abs-q, rel-ratio, rel-effective,
    or mcts-hard (the solutions of MCTS trees, ``mcts_simulations`` per problem, labelled 1[Q > 0])."""
    n_problems: int = 256
    """Train-split problems the policy solves for the training data."""
    group_size: int = 4
    """Policy samples per problem."""
    temperature: float = 1.0
    """Sampling temperature of the solutions and of the MC completions."""
    n_completions: int = 8
    """K, MC completions from each step's end (MC-based labellers)."""
    mcts_simulations: int = 40
    """MCTS simulations (= samples) per problem (``mcts-hard``; group_size and n_completions do not apply)."""
    steps: int = 150
    """Optimizer steps."""
    batch_size: int = 64
    """Solutions per optimizer step."""
    sprm_weighting: str = "released"
    """SPRM class weights (sprm only): ``released`` (MetaStone-S1's code) or ``balanced`` (``sandbox.prm.sprm``)."""
    lr: float = 1e-3
    """AdamW learning rate of the backbone."""
    head_lr: float = 1e-2
    """AdamW learning rate of the step-score head (it starts from zero)."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    seed: int = 0
    """Keys the samples, MC completions and batch order."""

    def validate(self) -> None:
        check(self.kind in KINDS, "kind", f"one of {KINDS}", self.kind)
        check(self.labels in LABELLERS or self.labels in MCTS_LABELS, "labels", f"one of {sorted(LABELLERS) + list(MCTS_LABELS)}",
              self.labels)
        check(self.kind == "prm" or self.labels not in MCTS_LABELS, "labels", "not mcts-hard for an orm or sprm", self.labels)
        check(self.sprm_weighting in WEIGHTINGS, "sprm_weighting", f"one of {WEIGHTINGS}", self.sprm_weighting)
        for name in ("n_problems", "group_size", "n_completions", "mcts_simulations", "steps", "batch_size"):
            check(getattr(self, name) >= 1, name, "an integer >= 1", getattr(self, name))
        check(self.temperature > 0, "temperature", "> 0", self.temperature)
        check(self.lr > 0, "lr", "> 0", self.lr)
        check(self.head_lr > 0, "head_lr", "> 0", self.head_lr)
        check(self.weight_decay >= 0, "weight_decay", ">= 0", self.weight_decay)


def sample_solutions(policy, task, cfg: PRMTrainConfig, split: str = "train", first_problem: int = 0) -> Rollouts:
    """``group_size`` policy samples of ``n_problems`` problems of ``split``."""
    sampling = SamplingConfig(max_new_tokens=default_max_new_tokens(task), temperature=cfg.temperature)
    indices = list(range(first_problem, first_problem + cfg.n_problems))
    return sample_groups(policy, task, indices, cfg.group_size, sampling, cfg.seed, sample_stream("prm_data"), split=split)


def label_solutions(policy, task, solutions: Rollouts, cfg: PRMTrainConfig) -> list[list[float]]:
    """Step labels of ``cfg.labels`` for every solution (MC completions from ``policy`` if needed)."""
    mc = None
    if cfg.labels in NEEDS_MC:
        sampling = SamplingConfig(max_new_tokens=default_max_new_tokens(task), temperature=cfg.temperature)
        mc = mc_values(solutions, task, PolicyCompleter(policy, task, sampling), cfg.n_completions, cfg.seed)
    return step_labels(cfg.labels, solutions.verdicts, mc)


def masked_bce(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """BCE of the step logits towards ``targets`` at the ``mask`` positions."""
    return F.binary_cross_entropy_with_logits(logits[mask].float(), targets[mask])


def fit_scorer(
    scorer: StepScorer, tokens: torch.Tensor, where: torch.Tensor, targets: torch.Tensor, cfg: PRMTrainConfig,
    loss_fn=masked_bce, progress: bool = False,
) -> list[float]:
    """Train ``scorer`` with ``loss_fn(logits, targets, mask)`` at ``where`` (masked BCE for a
    PRM or ORM, the SPR loss for SPRM); keyed minibatches, clipped AdamW; returns the loss per step.
    ``progress``: a bar over the steps (``sandbox.train.progress``)."""
    groups = [{"params": scorer.backbone.parameters(), "lr": cfg.lr}, {"params": scorer.head.parameters(), "lr": cfg.head_lr}]
    optimizer = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    scorer.train()
    losses, batches = [], keyed_batches(len(tokens), cfg.batch_size, (cfg.seed, "prm-batches"))
    for _ in progress_bar(progress, range(cfg.steps), desc=f"{cfg.kind} training", leave=False):
        rows = torch.tensor([row for _, row in next(batches)])
        mask = where[rows]
        if not mask.any():
            continue
        width = int(mask.any(0).nonzero().max()) + 1
        loss = loss_fn(scorer(tokens[rows, :width]), targets[rows, :width], mask[:, :width])
        optimizer_step(optimizer, loss, scorer.parameters(), 1.0)
        losses.append(loss.item())
    scorer.eval()
    return losses


def train_scorer(
    model, solutions: Rollouts, labels: list[list[float]] | None, cfg: PRMTrainConfig, progress: bool = False
) -> tuple[StepScorer, dict]:
    """A scorer initialised from ``model`` and trained on ``solutions`` (``labels`` for a PRM;
    an ORM uses the verdicts' correctness); ``progress``: a bar over the training steps."""
    cfg.validate()
    t0 = time.perf_counter()
    scorer = StepScorer.from_model(model)
    if cfg.kind == "sprm":  # no labels: the outcome at every step, the SPR loss, a random head (no ties)
        sprm_head_init(scorer.head, cfg.seed)
        loss_fn = lambda *a: sprm_loss(*a, weighting=cfg.sprm_weighting)[0]  # noqa: E731
        losses = fit_scorer(scorer, solutions.tokens, *sprm_targets(solutions), cfg, loss_fn=loss_fn, progress=progress)
    else:
        where, targets = orm_targets(solutions) if cfg.kind == "orm" else prm_targets(solutions, labels)
        losses = fit_scorer(scorer, solutions.tokens, where, targets, cfg, progress=progress)
    info = {"prm/final_loss": sum(losses[-10:]) / len(losses[-10:]), "prm/train_s": time.perf_counter() - t0,
            "prm/solutions": len(solutions)}
    return scorer, info


def mcts_solutions(policy, task, cfg: PRMTrainConfig) -> tuple[Rollouts, list[list[float]]]:
    """The terminal nodes of one MCTS tree per train problem (``mcts_simulations`` each, keyed by
    the seed) as solutions, each step labelled 1[Q > 0] of its node."""
    sampling = SamplingConfig(max_new_tokens=default_max_new_tokens(task), temperature=cfg.temperature)
    problems = [task.problem(i) for i in range(cfg.n_problems)]
    trees = search(problems, task, PolicyCompleter(policy, task, sampling), MCTSConfig(simulations=cfg.mcts_simulations), cfg.seed)
    rows, texts, labels = [], [], []
    for tree in trees:
        for text, qs in labelled_solutions(tree, task):
            rows.append(tree.problem), texts.append(text), labels.append([float(q > 0) for q in qs])
    return Rollouts.from_texts(task, rows, texts, tokenizer=policy.tokenizer), labels


def train_prm(policy, task, cfg: PRMTrainConfig, progress: bool = False) -> tuple[StepScorer, dict]:
    """Sample, label and train in one call (the recipe the CLI and cached PRMs use); ``progress``:
    a bar over the training steps."""
    cfg.validate()
    if cfg.labels in MCTS_LABELS:
        solutions, labels = mcts_solutions(policy, task, cfg)
    else:
        solutions = sample_solutions(policy, task, cfg)
        labels = None if cfg.kind != "prm" else label_solutions(policy, task, solutions, cfg)
    return train_scorer(policy.module, solutions, labels, cfg, progress)


# ---- trained PRMs by name -----------------------------------------------------------------------


@dataclass(frozen=True)
class PRMRecipe:
    init: str
    """Warm-start preset: the policy whose samples (and MC completions) make the training data,
    and the PRM's initial backbone."""
    train: PRMTrainConfig = field(default_factory=PRMTrainConfig)
    """How the PRM is trained."""
    task_fields: dict = field(default_factory=dict)
    """Fields of the warm start's task replaced for the training data (empty: its own task)."""


PRM_RECIPES: dict[str, PRMRecipe] = {
    # small enough to build in about 15 s on one thread (dev.py prebuilds them with the warm starts)
    "tiny-oracle": PRMRecipe("tiny", PRMTrainConfig(labels="oracle-valid", n_problems=128, group_size=2, steps=80, batch_size=32)),
    "tiny-mc": PRMRecipe("tiny", PRMTrainConfig(labels="mc-hard", n_problems=64, group_size=2, n_completions=4, steps=80, batch_size=32)),
    "tiny-rpe": PRMRecipe("tiny", PRMTrainConfig(labels="rpe", n_problems=64, group_size=2, n_completions=4, steps=80, batch_size=32)),
    "tiny-sprm": PRMRecipe("tiny", PRMTrainConfig(kind="sprm", n_problems=128, group_size=2, steps=80, batch_size=32, lr=1e-5)),
    # the head-to-head's (sandbox/experiments/specs/head_to_head.toml): trained on the 'edge' warm
    # start's samples of the chains its RL trains on (4 operations); about
    # 60 s each on one thread
    "edge-mc": PRMRecipe("edge", PRMTrainConfig(labels="mc-hard", n_problems=128, group_size=2, n_completions=4, steps=80, batch_size=32),
                         task_fields={"n_steps_mix": "4:1"}),
    "edge-rpe": PRMRecipe("edge", PRMTrainConfig(labels="rpe", n_problems=128, group_size=2, n_completions=4, steps=80, batch_size=32),
                          task_fields={"n_steps_mix": "4:1"}),
    "edge-sprm": PRMRecipe("edge", PRMTrainConfig(kind="sprm", n_problems=256, group_size=2, steps=80, batch_size=32, lr=1e-5),
                           task_fields={"n_steps_mix": "4:1"}),
    # edge-mc's problems and samples per problem (2 solutions x (1 + 4 completions x 5 step ends) =
    # 42), spent on an MCTS tree per problem instead (sandbox/prm/mcts.py)
    "edge-mcts": PRMRecipe("edge", PRMTrainConfig(labels="mcts-hard", n_problems=128, mcts_simulations=42, steps=80, batch_size=32),
                           task_fields={"n_steps_mix": "4:1"}),
}
"""Recipe name -> ``PRMRecipe``."""


def build_prm(name: str, recipe: PRMRecipe, init, out: Path) -> None:
    """Train recipe ``name`` on samples of ``init`` (the loaded (model, task, state) of its warm
    start) and save the scorer to ``out``."""
    model, task, state = init
    scorer, info = train_prm(TinyPolicy(model), task, recipe.train, progress=True)
    save_scorer(out, scorer, {"recipe": name, "init": recipe.init, "task": state["task"],
                              "task_fields": state["task_fields"], "train": asdict(recipe.train), **info})
