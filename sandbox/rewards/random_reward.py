"""Random reward: a spurious control that carries no information about the response.

    R(y_{p,i}) ~ Bernoulli(p)        independently per (seed, step, problem, rollout)

placed on the last response token. "Spurious Rewards: Rethinking Training Signals in RLVR"
(Shao et al. 2025, arXiv 2506.10947). The coin is u < p with u a keyed uniform
(``sandbox.rng``) of row_key(seed, "random_reward", step, problem_index, rollout_index): it is
the same for the same keys whatever the batch layout, and independent of the sampling noise,
which is keyed without the "random_reward" tag.
"""

from __future__ import annotations

import torch

from sandbox.rewards.base import RewardContext, on_last_token
from sandbox.rng import keyed_uniform, row_keys
from sandbox.rollout.rollouts import Rollouts
from toy_envs.base import check

TAG = "random_reward"


def random_reward(rollouts: Rollouts, ctx: RewardContext, p: float = 0.5) -> torch.Tensor:
    """[B, T] float32: 1 with probability ``p`` on each row's last response token."""
    check(0.0 <= p <= 1.0, "p", "a probability in [0, 1]", p)
    rows = [
        (TAG, ctx.step, problem, rollout)
        for problem, rollout in zip(rollouts.problem_index.tolist(), rollouts.rollout_index.tolist())
    ]
    u = keyed_uniform(row_keys(ctx.seed, rows), counter=0, n=1)[:, 0]
    return on_last_token(rollouts, (u < p).to(rollouts.device))
