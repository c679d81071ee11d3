"""Return-to-go with a leave-one-out baseline: dense credit, group-relative without the row itself.

For row i of a group of n rows, with G_{i,t} = Σ_{t' ≥ t} γ^{t'−t} r_{i,t'} m_{i,t'} (the
(discounted) reward-to-go, ``return_to_go``) and R_j = G_{j,start_j} each row's total return:

    b_i     = (1/(n−1)) Σ_{j≠i} R_j  =  R_i − n/(n−1) · (R_i − mean_g(R))
    Â_{i,t} = G_{i,t} − b_i                                           on response tokens
    A_{i,t} = (Â_{i,t} − μ) / (σ + eps)       μ, σ over every response token of the batch (whiten)

A group of one row has no other rollout: its baseline is its own total (b_i = R_i), so an outcome
reward gives it 0 and step rewards keep only their within-row shape. This is PRIME's advantage
("Process Reinforcement through Implicit Rewards", Cui et al. 2025, arXiv 2502.01456, section
3.3: return-to-go of RLOO-baselined rewards) applied to the summed reward, with the leave-one-out
baseline of "Buy 4 REINFORCE Samples, Get a Baseline for Free!" (Kool et al. 2019). By default
the advantages are then whitened over the batch's response tokens (unbiased σ, eps = 1e-6), as
PRIME's released code does (``masked_whiten`` of the returns in its RLOO advantage);
``whiten=False`` returns Â itself.
"""

from __future__ import annotations

import torch

from sandbox.rewards.base import whiten_over_mask
from sandbox.rewards.groups import group_deviation, group_sizes
from sandbox.rewards.return_to_go import discounted_returns, first_response_value
from toy_envs.base import check


def rtg_loo(
    rewards: torch.Tensor, mask: torch.Tensor, group: torch.Tensor, step_ids: torch.Tensor, gamma: float = 1.0,
    whiten: bool = True, eps: float = 1e-6,
) -> torch.Tensor:
    """[B, T] float32 rewards-to-go minus the leave-one-out mean of the other rows' returns (whitened
    over the batch unless ``whiten=False``), 0 off the response."""
    check(0 <= gamma <= 1, "gamma", "in [0, 1]", gamma)
    returns = discounted_returns(rewards, mask, gamma)
    totals = first_response_value(returns, mask)
    sizes = group_sizes(group)
    scale = torch.where(sizes > 1, sizes / (sizes - 1).clamp(min=1), torch.zeros_like(sizes))
    baseline = totals - scale * group_deviation(totals, group)
    advantages = (returns - baseline[:, None]) * mask
    return (whiten_over_mask(advantages, mask, eps) if whiten else advantages).float()
