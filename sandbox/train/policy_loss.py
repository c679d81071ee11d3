"""One policy loss for every variant: PPO-clip on token advantages.

    ρ_t  = exp(clamp(log π_θ(y_t) − log π_old(y_t), −20, 20))
    c_t  = max(−A_t ρ_t, −A_t clip(ρ_t, 1 − ε_low, 1 + ε_high))                  (PPO-clip)
    ℓ_t  = c_t                       if A_t ≥ 0
           min(c_t, −A_t · C)        if A_t < 0                                  (dual clip)
           + β · KL_t
    KL_t = exp(log π_ref − log π_θ) − (log π_ref − log π_θ) − 1          (k3, Schulman 2020)

Off-policy rows (Critique-GRPO's refinements, sampled in another context) replace c_t by the
shaped term the refinement piece computes, −A_t · f(π_θ(y_t)) with f(p) = p/(p + γ): no ratio to a
behaviour policy, no clip (``sandbox.rewards.critique_grpo``); the clip and KL-to-behaviour
diagnostics count on-policy tokens only.

ε_high > ε_low is DAPO's clip-higher (Yu et al. 2025, arXiv 2503.14476). PPO-clip alone does not
bound the loss of a token with A < 0: its unclipped branch −A ρ grows without limit in ρ, so one
token whose probability rose a lot since sampling can dominate a minibatch. Dual-clip PPO caps
that branch at −A · C (C = ``clip_ratio_c`` = 3, > 1), where the gradient is 0 ("Mastering Complex
Control in MOBA Games with Deep Reinforcement Learning", Ye et al. 2020, arXiv 1912.09729;
verl's ``clip_ratio_c``, default 3). The log-ratio is clamped to [−20, 20] before exp, as verl
does, so that ρ is finite in float32 even where the policy moved by more than 88 nats.
Aggregation over the response tokens (mask m) of a minibatch of rows i:

    token-mean               Σ_i Σ_t m ℓ / Σ_i Σ_t m                       (DAPO)
    seq-mean-token-mean      (1/B) Σ_i (Σ_t m ℓ / Σ_t m)                   (GRPO)
    seq-mean-token-sum-norm  (1/B) Σ_i Σ_t m ℓ / L  with a constant L       (Dr.GRPO)

Logged: clip fraction (tokens where the clipped branch is active), dual-clip fraction (tokens with
A < 0 where the −A · C bound is active), approx KL to the behaviour policy (mean of ½(log ρ)²),
and the KL to the reference when β > 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from sandbox.rewards.base import LOSS_AGGREGATIONS as AGGREGATIONS

LOG_RATIO_LIMIT = 20.0
"""|log ρ| is clamped to this before exp (verl's bound): ρ ≤ e^20, finite in float32."""


@dataclass
class LossConfig:
    clip_low: float = 0.2
    """ε_low: the ratio is clipped below at 1 − ε_low."""
    clip_high: float = 0.2
    """ε_high: the ratio is clipped above at 1 + ε_high (clip-higher when > ε_low)."""
    aggregation: Literal["token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm"] = "seq-mean-token-mean"
    """How token losses are averaged."""
    clip_ratio_c: float = 3.0
    """C of dual-clip PPO: for A < 0 the token loss is at most −A · C (verl's ``clip_ratio_c``)."""
    kl_coef: float = 0.0
    """β of the k3 KL penalty to the frozen reference (0: no reference forward)."""
    length_norm: int = 64
    """L of seq-mean-token-sum-norm (the trainer sets it to the response budget)."""

    def validate(self) -> None:
        from toy_envs.base import check

        check(0 <= self.clip_low < 1, "clip_low", "in [0, 1)", self.clip_low)
        check(self.clip_high >= 0, "clip_high", ">= 0", self.clip_high)
        check(self.clip_ratio_c > 1, "clip_ratio_c", "> 1 (the dual-clip bound on the ratio for A < 0)", self.clip_ratio_c)
        check(self.aggregation in AGGREGATIONS, "aggregation", f"one of {AGGREGATIONS}", self.aggregation)
        check(self.kl_coef >= 0, "kl_coef", ">= 0", self.kl_coef)
        check(self.length_norm >= 1, "length_norm", ">= 1", self.length_norm)


def aggregate(
    values: torch.Tensor, mask: torch.Tensor, how: str, length_norm: int, denominators: tuple[float, float] | None = None
) -> torch.Tensor:
    """The aggregated loss. ``denominators`` = (tokens, rows) of the whole minibatch when these
    rows are one process's share of it (``sandbox.train.distributed``): the per-process losses
    then sum to the single-process loss."""
    mask = mask.float()
    if denominators is not None:
        tokens, rows = denominators
        per_row = (values * mask).sum(-1)
        if how == "token-mean":
            return per_row.sum() / max(tokens, 1.0)
        if how == "seq-mean-token-mean":
            return (per_row / mask.sum(-1).clamp(min=1)).sum() / rows
        if how == "seq-mean-token-sum-norm":
            return (per_row / length_norm).sum() / rows
    elif how == "token-mean":
        return (values * mask).sum() / mask.sum().clamp(min=1)
    else:
        per_row = (values * mask).sum(-1)
        if how == "seq-mean-token-mean":
            return (per_row / mask.sum(-1).clamp(min=1)).mean()
        if how == "seq-mean-token-sum-norm":
            return (per_row / length_norm).mean()
    raise ValueError(f"aggregation={how!r} is not allowed: one of {AGGREGATIONS}")


def policy_loss(
    new_logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    cfg: LossConfig,
    ref_logp: torch.Tensor | None = None,
    denominators: tuple[float, float] | None = None,
    off_policy: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The scalar loss and its diagnostics; all inputs [B, T], ``mask`` marks response tokens;
    ``denominators`` as in ``aggregate`` (several processes share the minibatch); ``off_policy``
    = (rows [B] bool, their token loss [B, T]) replaces the PPO-clip term on those rows."""
    log_ratio = ((new_logp - old_logp) * mask).clamp(-LOG_RATIO_LIMIT, LOG_RATIO_LIMIT)
    ratio = log_ratio.exp()
    unclipped = -advantages * ratio
    clipped = -advantages * ratio.clamp(1 - cfg.clip_low, 1 + cfg.clip_high)
    ppo_clipped = torch.maximum(unclipped, clipped)
    negative = advantages < 0
    dual_bound = -advantages * cfg.clip_ratio_c
    token_loss = torch.where(negative, torch.minimum(ppo_clipped, dual_bound), ppo_clipped)
    on_policy = mask
    if off_policy is not None:
        rows, shaped = off_policy
        rows = rows.to(token_loss.device)[:, None]
        token_loss = torch.where(rows, shaped, token_loss)
        on_policy = mask * ~rows
    metrics = {}
    if cfg.kl_coef > 0:
        if ref_logp is None:
            raise ValueError("kl_coef > 0 needs the reference log-probs")
        delta = (ref_logp - new_logp) * mask
        kl = delta.exp() - delta - 1
        token_loss = token_loss + cfg.kl_coef * kl
        metrics["loss/kl_ref"] = aggregate(kl.detach(), mask, "token-mean", cfg.length_norm).item()
    loss = aggregate(token_loss, mask, cfg.aggregation, cfg.length_norm, denominators)
    with torch.no_grad():
        n = on_policy.float().sum().clamp(min=1)
        metrics["loss/clip_fraction"] = ((clipped > unclipped).float() * on_policy).sum().item() / n.item()
        metrics["loss/dual_clip_fraction"] = ((negative & (dual_bound < ppo_clipped)).float() * on_policy).sum().item() / n.item()
        metrics["loss/approx_kl"] = (0.5 * log_ratio.pow(2) * on_policy).sum().item() / n.item()
    return loss, metrics
