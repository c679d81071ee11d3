"""The RL settings the learning tests were measured with, pinned field by field.

``RLConfig``'s defaults are chosen from sweeps and may change; a learning test's margin is half
the smallest effect measured at particular settings, so every learning test builds its config
with ``measured_rl_config`` (these settings, then the test's own fields) instead of inheriting
the defaults: a change of default then leaves the tests measuring what their docstrings say.
"""

import os

from sandbox.rewards.registry import get_variant
from sandbox.train.rl import LARGE_UPDATE, RLConfig

MEASURED_UPDATE = dict(
    **LARGE_UPDATE, warmup_steps=10, adam_betas=(0.9, 0.99), weight_decay=0.0, ppo_epochs=1, grad_clip=1.0,
    group_size=8, temperature=1.0, top_p=1.0, max_new_tokens=0, reference_sync_every=0,
)
"""The update regime of every learning test unless it names a field itself: ``LARGE_UPDATE`` (lr
5e-5, 16 problems per step, 2 minibatches, AdamW eps 1e-8) and RLConfig's other defaults when the
tests were measured."""

DEFAULTS_UPDATE = dict(MEASURED_UPDATE, lr=1e-5, problems_per_step=32, minibatches=1, adam_eps=1e-3)
"""The update of the RL defaults since the drift sweep (``RLConfig``: lr 1e-5, 32 problems per step in
one minibatch, AdamW eps 1e-3: SGD-like steps under which outcome RL beats the random reward from the
clean 'tiny' warm start), for a learning test measured from 'tiny'; pass it as
``measured_rl_config(variant, **DEFAULTS_UPDATE, ...)``."""

MEASURED_LOSS = dict(clip_low=0.2, clip_high=0.2, aggregation="seq-mean-token-mean", kl_coef=0.0)
"""The policy-loss settings of a variant that does not set them itself (LossConfig's defaults when
the tests were measured); a variant's own loss settings are part of the variant and stay."""

QUIET = dict(eval_every=0, pass_problems=0, drift_every=0, effective_rank=False, progress=False)
"""Evaluate at the end only; no pass@k, no drift probe, no effective-rank diagnostic (an extra
forward per step that changes no other number: tests/test_rank_diagnostics.py), no progress bar."""


def measured_rl_config(variant: str, **fields) -> RLConfig:
    """``RLConfig`` of ``variant`` with ``MEASURED_UPDATE``, ``QUIET`` and ``MEASURED_LOSS`` under
    the variant's own loss settings, then ``fields`` on top (``DEFAULTS_UPDATE``'s, for one)."""
    loss = {**MEASURED_LOSS, **get_variant(variant).loss}
    return RLConfig(variant=variant, **{**MEASURED_UPDATE, **QUIET, **loss, **fields})


FRESH_STEP = 10**6
"""The step that keys fresh rollouts: no run reaches it, so they are never a training batch's samples."""


def fresh_rollouts(trainer, problems: list[int], per_problem: int):
    """``per_problem`` rollouts of each of ``problems`` by the trainer's policy of the moment, keyed
    by ``FRESH_STEP`` (the same keys before and after updates)."""
    from sandbox.rollout.group_sampler import sample_groups

    return sample_groups(trainer.policy, trainer.task, problems, per_problem, trainer.sampling, trainer.cfg.seed, FRESH_STEP)


def before_and_after_updates(trainer, updates: int, measure) -> tuple[float, float]:
    """One batch collected, then ``trainer.learn`` on it ``updates`` times: ``measure(problems)`` of
    the batch's problems before the first update and after the last."""
    batch = trainer.collect()
    problems = sorted(set(batch.rollouts.problem_index.tolist()))
    before = measure(problems)
    for _ in range(updates):
        trainer.learn(batch)
    return before, measure(problems)


SEEDS_VARIABLE = "REWARD_SANDBOX_LEARNING_SEEDS"


def checked_seeds() -> list[int]:
    """The seeds each learning test runs: ``[0]`` (the suite checks one seed; the others are
    measured in its docstring), or those ``REWARD_SANDBOX_LEARNING_SEEDS`` lists -- ``0-4`` or
    ``0,2,7`` -- to check a margin on another machine: a margin is half the smallest effect of five
    seeds, so every listed seed should pass, with room to spare."""
    text = os.environ.get(SEEDS_VARIABLE, "").strip()
    if not text:
        return [0]
    seeds: list[int] = []
    for part in text.split(","):
        low, _, high = part.strip().partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            raise ValueError(f"{SEEDS_VARIABLE}={text!r}: allowed are seeds and ranges of non-negative integers, e.g. 0-4 or 0,2,7")
        seeds.extend(range(int(low), int(high or low) + 1))
    return seeds


SEEDS = checked_seeds()
"""The seeds of every learning test (``checked_seeds``)."""
