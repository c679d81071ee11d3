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

from sandbox.rewards.base import sequence_rewards
from sandbox.rewards.groups import group_deviation


def whiten_over_mask(values: torch.Tensor, mask: torch.Tensor, eps: float) -> torch.Tensor:
    """(values − μ) / (σ + eps) with μ, σ (unbiased) over the entries where ``mask``; 0 elsewhere."""
    m = mask.to(values.dtype)
    n = m.sum()
    mean = (values * m).sum() / n.clamp(min=1)
    squares = ((values - mean) ** 2 * m).sum()
    std = (squares / (n - 1)).sqrt() if n > 1 else torch.zeros_like(squares)
    return (values - mean) / (std + eps) * m


def rpp_baseline(
    rewards: torch.Tensor, mask: torch.Tensor, group: torch.Tensor, step_ids: torch.Tensor, eps: float = 1e-6
) -> torch.Tensor:
    """[B, T] float32 batch-whitened group-centred advantages on response tokens, 0 elsewhere."""
    centred = group_deviation(sequence_rewards(rewards, mask), group)
    tokens = centred[:, None].expand(mask.shape)
    return whiten_over_mask(tokens, mask, eps).float()
