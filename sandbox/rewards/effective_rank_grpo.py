"""Effective-rank advantage shaping (VERL): GRPO's advantage plus a bounded bonus from hidden-state dynamics.

"Beyond the Exploration-Exploitation Trade-off: A Hidden State Approach for LLM Reasoning in RLVR"
(Huang et al. 2025, arXiv 2509.23808), Velocity-Exploiting Rank-Learning. For row i, from its
response-token final hidden states H_i (handed in by the trainer, ``hidden_states``):

    x_i = (ER_i, ERV_i, ERA_i)          ER of H_i centred; ERV, ERA inside the response over its
                                        prefixes of stride s (``sandbox.rollout.effective_rank``)
    δ_{j,i} = clip((x_{j,i} − m_j) / (|m_j| + ε), −c, c)      relative deviation from a baseline m_j
    τ_i = sigmoid(g · δ_{ERA,i})                              ERA as the meta-controller
    b_i = λ · [τ_i · tanh δ_{ER,i} + (1 − τ_i) · tanh δ_{ERV,i}]
                                        exploration channel (ER) when ERA is above its baseline,
                                        exploitation channel (ERV) when below
    A_{i,t} = GRPO's z-scored outcome advantage               (``sandbox.rewards.grpo``)
    Â_{i,t} = A_{i,t} + min(max(b_i, 0), |A_{i,t}| / κ)       on every response token

Defaults are the authors' released settings (github.com/hf618/VERL, read, not copied): gain g = 2,
weight λ = 1, clip c = 5, κ = 2; w_explore = (0, 0, 1) and w_exploit = (0, 1, 0) over (ERA, ERV, ER),
which is the two-channel b_i above. The bonus is never negative and at most |A|/κ: a row with A > 0
gains up to half its advantage again, a row with A < 0 loses up to half its penalty, the sign never
flips, and a group whose rewards are all equal (A = 0) gets nothing.

Cut down, and how:
- Baselines m_j are the means of x_j over this batch's kept rows. The authors' code keeps an
  exponential moving average (α = 0.3) of earlier steps' batch means, state across steps that a
  pure estimator does not hold.
- The prefix stride s defaults to 2 tokens (the authors use 40 on responses of up to 1536 tokens;
  here responses are about 20 tokens, so 2 gives about ten prefixes, as their setting does on
  their shortest responses).
- ``on="all"`` adds the bonus on every response token, as the equation reads; the authors' code
  places the auxiliary reward on the last response token, so its bonus reaches only that token's
  advantage: ``on="last"`` does that.
"""

from __future__ import annotations

import torch

from sandbox.rewards.grpo import grpo
from sandbox.rollout.effective_rank import rank_dynamics, response_effective_ranks
from toy_envs.base import check

PLACEMENTS = ("all", "last")


def relative_deviation(values: torch.Tensor, clip: float, eps: float) -> torch.Tensor:
    """(x − mean x) / (|mean x| + eps), clipped to [−clip, clip]; [B] float64."""
    baseline = values.mean()
    return ((values - baseline) / (baseline.abs() + eps)).clamp(-clip, clip)


def rank_bonus(hidden_states: torch.Tensor, mask: torch.Tensor, stride: int = 2, gain: float = 2.0, weight: float = 1.0,
               clip: float = 5.0, eps: float = 1e-8) -> torch.Tensor:
    """b_i of every row, [B] float64 (see the module docstring)."""
    ranks = response_effective_ranks(hidden_states, mask)
    velocity, acceleration = rank_dynamics(hidden_states, mask, stride)
    explore = torch.sigmoid(gain * relative_deviation(acceleration, clip, eps))
    return weight * (explore * relative_deviation(ranks, clip, eps).tanh() + (1 - explore) * relative_deviation(velocity, clip, eps).tanh())


def effective_rank_grpo(
    rewards: torch.Tensor, mask: torch.Tensor, group: torch.Tensor, step_ids: torch.Tensor, hidden_states: torch.Tensor,
    stride: int = 2, gain: float = 2.0, weight: float = 1.0, kappa: float = 2.0, clip: float = 5.0, on: str = "all",
    eps: float = 1e-6,
) -> torch.Tensor:
    """[B, T] float32 Â on response tokens, 0 elsewhere; ``hidden_states`` [B, T, d], 0 off the response."""
    check(kappa > 1, "kappa", "> 1 (the bonus is at most |A|/kappa)", kappa)
    check(on in PLACEMENTS, "on", f"one of {PLACEMENTS}", on)
    check(stride >= 1, "stride", "an integer >= 1", stride)
    check(weight >= 0 and gain >= 0 and clip > 0, "weight/gain/clip", ">= 0, >= 0, > 0", (weight, gain, clip))
    check(hidden_states.shape[:2] == mask.shape, "hidden_states", f"shape [B, T, d] with [B, T] = {tuple(mask.shape)}",
          tuple(hidden_states.shape))
    advantages = grpo(rewards, mask, group, step_ids, eps)
    if len(mask) == 0:
        return advantages
    bonus = rank_bonus(hidden_states, mask.bool(), stride, gain, weight, clip).clamp(min=0).float()
    where = mask.float()
    if on == "last":
        last = mask.long().cumsum(1).argmax(1)
        where = torch.zeros_like(where)
        where[torch.arange(len(mask)), last] = mask.any(1).float()
    return advantages + torch.minimum(bonus[:, None], advantages.abs() / kappa) * where
