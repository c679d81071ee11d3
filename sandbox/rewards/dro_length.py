"""DRO's length term: keep the rollout's answer about as long as the reference answer.

    r_len = 1 − β · | |y| − |ŷ| | / |y|

with y the reference answer line (the gold solution's) and ŷ the rollout's own answer line
(the response from its answer line on; empty when there is none), lengths in characters (one
character = one token with the sandbox's tokenizer). r_len is 1 for a length match and falls
linearly with the relative mismatch; it is not clipped, so an answer more than 1/β times the
reference length away scores below 0. It sits on the row's last response token. It reads no
verdict: R3 rewards the reasoning through the reference's likelihood and never looks at the
rollout's own answer, so this optional term is what constrains that answer's form.

"Direct Reasoning Optimization: LLMs Can Reward And Refine Their Own Reasoning for Open-Ended
Tasks" (Xu, Chakraborty, Sharma, Nunes, Kıcıman, Lu, Chandra, 2025, arXiv 2506.13351).
"""

from __future__ import annotations

import torch

from sandbox.rewards.answer_line import answer_line_start
from sandbox.rewards.base import RewardContext, on_last_token
from sandbox.rewards.dro_r3 import reference_answer
from sandbox.rollout.rollouts import Rollouts
from toy_envs.base import check


def length_reward(reference_len: int, answer_len: int, beta: float) -> float:
    """1 − β·|ref − ans|/ref."""
    return 1.0 - beta * abs(reference_len - answer_len) / reference_len


def dro_length(rollouts: Rollouts, ctx: RewardContext, beta: float = 0.5) -> torch.Tensor:
    """[B, T] float32: r_len of each row on its last response token."""
    check(beta >= 0, "beta", ">= 0", beta)
    values = [
        length_reward(len(reference_answer(ctx.task, problem)), len(text) - answer_line_start(ctx.task, text), beta)
        for problem, text in zip(rollouts.problems, rollouts.texts)
    ]
    return on_last_token(rollouts, torch.tensor(values, device=rollouts.device))
