"""White-box self-evaluation reward (Post-Completion Learning): the predicted reward scored against the real one.

"Post-Completion Learning for Language Models" (Fei et al. 2025, arXiv 2507.20252). After its
answer the response continues past a marker with an evaluation of itself by the task's reward
rules and the reward it predicts (``toy_envs.post_completion``: ``~``, then per step line its
recomputed result and ``v``/``x``, then ``=r̂``). Inference stops at the marker; training scores
what follows it. The paper's
"white-box" RL rewards the model for computing its own reward right:

    R_eval = 1 − |r̂ − r|,    r = 1[correct] (the verifier's reward),  r̂ ∈ {0, 1} the predicted one
    R_eval = 0               when the response has no evaluation that parses

placed on the row's last response token; the variant ``pcl`` adds it to the outcome reward,
R = 1[correct] + λ·R_eval (GRPO on the total). A wrong response that says so (r̂ = 0) thus earns
λ more than one that claims to be right, and a right one that doubts itself λ less than one
that does not.

Cut down from the paper: its evaluation is free text written by a teacher model (format, the
extracted and the gold answer, each reward function's value) and its RL adds the reward
functions' values to the consistency term in the same way; here the evaluation is, in a fixed
grammar, each step line recomputed with the oracle's verdict on it, and the reward. The paper's RL also mixes in
the two SFT tracks (reasoning on the gold solution, evaluation on the policy's own samples, each
weighted 0.1 in its code); here both tracks are the warm start's (``tiny-pcl``,
``sandbox.train.pcl_warmstart``) and RL trains on the rewards alone.
"""

from __future__ import annotations

import torch

from sandbox.rewards.base import RewardContext, on_last_token
from sandbox.rollout.rollouts import Rollouts
from toy_envs.post_completion import parse_evaluation


def predicted_rewards(texts) -> torch.Tensor:
    """[B] float32: each response's predicted reward r̂ ∈ {0, 1}, NaN where it writes no evaluation
    that parses."""
    evaluations = [parse_evaluation(text) for text in texts]
    return torch.tensor([float("nan") if e is None else float(e.predicted_reward) for e in evaluations], dtype=torch.float32)


def consistency_reward(correct: torch.Tensor, predicted: torch.Tensor) -> torch.Tensor:
    """[B] 1 − |r̂ − 1[correct]|, and 0 where r̂ is NaN (no evaluation)."""
    r = correct.to(predicted.dtype)
    return torch.where(torch.isnan(predicted), torch.zeros_like(r), 1.0 - (predicted - r).abs())


def self_evaluation(rollouts: Rollouts, ctx: RewardContext) -> torch.Tensor:
    """[B, T] float32: the consistency reward on each row's last response token."""
    predicted = predicted_rewards(rollouts.texts).to(rollouts.device)
    return on_last_token(rollouts, consistency_reward(rollouts.correct, predicted))
