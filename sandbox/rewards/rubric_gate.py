"""Rubric gate: a rubric as a hard accept/reject filter over rollouts or whole groups.

    row mode:    keep i  iff  ∧_k check_k(y_i)
    group mode:  keep g  iff  (1/|g|) Σ_{i∈g} 1[∧_k check_k(y_i)] ≥ min_pass      (every row of g)

The checks are ``rubric_checks`` (format well-formed, answer present, no forbidden pattern,
the task-specific step count). The output is categorical -- a boolean keep mask -- and the
rubric never becomes a reward term: a rejected row is removed before the estimator, so it has
no loss term and does not enter its group's baseline. (A reward source that looks across the
group, such as R3's σ, has already seen the sampled group when the gate runs.) Compare the
dense term ``rubric_dense``, where the same checks are paid for.

"Direct Reasoning Optimization: Token-Level Reasoning Reflectivity Meets Rubric Gates for
Unverifiable Tasks" (Xu, Chakraborty, Sharma, Nunes, Kıcıman, Lu, Chandra, 2025, arXiv
2506.13351, later version): rubrics enforced as group-level feasibility gates.
"""

from __future__ import annotations

from typing import Literal

import torch

from sandbox.rewards.base import FilterResult, RewardContext
from sandbox.rewards.groups import group_index, per_group_sum
from sandbox.rewards.rubric_checks import ALL_CHECKS, FORBIDDEN, rubric_checks, validate_checks
from sandbox.rollout.rollouts import Rollouts
from toy_envs.base import check


def passes(rollouts: Rollouts, task, checks, forbidden: str) -> tuple[torch.Tensor, dict[str, int]]:
    """[B] bool every check passed, and {check: rows failing it}."""
    results = [rubric_checks(task, p, t, checks, forbidden) for p, t in zip(rollouts.problems, rollouts.texts)]
    failed = {name: sum(not r[name] for r in results) for name in checks}
    return torch.tensor([all(r.values()) for r in results], dtype=torch.bool, device=rollouts.device), failed


def gate_groups(row_pass: torch.Tensor, group: torch.Tensor, min_pass: float) -> torch.Tensor:
    """[B] bool: rows of groups whose passing fraction is at least ``min_pass``."""
    index, n = group_index(group)
    fraction = per_group_sum(row_pass.double(), index, n) / per_group_sum(torch.ones_like(row_pass, dtype=torch.float64), index, n)
    return (fraction >= min_pass)[index]


def rubric_gate(
    rollouts: Rollouts,
    token_rewards: torch.Tensor,
    ctx: RewardContext,
    mode: Literal["row", "group"] = "row",
    min_pass: float = 1.0,
    checks: tuple[str, ...] = ALL_CHECKS,
    forbidden: str = FORBIDDEN,
) -> FilterResult:
    """Keep rows (``mode="row"``) or groups (``mode="group"``) that meet the rubric."""
    check(mode in ("row", "group"), "mode", "'row' or 'group'", mode)
    check(0 < min_pass <= 1, "min_pass", "in (0, 1]", min_pass)
    validate_checks(checks)
    row_pass, failed = passes(rollouts, ctx.task, checks, forbidden)
    keep = row_pass if mode == "row" else gate_groups(row_pass, rollouts.group, min_pass)
    return FilterResult(keep=keep, info={"rejected": int((~keep).sum()), "failed": failed})
