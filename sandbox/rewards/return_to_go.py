"""Return-to-go: a dense advantage that credits each token with the reward that follows it.

    G_{i,t} = Σ_{t' ≥ t} γ^{t'−t} r_{i,t'} m_{i,t'}                  (REINFORCE's reward-to-go)
    Â_{i,t} = G_{i,t} − b_i                                          on response tokens
    A_{i,t} = Â_{i,t}, or with ``whiten``: (Â_{i,t} − μ) / (σ + eps)  μ, σ over the batch's response tokens

with m the response mask, γ the discount (default 1) and R_j = G_{j,start_j} each row's *total*
return (from its first response token; Σ_t r_{j,t} when γ = 1). The baseline is one constant per
row, subtracted from every token, so that step rewards keep their within-row shape while outcome
rewards become group-relative:

    baseline="none":           b_i = 0
    baseline="group_mean":     b_i = mean_{j in g(i)} R_j
    baseline="leave_one_out":  b_i = (1/(n−1)) Σ_{j≠i} R_j = R_i − n/(n−1) · (R_i − mean_g(R))
                               (a group of one row: b_i = R_i, so an outcome reward gives it 0)

"Simple Statistical Gradient-Following Algorithms for Connectionist Reinforcement Learning"
(Williams 1992); group mean as the process-reward baseline in "DeepSeekMath" (Shao et al. 2024,
arXiv 2402.03300). Leave-one-out is the baseline of "Buy 4 REINFORCE Samples, Get a Baseline
for Free!" (Kool et al. 2019), here of the summed return; whitening uses the unbiased σ as
verl's ``masked_whiten`` does. PRIME's own advantage baselines its outcome and process rewards
apart (``sandbox.rewards.prime_rloo``).
"""

from __future__ import annotations

from typing import Literal

import torch

from sandbox.rewards.base import whiten_over_mask
from sandbox.rewards.groups import group_deviation, group_mean, group_sizes
from toy_envs.base import check

BASELINES = ("none", "group_mean", "leave_one_out")


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
    baseline: Literal["none", "group_mean", "leave_one_out"] = "none",
    whiten: bool = False,
    eps: float = 1e-6,
) -> torch.Tensor:
    """[B, T] float32 (discounted) rewards-to-go minus the baseline on response tokens (whitened
    over the batch with ``whiten``), 0 elsewhere."""
    check(baseline in BASELINES, "baseline", f"one of {BASELINES}", baseline)
    check(0 <= gamma <= 1, "gamma", "in [0, 1]", gamma)
    returns = discounted_returns(rewards, mask, gamma)
    if baseline == "group_mean":
        totals = first_response_value(returns, mask)
        returns = returns - group_mean(totals, group)[:, None]
    elif baseline == "leave_one_out":
        totals = first_response_value(returns, mask)
        sizes = group_sizes(group)
        scale = torch.where(sizes > 1, sizes / (sizes - 1).clamp(min=1), torch.zeros_like(sizes))
        returns = returns - (totals - scale * group_deviation(totals, group))[:, None]
    advantages = returns * mask
    return (whiten_over_mask(advantages, mask, eps) if whiten else advantages).float()
