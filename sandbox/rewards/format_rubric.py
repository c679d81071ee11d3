"""Format reward: the task's categorical format checks, blind to correctness.

    R(y) = (1/K) Σ_k 1[check_k(y)]          (default, the rubric's score)
    R(y) = Π_k 1[check_k(y)]                (binary=True: every check passes)

placed on the last response token. The checks are the task's ``format_rubric`` (every step
line parses, nothing follows the answer line, a parseable answer line is present). Used alone
with ``binary=True`` it is the "format-only" spurious reward of "Spurious Rewards: Rethinking
Training Signals in RLVR" (Shao et al. 2025, arXiv 2506.10947).
"""

from __future__ import annotations

import torch

from sandbox.rewards.base import RewardContext, on_last_token
from sandbox.rollout.rollouts import Rollouts


def rubric_value(rubric, binary: bool) -> float:
    """The rubric's mean score, or 1.0 iff it is perfect when ``binary``."""
    if binary:
        return float(rubric.score == 1.0)
    return float(rubric.score)


def format_rubric(rollouts: Rollouts, ctx: RewardContext, binary: bool = False) -> torch.Tensor:
    """[B, T] float32: each row's format score on its last response token."""
    values = [rubric_value(ctx.task.format_rubric(text), binary) for text in rollouts.texts]
    return on_last_token(rollouts, torch.tensor(values, device=rollouts.device))
