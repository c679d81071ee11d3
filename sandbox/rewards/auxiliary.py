"""Auxiliary models: learned models a variant trains beside the policy (a critic, an implicit PRM).

A variant names them in ``Variant.auxiliaries`` as (name, params); ``AUXILIARIES[name]`` in the
registry builds one from the initial policy. The trainer drives every auxiliary model the same
way, never knowing what it is:

    build        factory(policy, task, seed, **params)        once, from the initial policy
    optimizer    AdamW(aux.param_groups(), weight_decay=0)    the trainer's, one per model
    observe      aux.observe(rollouts, ctx) -> Update | None  each sampled draw, before its rewards
                                                              (PRIME's implicit PRM learns here)
    inputs       aux.estimator_inputs(rollouts) -> dict       on the kept rows, before the estimator;
                                                              passed to it as keyword arguments
                                                              (the critic's values V_t)
    learn        aux.learn(rollouts, rewards, advantages, inputs, step) -> Update | None
                                                              after the policy update (the value loss)
    checkpoint   aux.save(dir, optimizer) / aux.load(dir, optimizer)   weights and optimizer state,
                                                              so resume is exact

A model never steps an optimizer itself: ``observe`` and ``learn`` describe the update to take
(``Update``: its losses, one optimizer step each), and the trainer takes it
(``sandbox.train.auxiliary_updates``) with the toolkit's ``optimizer_step``, as every training
loop does. Reward sources reach the models as ``ctx.auxiliaries[name]``; an update's mean loss
goes to ``ctx.metrics`` (observe) or the step's metrics (learn). Auxiliary models are trained on
this process's rows only, so the trainer refuses them under data parallelism.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import torch

from sandbox.rewards.base import RewardContext
from sandbox.rollout.rollouts import Rollouts


@dataclass
class Update:
    """An update an auxiliary model asks the trainer to take: one clipped optimizer step per loss
    of ``losses``, in order (each loss is computed after the previous step), with ``module`` in
    train mode; then ``module`` is back in eval mode."""

    module: torch.nn.Module
    """What learns: its parameters are clipped and stepped, its mode switched."""
    losses: Iterator[torch.Tensor]
    """The losses, produced lazily: the next one reads the weights the previous step left."""
    metric: str
    """Name of the mean loss in the metrics (absent when ``losses`` is empty)."""
    metrics: dict[str, float] = field(default_factory=dict)
    """What the model measured besides the losses (before the update)."""
    max_norm: float = 1.0
    """The gradient clip."""


class AuxiliaryModel(Protocol):
    def param_groups(self) -> list[dict]: ...

    def observe(self, rollouts: Rollouts, ctx: RewardContext) -> Update | None: ...

    def estimator_inputs(self, rollouts: Rollouts) -> dict[str, torch.Tensor]: ...

    def learn(
        self, rollouts: Rollouts, rewards: torch.Tensor, advantages: torch.Tensor, inputs: dict, step: int
    ) -> Update | None: ...

    def save(self, path: Path, optimizer: torch.optim.Optimizer) -> None: ...

    def load(self, path: Path, optimizer: torch.optim.Optimizer) -> None: ...


def auxiliary(ctx: RewardContext, name: str):
    """The auxiliary model ``name`` the trainer put in ``ctx``; a clear error when it is missing."""
    models = ctx.auxiliaries
    if name not in models:
        raise ValueError(
            f"this reward source reads the auxiliary model {name!r}, which the variant does not declare "
            f"(Variant.auxiliaries) or the caller did not put in RewardContext.auxiliaries (has {sorted(models)})"
        )
    return models[name]
