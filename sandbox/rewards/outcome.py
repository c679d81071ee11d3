"""Outcome reward: did the final answer come out right.

    R(y) = 1[answer(y) = gold]        placed on the last response token

The verifiable reward of RLVR as used by DeepSeekMath / DeepSeek-R1 ("DeepSeekMath: Pushing
the Limits of Mathematical Reasoning in Open Language Models", Shao et al. 2024,
arXiv 2402.03300). Correctness is the task's verdict, judged on the answer line alone: a
response with no answer line or an unparseable one gets 0; one with a malformed step line but
the right answer still gets 1 (that is what an outcome reward cannot see). A truncated row is
scored like any other.
"""

from __future__ import annotations

import torch

from sandbox.rewards.base import RewardContext, on_last_token
from sandbox.rollout.rollouts import Rollouts


def outcome(rollouts: Rollouts, ctx: RewardContext) -> torch.Tensor:
    """[B, T] float32: 1[verdict.correct] on each row's last response token."""
    return on_last_token(rollouts, rollouts.correct)
