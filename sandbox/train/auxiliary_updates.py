"""The trainer's side of the auxiliary models (a critic, an implicit PRM): their optimizers and the updates they ask for.

    optimizer    AdamW(model.param_groups(), weight_decay=0), one per model, made with the models
    observe      each draw, before its rewards: take model.observe(...)'s update (PRIME's BCE);
                 its mean loss goes to ctx.metrics, beside the reward sources' metrics
    learn        after the policy's update: take model.learn(...)'s update (the critic's value loss)
    take         module in train mode; for each loss: toolkit.optimizer_step (clip, AdamW step);
                 module back in eval mode; the mean loss and the model's own metrics
    checkpoint   each model with its optimizer state (``companions``), so resume is exact

Why here and not in the models: a reward piece never trains a model itself. The models live on
the reward floor (``sandbox.rewards.value_head``, ``sandbox.rewards.prime``: the estimator reads
the critic's values, a source reads the implicit PRM's rewards) and say what to learn -- their
losses, lazily, one per step; the trainer owns the optimizers and steps them with the one
optimizer step every training loop takes. The numbers are those of the models' former own loops
(same losses, same order, same ``optimizer_step``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from sandbox.rewards.auxiliary import Update
from sandbox.rewards.base import RewardContext
from sandbox.rollout.rollouts import Rollouts
from sandbox.train.toolkit import optimizer_step


def take_update(update: Update | None, optimizer: torch.optim.Optimizer) -> dict[str, float]:
    """Take ``update`` (see the module docstring); its metrics ({} for ``None``)."""
    if update is None:
        return {}
    update.module.train()
    losses = []
    for loss in update.losses:
        optimizer_step(optimizer, loss, update.module.parameters(), update.max_norm)
        losses.append(loss.item())
    update.module.eval()
    return ({update.metric: sum(losses) / len(losses)} if losses else {}) | update.metrics


def auxiliary_optimizer(model) -> torch.optim.AdamW:
    """The AdamW of an auxiliary model: its parameter groups and learning rates, no weight decay."""
    return torch.optim.AdamW(model.param_groups(), weight_decay=0.0)


@dataclass
class AuxiliaryCompanion:
    """An auxiliary model and its optimizer as one checkpoint companion (``RunDir.save_checkpoint``)."""

    model: object
    optimizer: torch.optim.Optimizer

    def save(self, path: Path) -> None:
        self.model.save(path, self.optimizer)

    def load(self, path: Path) -> None:
        self.model.load(path, self.optimizer)


class AuxiliaryUpdates:
    """A run's auxiliary models (name -> model, ``Variant.auxiliaries``) and their optimizers."""

    def __init__(self, models: dict):
        self.models = models
        self.optimizers = {name: auxiliary_optimizer(model) for name, model in models.items()}

    def observe(self, rollouts: Rollouts, ctx: RewardContext) -> None:
        """Each model's update on a draw, before its rewards (in declaration order)."""
        for name, model in self.models.items():
            ctx.metrics.update(take_update(model.observe(rollouts, ctx), self.optimizers[name]))

    def learn(self, rollouts: Rollouts, rewards: torch.Tensor, advantages: torch.Tensor, inputs: dict, step: int) -> dict:
        """Each model's update after the policy's; their metrics."""
        metrics = {}
        for name, model in self.models.items():
            metrics.update(take_update(model.learn(rollouts, rewards, advantages, inputs, step), self.optimizers[name]))
        return metrics

    def companions(self) -> dict[str, AuxiliaryCompanion]:
        """What a checkpoint holds of them, by directory name."""
        return {f"auxiliary-{name}": AuxiliaryCompanion(model, self.optimizers[name]) for name, model in self.models.items()}
