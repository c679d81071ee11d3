"""Return-to-go: a dense advantage that credits each token with the reward that follows it.

    G_{i,t} = Σ_{t' ≥ t} γ^{t'−t} r_{i,t'} m_{i,t'}                  (REINFORCE's reward-to-go)
    A_{i,t} = G_{i,t} − b_i                                          on response tokens

with m the response mask and γ the discount (default 1). ``baseline="none"``: b_i = 0.
``baseline="group_mean"``: b_i = mean over row i's group of each row's *total* return
G_{j,start_j} (the return from its first response token; Σ_t r_{j,t} when γ = 1), one constant
per row subtracted from every token, so that step rewards keep their within-row shape while
outcome rewards become group-relative. "Simple Statistical Gradient-Following Algorithms for
Connectionist Reinforcement Learning" (Williams 1992); as the process-reward baseline in
"DeepSeekMath" (Shao et al. 2024, arXiv 2402.03300).
"""

from __future__ import annotations

from typing import Literal

import torch

from sandbox.rewards.groups import group_mean
from toy_envs.base import check


def discounted_returns(rewards: torch.Tensor, mask: torch.Tensor, gamma: float) -> torch.Tensor:
    """[B, T] float64 G_t = r_t m_t + γ G_{t+1}, scanning right to left (G_T = 0)."""
    masked = (rewards * mask).double()
    returns = torch.zeros_like(masked)
    following = torch.zeros(masked.shape[0], dtype=masked.dtype, device=masked.device)
    for t in reversed(range(masked.shape[1])):
        following = masked[:, t] + gamma * following
        returns[:, t] = following
    return returns


def first_response_value(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[B] each row's value at its first response token (0 for a row with no response token)."""
    first = mask.int().argmax(dim=1)
    rows = torch.arange(values.shape[0], device=values.device)
    return values[rows, first] * mask.any(dim=1)


def return_to_go(
    rewards: torch.Tensor,
    mask: torch.Tensor,
    group: torch.Tensor,
    step_ids: torch.Tensor,
    gamma: float = 1.0,
    baseline: Literal["none", "group_mean"] = "none",
) -> torch.Tensor:
    """[B, T] float32 (discounted) rewards-to-go minus the baseline on response tokens, 0 elsewhere."""
    check(baseline in ("none", "group_mean"), "baseline", "'none' or 'group_mean'", baseline)
    returns = discounted_returns(rewards, mask, gamma)
    if baseline == "group_mean":
        totals = first_response_value(returns, mask)
        returns = returns - group_mean(totals, group)[:, None]
    return (returns * mask).float()
