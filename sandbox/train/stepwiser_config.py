"""The StepWiser chunk judge's training config and its named recipes (``sandbox.train.stepwiser_train``
trains it; ``sandbox.train.recipes`` builds and caches the recipes).

Kept apart from the training code, which runs the RL trainer: the recipe table names these
configs, and the trainer loads recipes for the variants that declare models, so the table must
not import the trainer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.prm.labels import LABELLERS
from sandbox.train.prm_train import PRMTrainConfig
from toy_envs.base import check, is_int


UNITS = ("step", "solution")


@dataclass
class StepWiserConfig:
    unit: str = "step"
    """What a chunk is: ``step`` (one step of a solution, labelled by ``labels``: StepWiser) or
    ``solution`` (a whole solution, labelled by the oracle's verdict on its answer: an outcome judge
    that recomputes every line before its verdict, as RRM / RM-R1 reason before they judge)."""
    labels: str = "oracle-valid"
    """Labelling rule of step chunks (``sandbox.prm.labels``): oracle-valid, abs-q, rel-ratio, rel-effective, ...
    (not read for solution chunks)."""
    n_problems: int = 128
    """Train-split problems the policy solves for the train pool."""
    eval_problems: int = 64
    """Eval-split problems the policy solves for the held-out pool."""
    group_size: int = 2
    """Policy samples per problem."""
    n_completions: int = 4
    """K, MC completions per step end (MC-based labelling rules)."""
    max_per_class: int = 0
    """At most this many good (and as many bad) chunks per pool; 0 = as many as the rarer class has."""
    error_rate: float = 0.3
    """Cold start: probability that a templated line's verdict is flipped (with an agreeing recomputation)."""
    sft_steps: int = 100
    """Cold start: SFT optimizer steps."""
    sft_batch_size: int = 32
    """Cold start: lines per SFT step."""
    sft_lr: float = 2e-3
    """Cold start: AdamW learning rate (constant after a 10-step warm-up)."""
    rl_steps: int = 30
    """GRPO steps (``Trainer`` with the outcome-grpo variant)."""
    rl_problems_per_step: int = 16
    """Chunks per GRPO step."""
    rl_group_size: int = 8
    """Judge samples per chunk."""
    rl_lr: float = 2e-4
    """GRPO AdamW learning rate."""
    n_samples: int = 4
    """N, sampled chains averaged per judged chunk (scores and sampled verdict accuracy)."""
    temperature: float = 1.0
    """Sampling temperature of the policy's solutions, the judge's GRPO samples and its scoring chains."""
    seed: int = 0
    """Keys the solutions, MC completions, pool order, templated errors, batch order and judge samples."""

    def validate(self) -> None:
        check(self.unit in UNITS, "unit", f"one of {UNITS}", self.unit)
        check(self.labels in LABELLERS, "labels", f"one of {sorted(LABELLERS)}", self.labels)
        for name in ("n_problems", "eval_problems", "group_size", "n_completions", "sft_steps", "sft_batch_size",
                     "rl_steps", "rl_problems_per_step", "rl_group_size", "n_samples"):
            check(is_int(getattr(self, name)) and getattr(self, name) >= 1, name, "an integer >= 1", getattr(self, name))
        check(is_int(self.max_per_class) and self.max_per_class >= 0, "max_per_class", "an integer >= 0", self.max_per_class)
        check(0 <= self.error_rate <= 1, "error_rate", "in [0, 1]", self.error_rate)
        check(self.sft_lr > 0, "sft_lr", "> 0", self.sft_lr)
        check(self.rl_lr > 0, "rl_lr", "> 0", self.rl_lr)
        check(self.temperature > 0, "temperature", "> 0", self.temperature)

    def data_config(self, split: str) -> PRMTrainConfig:
        n = self.n_problems if split == "train" else self.eval_problems
        return PRMTrainConfig(labels=self.labels, n_problems=n, group_size=self.group_size,
                              temperature=self.temperature, n_completions=self.n_completions, seed=self.seed)


@dataclass(frozen=True)
class StepWiserRecipe:
    init: str
    """Warm-start preset: the policy whose samples make the pools and whose weights start the judge."""
    train: StepWiserConfig = field(default_factory=StepWiserConfig)
    """Pools, cold start and GRPO."""
    task_fields: dict = field(default_factory=dict)
    """Fields of the warm start's task replaced for the training data (empty: its own task)."""


STEPWISER_RECIPES: dict[str, StepWiserRecipe] = {
    "tiny-stepwiser": StepWiserRecipe("tiny", StepWiserConfig()),
    # outcome judges (a whole solution per chunk, labelled by the oracle's verdict on its answer),
    # the judges of the variant 'orm-judge' (sandbox.rewards.judge_outcome): on 'tiny''s task (the
    # learning test's; 10 GRPO steps, not 30, for the test suite's time: with 30 its GRPO reward on
    # the balanced pool went 0.55 -> 0.50, no better), and on the head-to-head's 4-operation chains
    # from 'edge'
    "tiny-orm": StepWiserRecipe("tiny", StepWiserConfig(unit="solution", rl_steps=10)),
    "edge-orm": StepWiserRecipe("edge", StepWiserConfig(unit="solution"), task_fields={"n_steps_mix": "4:1"}),
}
"""Recipe name -> ``StepWiserRecipe``. dev.py builds them with one thread."""
