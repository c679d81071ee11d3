"""Generalised advantage estimation (GAE): PPO's critic-based dense advantage.

For row i with response tokens t (mask m), token rewards r_t and critic values V_t (the value of
the state in which token t is emitted; V = 0 after the last response token, the episode's end):

    δ_t = r_t + γ V_{t+1} − V_t
    Â_t = Σ_{k ≥ 0} (γλ)^k δ_{t+k}          (over the row's response tokens; 0 elsewhere)
    A_t = (Â_t − μ) / (σ + eps)             μ, σ over every response token of the batch (whiten)

λ trades bias for variance: λ = 0 gives the one-step TD error δ_t; λ = 1 gives the discounted
return minus the value, Σ_k γ^k r_{t+k} − V_t. The critic's regression target is the λ-return
Â_t + V_t of the unwhitened advantages (``value_targets``; the critic computes it with
``whiten=False``). By default the advantages the policy sees are whitened over the batch's
response tokens (unbiased σ, eps = 1e-6), as verl's GAE does (``masked_whiten`` after
``compute_gae_advantage_return``) and as PPO implementations for language models usually do;
``whiten=False`` returns Â itself. "High-Dimensional Continuous Control Using Generalized Advantage
Estimation" (Schulman et al. 2016, arXiv 1506.02438); used with a learned value head by PPO
("Proximal Policy Optimization Algorithms", Schulman et al. 2017, arXiv 1707.06347), the
critic of RLHF-style PPO for language models.

``values`` come from the variant's auxiliary value model (``sandbox.rewards.value_head``,
handed over by the trainer); without them (``None``) V ≡ 0 and A is the (γλ)-discounted
reward-to-go. The sandbox's response tokens of a row are contiguous; rewards and values off the
mask are ignored.
"""

from __future__ import annotations

import torch

from sandbox.rewards.base import whiten_over_mask
from toy_envs.base import check


def gae(
    rewards: torch.Tensor,
    mask: torch.Tensor,
    group: torch.Tensor,
    step_ids: torch.Tensor,
    values: torch.Tensor | None = None,
    gamma: float = 1.0,
    lam: float = 0.95,
    whiten: bool = True,
    eps: float = 1e-6,
) -> torch.Tensor:
    """[B, T] float32 GAE advantages on response tokens (whitened over the batch unless
    ``whiten=False``), 0 elsewhere."""
    check(0 <= gamma <= 1, "gamma", "in [0, 1]", gamma)
    check(0 <= lam <= 1, "lam", "in [0, 1]", lam)
    if values is None:
        values = torch.zeros(rewards.shape, dtype=torch.float64, device=rewards.device)
    check(values.shape == rewards.shape, "values", f"a tensor of shape {tuple(rewards.shape)}", tuple(values.shape))
    m = mask.double()
    r = torch.where(mask, rewards.double(), 0.0)
    v = torch.where(mask, values.double(), 0.0)
    advantages = torch.zeros_like(r)
    running = torch.zeros(r.shape[0], dtype=r.dtype, device=r.device)
    next_value = torch.zeros_like(running)
    for t in reversed(range(r.shape[1])):
        delta = r[:, t] + gamma * next_value - v[:, t]
        running = torch.where(mask[:, t], delta + gamma * lam * running, running)
        advantages[:, t] = running * m[:, t]
        next_value = torch.where(mask[:, t], v[:, t], next_value)
    return (whiten_over_mask(advantages, mask, eps) if whiten else advantages).float()


def value_targets(advantages: torch.Tensor, values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[B, T] the critic's targets, the λ-returns Â_t + V_t on response tokens, 0 elsewhere
    (``advantages``: the unwhitened GAE Â)."""
    return torch.where(mask, advantages.double() + values.double(), 0.0).float()
