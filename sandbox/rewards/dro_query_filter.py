"""DRO's query filter: drop problems whose rollouts do not move the reference's likelihood.

For each screened problem q, sample G rollouts and compute R3's per-token spread σ_j
(``dro_r3``); the problem's signal is

    s_q = max_j σ_j

A problem whose reasoning never changes how likely any reference token is (s_q = 0, e.g. the
policy writes the same reasoning every time) gives R3 nothing to compare. The filter drops

    {q : s_q ≤ threshold}  ∪  {the ⌊drop_fraction · n⌋ problems with the lowest s_q}

(ties broken by problem index), so with the default ``threshold = 0`` every problem whose σ are
all zero is dropped. It is a ProblemFilter: the trainer runs it on the upcoming problems of
its stream before training and every N steps (``Variant.problem_filter_every``), skips the
excluded problems when it draws, and logs ``problem_filter/*`` (what was screened and dropped).

"Direct Reasoning Optimization: LLMs Can Reward And Refine Their Own Reasoning for Open-Ended
Tasks" (Xu, Chakraborty, Sharma, Nunes, Kıcıman, Lu, Chandra, 2025, arXiv 2506.13351): R3-based
dynamic data filtering. Cut down: the paper screens its training set in rounds; here the
screened pool is a window of the problem stream.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from sandbox.rewards.base import RewardContext
from sandbox.rewards.dro_r3 import pick_scorer, reflect
from sandbox.rewards.groups import group_index, per_group_extreme
from sandbox.rollout.rollouts import Rollouts
from toy_envs.base import check


@dataclass
class ProblemFilterResult:
    excluded: list[int]
    """Problem indices (train split) the trainer must skip."""
    info: dict = field(default_factory=dict)
    """Logged numbers (the trainer prefixes them with ``problem_filter/``)."""


def max_sigma_per_problem(sigma: torch.Tensor, group: torch.Tensor) -> tuple[list[int], torch.Tensor]:
    """(problem ids in ascending order, [n] max_j σ_j of each)."""
    index, n = group_index(group)
    per_row = sigma.double().amax(-1)
    return torch.unique(group).tolist(), per_group_extreme(per_row, index, n, "amax")


def choose_dropped(problems: list[int], signal: torch.Tensor, threshold: float, drop_fraction: float) -> list[int]:
    """Problems with signal ≤ threshold, plus the lowest ``drop_fraction`` of them by signal."""
    order = sorted(range(len(problems)), key=lambda k: (float(signal[k]), problems[k]))
    lowest = {problems[k] for k in order[: int(drop_fraction * len(problems))]}
    below = {p for p, s in zip(problems, signal.tolist()) if s <= threshold}
    return sorted(lowest | below)


def dro_query_filter(
    problem_indices: list[int],
    sample: Callable[[list[int], int], Rollouts],
    ctx: RewardContext,
    group_size: int = 8,
    threshold: float = 0.0,
    drop_fraction: float = 0.0,
    scorer: str = "policy",
    temperature: float = 1.0,
) -> ProblemFilterResult:
    """Screen ``problem_indices`` with ``group_size`` rollouts each (``sample(indices, G)``)."""
    check(group_size >= 2, "group_size", "an integer >= 2 (σ needs several rollouts)", group_size)
    check(threshold >= 0, "threshold", ">= 0", threshold)
    check(0 <= drop_fraction < 1, "drop_fraction", "in [0, 1)", drop_fraction)
    model = pick_scorer(ctx, scorer)
    rollouts = sample(problem_indices, group_size)
    reflection = reflect(rollouts, ctx.task, model, temperature)
    problems, signal = max_sigma_per_problem(reflection.sigma, rollouts.group)
    dropped = choose_dropped(problems, signal, threshold, drop_fraction)
    info = {
        "screened": len(problems),
        "dropped": len(dropped),
        "dropped_problems": dropped,
        "max_sigma_mean": float(signal.mean()),
        "max_sigma_min": float(signal.min()),
    }
    return ProblemFilterResult(excluded=dropped, info=info)
