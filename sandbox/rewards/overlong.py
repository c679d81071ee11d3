"""DAPO's soft overlong punishment: a length penalty that ramps in over the last L_cache tokens.

With L_max the response budget and |y| the response length in tokens (``<eos>`` included):

    R(y) = 0                                   |y| ≤ L_max − L_cache
    R(y) = ((L_max − L_cache) − |y|) / L_cache  L_max − L_cache < |y| ≤ L_max
    R(y) = −1                                  L_max < |y|

placed on the last response token and added to the outcome reward. "DAPO: An Open-Source LLM
Reinforcement Learning System at Scale" (Yu et al. 2025, arXiv 2503.14476), section 3.4.
L_max is ``ctx.max_new_tokens``; L_cache defaults to max(1, L_max // 5).

DAPO's proportions, and how the sandbox keeps them: DAPO generates up to 20,480 tokens of which
the last 4,096 are the soft-punishment cache, so L_cache = L_max / 5 (the default here, rounded
down). Its outcome reward is ±1 (a span of 2), while the sandbox's ``outcome`` is 1[correct] (a
span of 1): the ``dapo`` variant therefore weights this source 0.5, so that a penalty of −1 is half
the outcome's span, as in DAPO. This source alone still returns DAPO's unscaled R(y) in [−1, 0].
Remaining departure: a budget that is not a multiple of 5 rounds L_cache down.
"""

from __future__ import annotations

import torch

from sandbox.rewards.base import RewardContext, on_last_token
from sandbox.rollout.rollouts import Rollouts
from toy_envs.base import check, is_int


def soft_overlong_penalty(lengths: torch.Tensor, max_len: int, cache_len: int) -> torch.Tensor:
    """The piecewise penalty above for each length, float32 in [−1, 0]."""
    free = max_len - cache_len
    ramp = (free - lengths.float()) / cache_len
    return torch.where(lengths <= free, torch.zeros_like(ramp), ramp.clamp(min=-1.0))


def overlong(rollouts: Rollouts, ctx: RewardContext, cache_len: int | None = None) -> torch.Tensor:
    """[B, T] float32: the soft overlong penalty of each row on its last response token."""
    max_len = ctx.max_new_tokens
    cache_len = max(1, max_len // 5) if cache_len is None else cache_len
    check(is_int(cache_len) and 1 <= cache_len <= max_len, "cache_len", f"an integer in [1, {max_len}]", cache_len)
    return on_last_token(rollouts, soft_overlong_penalty(rollouts.response_lens, max_len, cache_len))
