"""REINFORCE++-baseline: group-centred rewards, then whitened over the whole batch's tokens.

    a_i     = R_i − mean_g(R)                             broadcast to row i's response tokens
    A_{i,t} = (a_i − μ) / (σ + eps)                        μ, σ over all valid tokens of the batch

with R_i = Σ_t r_{i,t}, μ the masked mean and σ the unbiased masked std (σ = 0 with fewer than
two valid tokens). "REINFORCE++: A Simple and Efficient Approach for Aligning Large Language
Models" (Hu 2025, arXiv 2501.03262). A group of one row has a_i = 0 here (its own mean is its
baseline; verl instead keeps the raw reward for such groups), and whitening still shifts it by
−μ/(σ + eps) like every other token.
"""

from __future__ import annotations

import torch

from sandbox.rewards.base import sequence_rewards, whiten_over_mask
from sandbox.rewards.groups import group_deviation


def rpp_baseline(
    rewards: torch.Tensor, mask: torch.Tensor, group: torch.Tensor, step_ids: torch.Tensor, eps: float = 1e-6
) -> torch.Tensor:
    """[B, T] float32 batch-whitened group-centred advantages on response tokens, 0 elsewhere."""
    centred = group_deviation(sequence_rewards(rewards, mask), group)
    tokens = centred[:, None].expand(mask.shape)
    return whiten_over_mask(tokens, mask, eps).float()
