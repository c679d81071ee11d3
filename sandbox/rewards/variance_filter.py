"""DAPO dynamic sampling: drop groups whose rollouts all scored the same.

    keep group g  iff  Var_{i∈g}(m_i) > 0      (population variance; a group of one row is dropped)

with m_i the row's accuracy 1[correct] (``metric="accuracy"``) or its summed token reward
(``metric="reward"``). Such a group has zero advantage under any group-relative estimator and
only dilutes the batch. "DAPO: An Open-Source LLM Reinforcement Learning System at Scale"
(Yu et al. 2025, arXiv 2503.14476), section 3.2. Zero variance is tested as max_g = min_g, which
is exact. Drawing fresh problems to refill the batch is the trainer's job (``Variant.refill``).
"""

from __future__ import annotations

from typing import Literal

import torch

from sandbox.rewards.base import FilterResult, RewardContext, sequence_rewards
from sandbox.rewards.groups import group_filter_result, group_index, per_group_extreme
from sandbox.rollout.rollouts import Rollouts
from toy_envs.base import check


def row_metric(rollouts: Rollouts, token_rewards: torch.Tensor, metric: str) -> torch.Tensor:
    """[B] the raw per-row metric a group filter looks at."""
    check(metric in ("accuracy", "reward"), "metric", "'accuracy' or 'reward'", metric)
    if metric == "accuracy":
        return rollouts.correct
    return sequence_rewards(token_rewards, rollouts.response_mask)


def variance_filter(
    rollouts: Rollouts,
    token_rewards: torch.Tensor,
    ctx: RewardContext,
    metric: Literal["accuracy", "reward"] = "accuracy",
) -> FilterResult:
    """Keep the rows of every group whose ``metric`` is not constant."""
    values = row_metric(rollouts, token_rewards, metric).double()
    index, n = group_index(rollouts.group)
    spread = per_group_extreme(values, index, n, "amax") - per_group_extreme(values, index, n, "amin")
    return group_filter_result(values, rollouts.group, spread > 0)
