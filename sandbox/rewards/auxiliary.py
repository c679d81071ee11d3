"""Auxiliary models: learned models a variant trains beside the policy (a critic, an implicit PRM).

A variant names them in ``Variant.auxiliaries`` as (name, params); ``AUXILIARIES[name]`` in the
registry builds one from the initial policy. The trainer drives every auxiliary model the same
way, never knowing what it is:

    build        factory(policy, task, seed, **params)        once, from the initial policy
    observe      aux.observe(rollouts, ctx)                   each sampled draw, before its rewards
                                                              (PRIME updates its implicit PRM here)
    inputs       aux.estimator_inputs(rollouts) -> dict       on the kept rows, before the estimator;
                                                              passed to it as keyword arguments
                                                              (the critic's values V_t)
    learn        aux.learn(rollouts, rewards, advantages, inputs, step) -> metrics
                                                              after the policy update (the value loss)
    checkpoint   aux.save(dir) / aux.load(dir)                weights and optimizer state, so resume is exact

Reward sources reach the models as ``ctx.auxiliaries[name]``; metrics go to ``ctx.metrics``
(observe) or are returned (learn). Auxiliary models are trained on
this process's rows only, so the trainer refuses them under data parallelism.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import torch

from sandbox.rewards.base import RewardContext
from sandbox.rollout.rollouts import Rollouts


class AuxiliaryModel(Protocol):
    def observe(self, rollouts: Rollouts, ctx: RewardContext) -> None: ...

    def estimator_inputs(self, rollouts: Rollouts) -> dict[str, torch.Tensor]: ...

    def learn(
        self, rollouts: Rollouts, rewards: torch.Tensor, advantages: torch.Tensor, inputs: dict, step: int
    ) -> dict[str, float]: ...

    def save(self, path: Path) -> None: ...

    def load(self, path: Path) -> None: ...


def auxiliary(ctx: RewardContext, name: str):
    """The auxiliary model ``name`` the trainer put in ``ctx``; a clear error when it is missing."""
    models = ctx.auxiliaries
    if name not in models:
        raise ValueError(
            f"this reward source reads the auxiliary model {name!r}, which the variant does not declare "
            f"(Variant.auxiliaries) or the caller did not put in RewardContext.auxiliaries (has {sorted(models)})"
        )
    return models[name]
