"""GRPO's outcome advantage: each rollout's reward z-scored within its group.

    A_{i,t} = (R_i − mean_g(R)) / (std_g(R) + eps)      for every response token t of row i

with R_i = Σ_t r_{i,t} the row's summed reward and std the unbiased (n − 1) group std, as in
verl and TRL. "DeepSeekMath: Pushing the Limits of Mathematical Reasoning in Open Language
Models" (Shao et al. 2024, arXiv 2402.03300), section 4.1.2. A group of one row has no
baseline and gets A = 0; a group of equal rewards gets exactly 0.
"""

from __future__ import annotations

import torch

from sandbox.rewards.base import sequence_rewards
from sandbox.rewards.groups import group_deviation, group_std


def grpo(
    rewards: torch.Tensor, mask: torch.Tensor, group: torch.Tensor, step_ids: torch.Tensor, eps: float = 1e-6
) -> torch.Tensor:
    """[B, T] float32 z-scored group advantages on response tokens, 0 elsewhere."""
    returns = sequence_rewards(rewards, mask)
    advantage = group_deviation(returns, group) / (group_std(returns, group) + eps)
    return (advantage[:, None] * mask).float()
