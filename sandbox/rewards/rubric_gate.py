"""Rubric gate: a rubric as a hard accept/reject filter over rollout groups or single rows.

    pass_i       = ∧_k check_k(y_i)
    group mode:  keep i  iff  pass_i  and  (1/|g|) Σ_{j∈g} pass_j ≥ min_pass      (i in group g)
    row mode:    keep i  iff  pass_i

The checks are ``rubric_checks`` (format well-formed, answer present, no forbidden pattern,
the task-specific step count). The output is categorical -- a boolean keep mask -- and the
rubric never becomes a reward term: a rejected row is removed before the estimator, so it has
no loss term and does not enter its group's baseline. Compare the dense term ``rubric_dense``,
where the same checks are paid for.

Group mode (the default) is DRO's: rubrics are feasibility constraints on whole rollout groups.
A group whose passing fraction is below ``min_pass`` is rejected entirely -- it gives no
comparison the gate would trust -- and inside an accepted group only the valid answers remain,
so the group-relative statistics (R3's σ_j and w_j when ``dro_r3`` is given the same ``gate``,
GRPO's mean and std) work within valid answers only. With ``min_pass = 1`` a group is kept
only when every row passes. Row mode keeps every passing row, whatever its group.

"Direct Reasoning Optimization: Token-Level Reasoning Reflectivity Meets Rubric Gates for
Unverifiable Tasks" (Xu, Chakraborty, Sharma, Nunes, Kıcıman, Lu, Chandra, 2025, arXiv
2506.13351, later version): rubrics enforced as group-level feasibility gates. Departure: the
paper's acceptance rule for a group is not reproduced exactly; here it is the passing fraction
against ``min_pass`` (0.5 by default: at the sandbox's hackable setting, sampling at
temperature 1.5, no group of 8 has every row well-formed).
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


def gate_keep(
    rollouts: Rollouts, task, mode: str = "group", min_pass: float = 0.5, checks=ALL_CHECKS, forbidden: str = FORBIDDEN
) -> tuple[torch.Tensor, dict[str, int]]:
    """([B] bool the rows the gate keeps, {check: rows failing it}); ``ConfigError`` on bad settings."""
    check(mode in ("row", "group"), "mode", "'row' or 'group'", mode)
    check(0 < min_pass <= 1, "min_pass", "in (0, 1]", min_pass)
    validate_checks(checks)
    row_pass, failed = passes(rollouts, task, checks, forbidden)
    keep = row_pass if mode == "row" else row_pass & gate_groups(row_pass, rollouts.group, min_pass)
    return keep, failed


def rubric_gate(
    rollouts: Rollouts,
    token_rewards: torch.Tensor,
    ctx: RewardContext,
    mode: Literal["row", "group"] = "group",
    min_pass: float = 0.5,
    checks: tuple[str, ...] = ALL_CHECKS,
    forbidden: str = FORBIDDEN,
) -> FilterResult:
    """Keep the valid rows of groups that meet the rubric (``mode="group"``) or every valid row
    (``mode="row"``)."""
    keep, failed = gate_keep(rollouts, ctx.task, mode, min_pass, checks, forbidden)
    return FilterResult(keep=keep, info={"rejected": int((~keep).sum()), "failed": failed})
