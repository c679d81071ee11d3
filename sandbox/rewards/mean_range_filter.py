"""Mean-range filter: keep groups whose accuracy is strictly inside (lo, hi).

    keep group g  iff  lo < (1/n_g) Σ_{i∈g} 1[correct_i] < hi

With lo = 0, hi = 1 it drops all-wrong and all-right groups like DAPO's dynamic sampling
("DAPO: An Open-Source LLM Reinforcement Learning System at Scale", Yu et al. 2025,
arXiv 2503.14476), here used without refilling the batch, for comparison; a narrower range is
the online difficulty filtering of e.g. PRIME ("Process Reinforcement through Implicit
Rewards", Cui et al. 2025, arXiv 2502.01456). ``info["collapsed"]`` counts only dropped groups
whose rows all agree.
"""

from __future__ import annotations

import torch

from sandbox.rewards.base import FilterResult, RewardContext
from sandbox.rewards.groups import group_filter_result, group_index, per_group_sum
from sandbox.rollout.rollouts import Rollouts
from toy_envs.base import check


def mean_range_filter(
    rollouts: Rollouts, token_rewards: torch.Tensor, ctx: RewardContext, lo: float = 0.0, hi: float = 1.0
) -> FilterResult:
    """Keep the rows of every group with lo < mean accuracy < hi."""
    check(lo < hi, "lo", f"below hi={hi}", lo)
    accuracy = rollouts.correct.double()
    index, n = group_index(rollouts.group)
    mean = per_group_sum(accuracy, index, n) / per_group_sum(torch.ones_like(accuracy), index, n)
    return group_filter_result(accuracy, rollouts.group, (lo < mean) & (mean < hi))
