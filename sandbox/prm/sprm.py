"""Self-supervised process reward model (SPRM): step scores learned from the final outcome only.

The scorer is the discriminative PRM's (``StepScorer``: the tiny transformer plus a linear head
read at each step's last token e_t). No step label is used: every step of solution i takes the
solution's outcome as its pseudo-label, and a step only teaches the head where the head's
current prediction already agrees with that pseudo-label:

    y_{i,t}  = c_i = 1[solution i is correct]                        (every step t)
    s_{i,t}  = σ(w · h[e_t] + b)
    agree    = (s_{i,t} > 0.5 and y = 1) or (s_{i,t} < 0.5 and y = 0)         (a tie agrees with neither)
    P = n_pos + 1,  N = n_neg + 1          n_y = agreeing steps of class y in the batch (+1 smoothing)
    w_{i,t}  = 1[agree] · (1.5 · N / (P + N)  if y = 1,   P / (P + N)  if y = 0)
    L        = Σ w_{i,t} BCE(s_{i,t}, y_{i,t}) / Σ w_{i,t}
    score_i  = (Π_t s_{i,t})^(1/n_i)                                 (geometric mean over steps)

A correct solution's steps are probably all right; a wrong solution's are not all wrong, and the
agreement filter keeps the head from being pushed towards "bad" on the steps it already reads as
good (and vice versa), so the labels it trusts sharpen as it learns. Each class is weighted by the
other's share of the agreeing steps, so the rarer pseudo-class counts more, and positives by a
further 1.5. "Test-Time Scaling with Reflective Generative Model" (MetaStone-S1; Wang et al. 2025,
arXiv 2507.01951), section 3 (the SPR loss); the weights, the +1 smoothing, the factor 1.5 and the
strict agreement (a logit of exactly 0 trains neither way) are those of the released code
(MetaStone-S1 ``dp_actor.py``), which the paper's equation leaves out.

The released score head starts from PyTorch's random initialisation, so no prediction is exactly
0.5; ``sprm_head_init`` does the same (keyed by the training seed) for the SPRM here, whose
``StepScorer`` head otherwise starts at zero like the other PRMs' -- with a zero head every step
ties, none would agree, and nothing would ever train.

``weighting="balanced"``: the sandbox's earlier class weights, n / (2 n_y) per class (n the
agreeing steps; each class the same total weight, weight 1 when one class is absent), with the
same strict agreement and random head. Kept as an option to compare against, not as the better
one: AUROC of the geometric-mean score on the training solutions (``tests/test_learning_sprm.py``,
seeds 0-4, one build of the cached models) 0.540 / 0.578 / 0.642 / 0.632 / 0.630 against the
released form's 0.391 / 0.578 / 0.631 / 0.615 / 0.631 (the earlier code, with a tie counted as
agreeing with both classes and a zero head: 0.647 / 0.570 / 0.623 / 0.623 / 0.645): higher on
seed 0 only, and these AUROCs move between builds of the cached models by more than the gaps
(README, SPRM), so neither weighting is shown to rank better.

Cut down from the paper: the head is a single linear layer on a *copy* of the policy's backbone
(the paper shares the policy's backbone and uses two linear layers with dropout, trained jointly
with the policy), and it is trained offline on policy samples like the other PRMs here so that
it is evaluated on the same toy ProcessBench.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from sandbox.prm.discriminative import step_end_mask
from sandbox.rng import row_key
from sandbox.rollout.rollouts import Rollouts
from toy_envs.base import check


def sprm_targets(rollouts: Rollouts) -> tuple[torch.Tensor, torch.Tensor]:
    """(where [B, T] bool, targets [B, T] float): the row's outcome 1[correct] at every step end."""
    where = step_end_mask(rollouts)
    targets = rollouts.correct.float()[:, None].expand(where.shape) * where
    return where, targets.float()


WEIGHTINGS = ("released", "balanced")
POSITIVE_FACTOR = 1.5
"""The released code's extra weight on positive (correct-outcome) steps."""


def agreement_mask(probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Bool, same shape: the prediction is strictly on the pseudo-label's side of 0.5 (a tie at
    exactly 0.5 agrees with neither class)."""
    return ((probs > 0.5) & (targets >= 0.5)) | ((probs < 0.5) & (targets < 0.5))


def sprm_weights(probs: torch.Tensor, targets: torch.Tensor, where: torch.Tensor, weighting: str = "released") -> torch.Tensor:
    """[same shape] float: 0 off ``where`` and where prediction and pseudo-label disagree; on the
    agreeing steps the class weights of ``weighting`` (module docstring)."""
    check(weighting in WEIGHTINGS, "weighting", f"one of {WEIGHTINGS}", weighting)
    contributing = where & agreement_mask(probs, targets)
    positive = contributing & (targets >= 0.5)
    negative = contributing & (targets < 0.5)
    n_pos, n_neg = int(positive.sum()), int(negative.sum())
    if weighting == "released":
        pos, neg = n_pos + 1, n_neg + 1
        return positive.float() * (POSITIVE_FACTOR * neg / (pos + neg)) + negative.float() * (pos / (pos + neg))
    weights = contributing.float()
    if n_pos and n_neg:
        total = n_pos + n_neg
        weights = positive.float() * (total / (2 * n_pos)) + negative.float() * (total / (2 * n_neg))
    return weights


def sprm_loss(
    logits: torch.Tensor, targets: torch.Tensor, where: torch.Tensor, weighting: str = "released"
) -> tuple[torch.Tensor, float]:
    """(weighted BCE over the contributing steps, their fraction of ``where``); 0 when none contributes."""
    weights = sprm_weights(torch.sigmoid(logits.detach().float()), targets, where, weighting)
    total = weights.sum()
    if total == 0:
        return logits.sum() * 0.0, 0.0
    bce = F.binary_cross_entropy_with_logits(logits.float(), targets, reduction="none")
    return (weights * bce).sum() / total, float((weights > 0).sum()) / max(int(where.sum()), 1)


def sprm_head_init(head: torch.nn.Linear, seed: int) -> None:
    """PyTorch's default ``nn.Linear`` initialisation (uniform in ±1/sqrt(fan_in)), drawn from a
    generator keyed by ``seed`` so that training stays deterministic."""
    gen = torch.Generator().manual_seed(row_key(seed, "sprm-head"))
    bound = 1.0 / head.in_features**0.5
    with torch.no_grad():
        head.weight.copy_(torch.empty(head.weight.shape).uniform_(-bound, bound, generator=gen))
        head.bias.copy_(torch.empty(head.bias.shape).uniform_(-bound, bound, generator=gen))
