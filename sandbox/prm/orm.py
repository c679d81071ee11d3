"""Outcome reward model (ORM): the baseline every PRM is compared with.

    s = σ(w · h[last response token] + b),   L = − [ c log s + (1 − c) log(1 − s) ],   c = 1[correct]

One label per solution, its final correctness, on the last response token ("Training Verifiers
to Solve Math Word Problems", Cobbe et al. 2021, arXiv 2110.14168). It is the same
``StepScorer`` as the discriminative PRM; read at every step end it gives, for each prefix, the
predicted chance that the finished solution is right, which is how it is used as a step scorer
on the toy ProcessBench.
"""

from __future__ import annotations

import torch

from sandbox.rollout.rollouts import Rollouts


def orm_targets(rollouts: Rollouts) -> tuple[torch.Tensor, torch.Tensor]:
    """(where [B, T] bool, targets [B, T] float): 1[correct] at each row's last response token."""
    where = torch.zeros(rollouts.tokens.shape, dtype=torch.bool)
    targets = torch.zeros(rollouts.tokens.shape, dtype=torch.float32)
    rows = torch.arange(len(rollouts))
    where[rows, rollouts.last_token] = True
    targets[rows, rollouts.last_token] = rollouts.correct.float()
    return where, targets
