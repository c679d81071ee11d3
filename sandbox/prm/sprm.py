"""Self-supervised process reward model (SPRM): step scores learned from the final outcome only.

The scorer is the discriminative PRM's (``StepScorer``: the tiny transformer plus a linear head
read at each step's last token e_t). No step label is used: every step of solution i takes the
solution's outcome as its pseudo-label, and a step only teaches the head where the head's
current prediction already agrees with that pseudo-label:

    y_{i,t}  = c_i = 1[solution i is correct]                        (every step t)
    s_{i,t}  = σ(w · h[e_t] + b)
    agree    = (s_{i,t} > 0.5 and y = 1) or (s_{i,t} < 0.5 and y = 0) or s_{i,t} = 0.5
    w_{i,t}  = 1[agree] · n / (2 · n_y)      n = agreeing steps of the batch, n_y = those of class y
    L        = Σ w_{i,t} BCE(s_{i,t}, y_{i,t}) / Σ w_{i,t}
    score_i  = (Π_t s_{i,t})^(1/n_i)                                 (geometric mean over steps)

A correct solution's steps are probably all right; a wrong solution's are not all wrong, and the
agreement filter keeps the head from being pushed towards "bad" on the steps it already reads as
good (and vice versa), so the labels it trusts sharpen as it learns. The class weights give
each pseudo-class the same total weight in the loss (a batch whose agreeing steps are of one
class only keeps weight 1 on them). "Test-Time Scaling with Reflective Generative Model"
(MetaStone-S1; Wang et al. 2025, arXiv 2507.01951), section 3 ("self-supervised process reward
model", the SPR loss).

Cut down from the paper: the head is a single linear layer on a *copy* of the policy's backbone
(the paper shares the policy's backbone and uses two linear layers with dropout, trained jointly
with the policy), and it is trained offline on policy samples like the other PRMs here so that
it is evaluated on the same toy ProcessBench. A prediction of exactly 0.5 (the zero-initialised
head before its first update) counts as agreeing with both classes, so the first batch trains
on every step (otherwise nothing would ever agree with the side the tie falls on).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from sandbox.prm.discriminative import step_end_mask
from sandbox.rollout.rollouts import Rollouts


def sprm_targets(rollouts: Rollouts) -> tuple[torch.Tensor, torch.Tensor]:
    """(where [B, T] bool, targets [B, T] float): the row's outcome 1[correct] at every step end."""
    where = step_end_mask(rollouts)
    targets = rollouts.correct.float()[:, None].expand(where.shape) * where
    return where, targets.float()


def agreement_mask(probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Bool, same shape: the prediction is on the pseudo-label's side of 0.5 (or exactly 0.5)."""
    positive, negative = probs > 0.5, probs < 0.5
    return ~((positive & (targets < 0.5)) | (negative & (targets >= 0.5)))


def sprm_weights(probs: torch.Tensor, targets: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    """[same shape] float: 0 off ``where`` and where prediction and pseudo-label disagree; on the
    agreeing steps, n / (2 n_y) so that both pseudo-classes carry the same total weight."""
    contributing = where & agreement_mask(probs, targets)
    positive = contributing & (targets >= 0.5)
    negative = contributing & (targets < 0.5)
    n_pos, n_neg = int(positive.sum()), int(negative.sum())
    weights = contributing.float()
    if n_pos and n_neg:
        total = n_pos + n_neg
        weights = positive.float() * (total / (2 * n_pos)) + negative.float() * (total / (2 * n_neg))
    return weights


def sprm_loss(logits: torch.Tensor, targets: torch.Tensor, where: torch.Tensor) -> tuple[torch.Tensor, float]:
    """(weighted BCE over the contributing steps, their fraction of ``where``); 0 when none contributes."""
    weights = sprm_weights(torch.sigmoid(logits.detach().float()), targets, where)
    total = weights.sum()
    if total == 0:
        return logits.sum() * 0.0, 0.0
    bce = F.binary_cross_entropy_with_logits(logits.float(), targets, reduction="none")
    return (weights * bce).sum() / total, float((weights > 0).sum()) / max(int(where.sum()), 1)
