"""PPO's critic: a value head on a copy of the policy's backbone, trained with a value loss.

    V_t = w · h[t − 1] + b        the value of the state in which response token t is emitted
                                  (h: the critic backbone's hidden states of the prefix before t)
    L_V = Σ_t m_t (V_t − R_t)² / Σ_t m_t,   R_t = Â_t + V_t^old      (the λ-returns of GAE)

The backbone starts as a copy of the initial policy (it already reads the task), the head at
zero (V ≡ 0 before the first update). Before the estimator runs, the critic gives V^old on the
kept rows (``estimator_inputs`` → ``values``); after the policy's update it asks the trainer to
regress V on the λ-returns for ``epochs`` passes of ``minibatches`` keyed-shuffled minibatches
(``learn`` returns the losses as an ``Update``; the trainer's AdamW steps them, the head with its
own larger learning rate, gradient norm clipped at 1: ``sandbox.train.auxiliary_updates``). "Proximal Policy Optimization
Algorithms" (Schulman et al. 2017, arXiv 1707.06347), the value term of its objective (eq. 9),
trained as a separate model as in RLHF-style PPO; the advantages are GAE's
(``sandbox.rewards.gae``, Schulman et al. 2016, arXiv 1506.02438). Â is GAE before whitening: the
critic recomputes it from the rewards and V^old with its own γ, λ (``gamma``, ``lam``, which the
variant sets to the estimator's), since the policy's advantages are whitened over the batch.

Cut down: no value clipping, no shared backbone with the policy (a separate critic, as in
verl/OpenRLHF), values read for response tokens only.
"""

from __future__ import annotations

from pathlib import Path

import torch

from sandbox.model.checkpoint import load_checkpoint, save_checkpoint
from sandbox.prm.discriminative import StepScorer
from sandbox.rewards.auxiliary import Update
from sandbox.rewards.base import RewardContext
from sandbox.rewards.gae import gae, value_targets
from sandbox.rng import keyed_minibatches
from sandbox.rollout.rollouts import Rollouts
from toy_envs.base import check


def shift_right(per_position: torch.Tensor) -> torch.Tensor:
    """[B, T]: position t holds ``per_position[:, t − 1]`` (0 at t = 0): a head read at the prefix
    before token t gives the value of the state that emits token t."""
    return torch.nn.functional.pad(per_position[:, :-1], (1, 0))


class ValueHead:
    """The critic as an auxiliary model (``sandbox.rewards.auxiliary``)."""

    def __init__(
        self, policy, task=None, seed: int = 0, lr: float = 1e-4, head_lr: float = 1e-2, epochs: int = 1, minibatches: int = 2,
        gamma: float = 1.0, lam: float = 0.95,
    ):
        check(lr > 0 and head_lr > 0, "lr", "> 0 (critic learning rates)", (lr, head_lr))
        check(0 <= gamma <= 1 and 0 <= lam <= 1, "gamma/lam", "in [0, 1] (the critic's λ-return)", (gamma, lam))
        self.gamma, self.lam = gamma, lam
        check(epochs >= 1 and minibatches >= 1, "epochs", "integers >= 1 (critic epochs and minibatches)", (epochs, minibatches))
        self.scorer = StepScorer.from_model(policy.module)
        self.seed, self.epochs, self.minibatches, self.lr, self.head_lr = seed, epochs, minibatches, lr, head_lr

    def param_groups(self) -> list[dict]:
        """The trainer's AdamW groups: the backbone at ``lr``, the head at its own ``head_lr``."""
        return [{"params": self.scorer.backbone.parameters(), "lr": self.lr}, {"params": self.scorer.head.parameters(), "lr": self.head_lr}]

    def to(self, device) -> "ValueHead":
        """The critic onto ``device`` (the trainer's); inputs and outputs stay where they are."""
        self.scorer.to(device)
        return self

    def values(self, tokens: torch.Tensor) -> torch.Tensor:
        """[B, T] float V_t (with gradient), on the device of ``tokens``."""
        device = self.scorer.head.weight.device
        return shift_right(self.scorer(tokens.to(device)).float()).to(tokens.device)

    def observe(self, rollouts: Rollouts, ctx: RewardContext) -> None:
        """The critic does not touch rewards: no update here."""

    @torch.no_grad()
    def estimator_inputs(self, rollouts: Rollouts) -> dict[str, torch.Tensor]:
        self.scorer.eval()
        values = self.values(rollouts.tokens) * rollouts.response_mask
        return {"values": values}

    def learn(self, rollouts: Rollouts, rewards: torch.Tensor, advantages: torch.Tensor, inputs: dict, step: int) -> Update:
        """The regression of V on the λ-returns Â + V^old (Â: GAE before whitening, recomputed from
        ``rewards``): the value loss of each keyed minibatch of each epoch (``critic/value_loss``,
        their mean), and |V^old − R| measured before it."""
        mask = rollouts.response_mask
        raw = gae(rewards, mask, rollouts.group, rollouts.step_ids, values=inputs["values"], gamma=self.gamma, lam=self.lam, whiten=False)
        targets = value_targets(raw, inputs["values"], mask)
        explained = ((inputs["values"] - targets).abs() * mask).sum() / mask.sum().clamp(min=1)
        return Update(self.scorer, self.value_losses(rollouts, targets, step), "critic/value_loss",
                      {"critic/abs_error_before": float(explained)})

    def value_losses(self, rollouts: Rollouts, targets: torch.Tensor, step: int):
        """L_V of each minibatch, rows keyed by (seed, "critic", step, epoch); each computed when
        the trainer asks for it, after its step on the previous one."""
        mask = rollouts.response_mask
        for epoch in range(self.epochs):
            for rows in keyed_minibatches(len(rollouts), self.minibatches, (self.seed, "critic", step, epoch)):
                m = mask[rows].float()
                error = (self.values(rollouts.tokens[rows]) - targets[rows]) * m
                yield error.pow(2).sum() / m.sum().clamp(min=1)

    def save(self, path: Path, optimizer: torch.optim.Optimizer) -> None:
        head = {"weight": self.scorer.head.weight.detach().flatten().tolist(), "bias": float(self.scorer.head.bias.detach())}
        save_checkpoint(path, self.scorer.backbone, {"head": head}, optimizer)

    def load(self, path: Path, optimizer: torch.optim.Optimizer) -> None:
        backbone, state = load_checkpoint(path, optimizer=optimizer)
        self.scorer.backbone.load_state_dict(backbone.state_dict())
        with torch.no_grad():
            self.scorer.head.weight.copy_(torch.tensor(state["head"]["weight"]).view_as(self.scorer.head.weight))
            self.scorer.head.bias.fill_(state["head"]["bias"])
