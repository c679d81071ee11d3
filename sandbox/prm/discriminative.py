"""Discriminative process reward model: a step-score head on the tiny transformer.

    h = TinyLlama.hidden_states(<bos> prompt response)            [T, d]
    s_t = σ(w · h[e_t] + b)      e_t = the last token of step t (its newline; ``<eos>`` for the answer)
    L = − Σ_t [ y_t log s_t + (1 − y_t) log(1 − s_t) ] / #steps    (BCE on step labels y_t ∈ [0, 1])

The backbone starts from the policy's warm start (it already reads the task's lines), the head
from zeros (every step scores 0.5 before training). A trajectory's score aggregates its step
scores (``trajectory_score``: min, product, geometric mean, last). "Let's Verify Step by Step"
(Lightman et al. 2023, arXiv 2305.20050); labels from any labeller in ``labels`` (oracle,
Math-Shepherd MC, GenPRM RPE, StepWiser rules). The outcome reward model (``orm``) is the same
scorer trained on one label per solution.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch import nn

from sandbox.model.checkpoint import load_checkpoint, save_checkpoint
from sandbox.model.model import TinyLlama
from sandbox.prm.trajectory_score import trajectory_score
from sandbox.rollout.batching import evaluating
from sandbox.rollout.rollouts import step_ends
from sandbox.rollout.rollouts import Rollouts

SCORE_BATCH = 256


class StepScorer(nn.Module):
    """A TinyLlama backbone plus a linear head giving one logit per token."""

    def __init__(self, backbone: TinyLlama):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(backbone.cfg.d_model, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    @classmethod
    def from_model(cls, model: TinyLlama) -> StepScorer:
        """A scorer whose backbone is a copy of ``model`` (the policy is left untouched)."""
        return cls(copy.deepcopy(model))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """[B, T] logits (read them at step ends)."""
        return self.head(self.backbone.hidden_states(tokens)).squeeze(-1)


def step_end_mask(rollouts: Rollouts) -> torch.Tensor:
    """[B, T] bool: the last token of every step of every response (the k-th True of a row is step k)."""
    return step_ends(rollouts.response_mask, rollouts.step_ids)


@torch.no_grad()
def step_scores(scorer: StepScorer, rollouts: Rollouts) -> list[list[float]]:
    """σ(logit) at each step end of each row, in step order."""
    with evaluating(scorer):
        ends = step_end_mask(rollouts)
        out: list[list[float]] = []
        for lo in range(0, len(rollouts), SCORE_BATCH):
            rows = slice(lo, lo + SCORE_BATCH)
            probs = torch.sigmoid(scorer(rollouts.tokens[rows]).float())
            for p, e in zip(probs, ends[rows]):
                out.append(p[e].tolist())
    return out


def trajectory_scores(scorer: StepScorer, rollouts: Rollouts, how: str = "min") -> list[float]:
    """One score per row: its step scores aggregated by ``how``."""
    return [trajectory_score(s, how) for s in step_scores(scorer, rollouts)]


def prm_targets(rollouts: Rollouts, labels: list[list[float]]) -> tuple[torch.Tensor, torch.Tensor]:
    """(where [B, T] bool, targets [B, T] float): each step's label at that step's last token."""
    where = step_end_mask(rollouts)
    targets = torch.zeros(where.shape, dtype=torch.float32)
    for row, row_labels in enumerate(labels):
        positions = where[row].nonzero().flatten()
        if len(positions) != len(row_labels):
            raise ValueError(f"row {row}: {len(row_labels)} labels for {len(positions)} steps")
        targets[row, positions] = torch.tensor(row_labels, dtype=torch.float32)
    return where, targets


def save_scorer(path: str | Path, scorer: StepScorer, state: dict) -> Path:
    """A checkpoint directory: the backbone's weights, the head in ``state.json``."""
    head = {"weight": scorer.head.weight.detach().flatten().tolist(), "bias": float(scorer.head.bias.detach())}
    return save_checkpoint(path, scorer.backbone, {**state, "head": head})


def load_scorer(path: str | Path) -> tuple[StepScorer, dict]:
    """(scorer, state) saved by ``save_scorer``."""
    backbone, state = load_checkpoint(path)
    if "head" not in state:
        raise ValueError(f"{path} is a model checkpoint without a step-score head (not a PRM)")
    scorer = StepScorer(backbone)
    with torch.no_grad():
        scorer.head.weight.copy_(torch.tensor(state["head"]["weight"]).view_as(scorer.head.weight))
        scorer.head.bias.fill_(state["head"]["bias"])
    scorer.eval()
    return scorer, state
