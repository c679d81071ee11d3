"""PRIME's advantage: leave-one-out baselines taken separately for the outcome and process rewards.

For row i of a group of n rows, with response mask m, response length L_i = Σ_t m_{i,t}, outcome
reward o_i (on the row's last response token) and process token rewards p_{i,t} (every other
source: the implicit PRM's β log π_ψ/π_ref in the ``prime`` variant):

    p̄_j  = (1/L_j) Σ_t m_{j,t} p_{j,t}                      row j's mean process token reward
    A_{i,t} = Σ_{s ≥ t} m_{i,s} [ p_{i,s} − (1/(n−1)) Σ_{j≠i} p̄_j ]     RLOO of the process rewards
            + o_i − (1/(n−1)) Σ_{j≠i} o_j                              RLOO of the outcome rewards

on response tokens (0 elsewhere), then with ``whiten`` (A − μ)/(σ + eps), μ and σ (unbiased) over
the batch's response tokens. "Process Reinforcement through Implicit Rewards" (Cui et al. 2025,
arXiv 2502.01456, section 3.3, eq. 5: γ = 1, as in its experiments and released code, whose RLOO
advantage whitens the returns with ``masked_whiten``). The per-token process baseline is what
makes a drift shared by the group's token rewards cancel: adding c to every p_{j,t} of a group
adds c to every p̄_j, and A is unchanged, so a negative drift does not pay shorter responses;
one baseline of the summed return (``return_to_go`` with ``baseline="leave_one_out"``) leaves
c·(tokens left) in every advantage.

The estimator reads the total token rewards r = p + o·1[t = last] (the registry's weighted sum)
and each row's outcome o_i (``outcome_total``: the ``outcome`` source's weighted row total, which
``registry.compute_token_rewards`` records in ``Rollouts.extras``); so Σ_{s≥t} m r = Σ_{s≥t} m p + o_i
and L_i p̄_i = Σ_t m r − o_i. Without ``outcome_total`` every reward is a process reward (PRIME
with the verifier's coefficient 0). A row with no response token has p̄ = 0. A group of one row
(n = 1) is its own baseline: p̄_i and o_i, so its outcome part is 0.

Where the released code differs from eq. 5 (not followed here): it scales the row's own token
rewards by n/(n−1) before subtracting Σ_j p̄_j/(n−1) over the whole group, which adds
(p_{i,t} − p̄_i)/(n−1) to each process term; for the outcome (one token per row) the two agree.
"""

from __future__ import annotations

import torch

from sandbox.rewards.base import whiten_over_mask
from sandbox.rewards.groups import group_deviation, group_sizes
from sandbox.rewards.return_to_go import discounted_returns


def leave_one_out_mean(values: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
    """[B] float64 (1/(n−1)) Σ_{j≠i, j∈g(i)} x_j = x_i − n/(n−1)·(x_i − mean_g); x_i for a group of one."""
    sizes = group_sizes(group)
    scale = torch.where(sizes > 1, sizes / (sizes - 1).clamp(min=1), torch.zeros_like(sizes))
    return values.double() - scale * group_deviation(values, group)


def prime_rloo(
    rewards: torch.Tensor,
    mask: torch.Tensor,
    group: torch.Tensor,
    step_ids: torch.Tensor,
    outcome_total: torch.Tensor | None = None,
    whiten: bool = True,
    eps: float = 1e-6,
) -> torch.Tensor:
    """[B, T] float32 PRIME's advantage (module docstring), 0 off the response."""
    returns = discounted_returns(rewards, mask, 1.0)  # Σ_{s≥t} m r: the process return-to-go plus o_i
    outcome = torch.zeros(len(rewards), dtype=torch.float64, device=rewards.device)
    if outcome_total is not None:
        outcome = outcome_total.to(rewards.device).double()
    lengths = mask.sum(-1).double()
    process_means = torch.where(lengths > 0, ((rewards * mask).double().sum(-1) - outcome) / lengths.clamp(min=1), 0.0)
    tokens_left = discounted_returns(torch.ones_like(rewards), mask, 1.0)  # Σ_{s≥t} m_{i,s}
    baseline = leave_one_out_mean(process_means, group)[:, None] * tokens_left + leave_one_out_mean(outcome, group)[:, None]
    advantages = (returns - baseline) * mask
    return (whiten_over_mask(advantages, mask, eps) if whiten else advantages).float()
