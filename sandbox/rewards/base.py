"""The three kinds of reward piece, and what they are given.

    RewardSource(rollouts, ctx)                      -> token rewards [B, T]
    Filter(rollouts, token_rewards, ctx)             -> FilterResult(keep [B] bool, info)
    AdvantageEstimator(rewards, mask, group, step_ids, **options) -> advantages [B, T]

Sources place reward on response tokens only: an outcome reward on the row's last response
token, a step reward on each step's last token, a dense reward on every response token.
Filters return a keep mask over rows (group filters keep or drop whole groups); rejected rows
are removed *before* the estimator, so group statistics use kept rows only. Estimators are
pure tensor functions (easy to property-test and to call from other trainers); they return
0 wherever ``mask`` is False.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from sandbox.rollout.rollouts import Rollouts

LOSS_AGGREGATIONS = ("token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm")
"""How the policy loss reduces its per-token terms (``sandbox.train.policy_loss.aggregate``); a
variant may choose one (``Variant.loss["aggregation"]``, e.g. Dr. GRPO's seq-mean-token-sum-norm)."""


@dataclass
class RewardContext:
    """What a reward piece may consult besides the rollouts."""

    task: Any
    """The task (its oracle is already in ``rollouts.verdicts``)."""
    seed: int = 0
    """Run seed; spurious sources key their randomness by (seed, step, problem, rollout)."""
    step: int = 0
    """RL step."""
    max_new_tokens: int = 64
    """The response budget (overlong penalty, length normalisers)."""
    policy: Any = None
    """The current policy (sources that score with a model, e.g. DRO)."""
    reference: Any = None
    """The trainer's reference policy: frozen at the initial weights, or a lagged copy of the policy
    when ``RLConfig.reference_sync_every`` is set (DRO's ``scorer="reference"`` reads it)."""
    prm: Any = None
    """The trained discriminative PRM (a ``sandbox.prm.discriminative.StepScorer``) the variant
    declares (``Variant.models["prm"]``), loaded once by the trainer; ``prm_learned`` scores with it."""
    judge: Any = None
    """The trained generative judge (a ``TinyLlama``) the variant declares (``Variant.models["judge"]``),
    loaded once by the trainer; ``prm_generative`` samples its verification chains."""
    stepwiser: Any = None
    """The trained StepWiser judge (a ``TinyLlama``) the variant declares (``Variant.models["stepwiser"]``),
    loaded once by the trainer; ``judge_outcome`` samples its checks of whole solutions."""
    auxiliaries: dict[str, Any] = field(default_factory=dict)
    """The variant's auxiliary models by name (``Variant.auxiliaries``: a critic, PRIME's implicit
    PRM), built and trained by the trainer (``sandbox.rewards.auxiliary``)."""
    metrics: dict[str, float] = field(default_factory=dict)
    """Metrics a piece hands to the trainer (e.g. ``prm/mean_score``); it logs those of a step's first draw."""


@dataclass
class FilterResult:
    keep: torch.Tensor
    """[B] bool."""
    info: dict = field(default_factory=dict)
    """Logged counts, e.g. how many dropped groups collapsed to each value."""


class RewardSource(Protocol):
    def __call__(self, rollouts: Rollouts, ctx: RewardContext) -> torch.Tensor: ...


class Filter(Protocol):
    def __call__(self, rollouts: Rollouts, token_rewards: torch.Tensor, ctx: RewardContext) -> FilterResult: ...


class AdvantageEstimator(Protocol):
    def __call__(
        self, rewards: torch.Tensor, mask: torch.Tensor, group: torch.Tensor, step_ids: torch.Tensor, **options
    ) -> torch.Tensor: ...


def on_last_token(rollouts: Rollouts, values: torch.Tensor) -> torch.Tensor:
    """Token rewards [B, T] holding ``values[b]`` on row b's last response token, 0 elsewhere."""
    out = torch.zeros(rollouts.tokens.shape, dtype=torch.float32, device=rollouts.device)
    rows = torch.arange(len(rollouts), device=rollouts.device)
    out[rows, rollouts.last_token] = values.float()
    return out


def sequence_rewards(rewards: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[B] float64: each row's summed reward over its response tokens.

    The sum runs in float64, so that equal totals compare equal: float32 token rewards whose
    exact sums agree (e.g. the same per-token rewards in another order) would otherwise sum to
    float32 values one ulp apart, which the variance filter keeps and GRPO turns into advantages
    of about ±0.1-0.3. In float64 every partial sum of T float32 values is exact -- hence the
    same in any order -- whenever a row's nonzero rewards span at most 2^(29 − log2 T) in
    magnitude (exponents of the largest and smallest differ by at most that: a ratio up to ~2e6
    for T = 256); beyond that the total is rounded once per addition at float64's 1e-16."""
    return (rewards.double() * mask).sum(-1)


def whiten_over_mask(values: torch.Tensor, mask: torch.Tensor, eps: float) -> torch.Tensor:
    """(values − μ) / (σ + eps) with μ, σ (unbiased) over the entries where ``mask``; 0 elsewhere.

    Batch whitening of advantages, as verl's ``masked_whiten`` (REINFORCE++, GAE, PRIME)."""
    m = mask.to(values.dtype)
    n = m.sum()
    mean = (values * m).sum() / n.clamp(min=1)
    squares = ((values - mean) ** 2 * m).sum()
    std = (squares / (n - 1)).sqrt() if n > 1 else torch.zeros_like(squares)
    return (values - mean) / (std + eps) * m
