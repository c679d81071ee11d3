"""Dr.GRPO's outcome advantage: the group-centred reward, without dividing by the std.

    A_{i,t} = R_i − mean_g(R)      for every response token t of row i

with R_i = Σ_t r_{i,t}. "Understanding R1-Zero-Like Training: A Critical Perspective"
(Liu et al. 2025, arXiv 2503.20783): the std division up-weights too-easy and too-hard
questions. Its other fix, a constant length normaliser instead of 1/|y_i|, is the policy loss's
``seq-mean-token-sum-norm`` aggregation, not part of the advantage. A group of one row gets 0.
"""

from __future__ import annotations

import torch

from sandbox.rewards.base import sequence_rewards
from sandbox.rewards.groups import group_deviation


def dr_grpo(
    rewards: torch.Tensor, mask: torch.Tensor, group: torch.Tensor, step_ids: torch.Tensor
) -> torch.Tensor:
    """[B, T] float32 group-centred advantages on response tokens, 0 elsewhere."""
    advantage = group_deviation(sequence_rewards(rewards, mask), group)
    return (advantage[:, None] * mask).float()
