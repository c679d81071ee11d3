"""RLOO's outcome advantage: each reward minus the mean of the *other* rollouts of its group.

    A_{i,t} = R_i − (1/(G−1)) Σ_{j≠i} R_j  =  G/(G−1) · (R_i − mean_g(R))

with R_i = Σ_t r_{i,t} and G the group size; a group of one row has no other rollout and gets 0.
"Back to Basics: Revisiting REINFORCE Style Optimization for Learning from Human Feedback in
LLMs" (Ahmadian et al. 2024, arXiv 2402.14740); the leave-one-out baseline is from "Buy 4
REINFORCE Samples, Get a Baseline for Free!" (Kool et al. 2019).
"""

from __future__ import annotations

import torch

from sandbox.rewards.base import sequence_rewards
from sandbox.rewards.groups import group_deviation, group_sizes


def rloo(
    rewards: torch.Tensor, mask: torch.Tensor, group: torch.Tensor, step_ids: torch.Tensor
) -> torch.Tensor:
    """[B, T] float32 leave-one-out advantages on response tokens, 0 elsewhere."""
    sizes = group_sizes(group)
    scale = torch.where(sizes > 1, sizes / (sizes - 1).clamp(min=1), torch.zeros_like(sizes))
    advantage = scale * group_deviation(sequence_rewards(rewards, mask), group)
    return (advantage[:, None] * mask).float()
