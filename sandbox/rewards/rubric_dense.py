"""The rubric as a dense reward term (the comparison for the rubric gate).

    r_i = (1/K) Σ_k 1[check_k(y_i)]          on the row's last response token

with the checks of ``rubric_checks``. Paying for the rubric makes it something to optimise:
in the hackable setting (``checks=HACKABLE_CHECKS``, format checks only) a response earns the
full term with any well-formed answer line, right or wrong, and the hack rate
(``rubric_checks.hack_rate``) measures how often the policy collects it while wrong. The gate
(``rubric_gate``) uses the same checks as a feasibility constraint instead.

The rubric-as-reward baseline that "Direct Reasoning Optimization" (Xu et al. 2025, arXiv
2506.13351) argues against; the checks are categorical, as in its rubric gates.
"""

from __future__ import annotations

import torch

from sandbox.rewards.base import RewardContext, on_last_token
from sandbox.rewards.rubric_checks import HACKABLE_CHECKS, FORBIDDEN, rubric_checks, rubric_score
from sandbox.rollout.rollouts import Rollouts


def rubric_dense(
    rollouts: Rollouts, ctx: RewardContext, checks: tuple[str, ...] = HACKABLE_CHECKS, forbidden: str = FORBIDDEN
) -> torch.Tensor:
    """[B, T] float32: each row's rubric score on its last response token."""
    values = [
        rubric_score(rubric_checks(ctx.task, p, t, checks, forbidden)) for p, t in zip(rollouts.problems, rollouts.texts)
    ]
    return on_last_token(rollouts, torch.tensor(values, device=rollouts.device))
