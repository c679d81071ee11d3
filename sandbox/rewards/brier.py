"""Calibration reward (RLCR): correctness plus the Brier score of the stated confidence.

    R(y) = 1[correct] − (q − 1[correct])²        placed on the last response token

where q ∈ [0, 1] is the confidence the response states on its confidence line (``conf: 0.7``
after the answer line; tasks with ``confidence_line=True``). RLCR, "Beyond Binary Rewards:
Training LMs to Reason About Their Uncertainty" (Damani et al. 2025, arXiv 2507.16806). The
Brier term is a strictly proper scoring rule: for a response that is right with probability
p, E[R] = p − p(1 − q)² − (1 − p)q² is maximised exactly at q = p, so the policy is paid for
stating its true chance of being right, while the 1[correct] term keeps accuracy the first
objective (a right answer with any q earns ≥ 0, a wrong one ≤ 0). R lies in [−1, 1]: [0, 1]
when right, [−1, 0] when wrong.

Missing or unparseable confidence (no answer line, no confidence line, a malformed one, or
anything after it; ``toy_envs.parsing.parse_confidence``) is scored as the *worst* q for the
outcome, q = 1 − 1[correct]: R = 0 when right, −1 when wrong. Stating any confidence is thus
never worse than stating none, so the format cannot be gamed by omission. On a task without
``confidence_line`` no row states q, so R = 1[correct] − 1: the outcome reward shifted by −1
(the same GRPO advantages); train ``brier`` from a confidence-line warm start (``tiny-calib``).

Cut down from the paper: the response has no uncertainty-analysis section before q and there is
no separate format reward; the confidence is one line after the answer, and SFT demonstrations
state uniform-noise q, so everything q knows about correctness comes from RL.
"""

from __future__ import annotations

import torch

from sandbox.rewards.base import RewardContext, on_last_token
from sandbox.rollout.rollouts import Rollouts
from toy_envs.parsing import parse_confidence


def stated_confidences(texts) -> torch.Tensor:
    """[B] float32: each response's confidence q, NaN where it has none that parses."""
    values = [parse_confidence(text) for text in texts]
    return torch.tensor([float("nan") if q is None else q for q in values], dtype=torch.float32)


def brier_reward(correct: torch.Tensor, confidence: torch.Tensor) -> torch.Tensor:
    """[B] 1[correct] − (q − 1[correct])² in the dtype of ``confidence`` (float32 if it is not a
    float), with NaN confidence scored as q = 1 − 1[correct]."""
    q = confidence if confidence.is_floating_point() else confidence.float()
    c = correct.to(q.dtype)
    q = torch.where(torch.isnan(q), 1.0 - c, q)
    return c - (q - c) ** 2


def brier(rollouts: Rollouts, ctx: RewardContext) -> torch.Tensor:
    """[B, T] float32: the calibration reward on each row's last response token."""
    confidence = stated_confidences(rollouts.texts).to(rollouts.device)
    return on_last_token(rollouts, brier_reward(rollouts.correct, confidence))
