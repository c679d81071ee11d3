"""PRIME's implicit process reward: token rewards from an online-trained implicit PRM.

An implicit PRM is a language model π_ψ read against a frozen reference π_ref. For response
token y_t of a row (mask m):

    r_t = β · log π_ψ(y_t | y_<t) / π_ref(y_t | y_<t)            on response tokens, 0 elsewhere
    L(ψ) = BCE( σ(β Σ_t m_t log π_ψ(y_t)/π_ref(y_t)),  1[correct] )  (mean over the draw's rows)

Trained only on outcome labels, the sequence-level log-ratio is an outcome reward model whose
per-token terms are process rewards for free ("Free Process Rewards without Process Labels",
Yuan et al. 2024, arXiv 2412.01981). PRIME trains ψ *online*: on every step's rollouts, ψ takes
its update first and then scores those same rollouts ("Process Reinforcement through Implicit
Rewards", Cui et al. 2025, arXiv 2502.01456, Algorithm 1). ψ and π_ref both start as copies of
the initial (warm-start) policy, so before the first update every r_t is 0.

Pieces: ``ImplicitPRM`` is an auxiliary model (``sandbox.rewards.auxiliary``): on each draw,
before its rewards, ``observe`` gives the trainer the BCE update to take (``updates`` losses on
the whole draw, one AdamW step each, taken by ``sandbox.train.auxiliary_updates``); the trainer
checkpoints ψ with that optimizer (π_ref is rebuilt from the initial policy: it never changes),
and the source ``prime_implicit`` reads the model from ``ctx.auxiliaries``.

The ``prime`` variant combines this with the verifier's outcome reward, as PRIME does:
r = 1[correct] on the last token + r_t on every response token, and the advantage is PRIME's
(``sandbox.rewards.prime_rloo``, the paper's eq. 5): leave-one-out baselines per reward kind --
the outcome minus the other rows' mean outcome, and each process token reward minus the other
rows' mean token reward -- summed into the return-to-go (γ = 1) and whitened over the batch.
Left out from the paper: no ψ warm-up on SFT data, no accuracy filter.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
import torch.nn.functional as F

from sandbox.model.checkpoint import load_checkpoint, save_checkpoint
from sandbox.model.model import token_logprobs
from sandbox.rewards.auxiliary import Update, auxiliary
from sandbox.rewards.base import RewardContext
from sandbox.rollout.rollouts import Rollouts
from toy_envs.base import check

SCORE_BATCH = 256


def implicit_token_rewards(psi_logp: torch.Tensor, ref_logp: torch.Tensor, mask: torch.Tensor, beta: float) -> torch.Tensor:
    """[B, T] float32 β (log π_ψ − log π_ref) on response tokens, 0 elsewhere."""
    return torch.where(mask, beta * (psi_logp.float() - ref_logp.float()), 0.0)


def implicit_outcome_logits(token_rewards: torch.Tensor) -> torch.Tensor:
    """[B] the implicit PRM's outcome logit: the row's summed token rewards."""
    return token_rewards.sum(-1)


class ImplicitPRM:
    """π_ψ (trained online) and π_ref (frozen), both copies of the initial policy."""

    def __init__(self, policy, task=None, seed: int = 0, beta: float = 0.05, lr: float = 1e-4, updates: int = 1):
        check(beta > 0, "beta", "> 0", beta)
        check(lr > 0, "lr", "> 0", lr)
        check(updates >= 0, "updates", "an integer >= 0", updates)
        self.beta, self.updates, self.lr = beta, updates, lr
        self.psi = copy.deepcopy(policy.module)
        self.reference = copy.deepcopy(policy.module).eval().requires_grad_(False)

    def param_groups(self) -> list[dict]:
        """The trainer's AdamW group: ψ at ``lr`` (π_ref never learns)."""
        return [{"params": self.psi.parameters(), "lr": self.lr}]

    def to(self, device) -> "ImplicitPRM":
        """Both models onto ``device`` (the trainer's); inputs and outputs stay where they are."""
        self.psi.to(device)
        self.reference.to(device)
        return self

    def token_rewards(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """[B, T] r_t (with gradient through ψ), on the device of ``tokens``."""
        device = next(self.psi.parameters()).device
        model_tokens = tokens.to(device)
        with torch.no_grad():
            ref_logp = token_logprobs(self.reference(model_tokens), model_tokens)
        psi_logp = token_logprobs(self.psi(model_tokens), model_tokens)
        return implicit_token_rewards(psi_logp, ref_logp, mask.to(device), self.beta).to(tokens.device)

    @torch.no_grad()
    def score(self, rollouts: Rollouts) -> torch.Tensor:
        """[B, T] r_t of every row (no gradient)."""
        self.psi.eval()
        parts = [
            self.token_rewards(rollouts.tokens[lo : lo + SCORE_BATCH], rollouts.response_mask[lo : lo + SCORE_BATCH])
            for lo in range(0, len(rollouts), SCORE_BATCH)
        ]
        return torch.cat(parts) if parts else torch.zeros(rollouts.tokens.shape)

    def loss(self, rollouts: Rollouts) -> torch.Tensor:
        """BCE of σ(β Σ_t log π_ψ/π_ref) against 1[correct], averaged over rows."""
        logits = implicit_outcome_logits(self.token_rewards(rollouts.tokens, rollouts.response_mask))
        return F.binary_cross_entropy_with_logits(logits, rollouts.correct.float())

    def observe(self, rollouts: Rollouts, ctx: RewardContext) -> Update:
        """PRIME's order: ψ learns from this draw's outcomes (``updates`` BCE steps, their mean
        ``prime/implicit_bce``), then the source scores the draw."""
        return Update(self.psi, (self.loss(rollouts) for _ in range(self.updates)), "prime/implicit_bce")

    def estimator_inputs(self, rollouts: Rollouts) -> dict[str, torch.Tensor]:
        return {}

    def learn(self, rollouts, rewards, advantages, inputs, step) -> None:
        """No update after the policy's."""

    def save(self, path: Path, optimizer: torch.optim.Optimizer) -> None:
        save_checkpoint(path, self.psi, {"beta": self.beta}, optimizer)

    def load(self, path: Path, optimizer: torch.optim.Optimizer) -> None:
        self.psi.load_state_dict(load_checkpoint(path, optimizer=optimizer)[0].state_dict())


def prime_implicit(rollouts: Rollouts, ctx: RewardContext, model: str = "implicit_prm") -> torch.Tensor:
    """[B, T] the implicit PRM's token rewards β log π_ψ/π_ref on every response token."""
    implicit = auxiliary(ctx, model)
    rewards = implicit.score(rollouts)
    ctx.metrics["prime/implicit_reward_sum"] = float(rewards.sum(-1).mean()) if len(rollouts) else 0.0
    return rewards.to(rollouts.device)
