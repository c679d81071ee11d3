"""GRPO with process supervision: normalised step rewards, summed from each token's step on.

For the rows of one group, let e range over all step ends (the last token of each step) and
r_e the reward there. Then

    r̃_e     = (r_e − mean(r)) / (std(r) + eps)              over the group's step ends
    A_{i,t} = Σ_{e in row i, pos(e) ≥ t} r̃_e                   on response tokens

with std unbiased; a group with fewer than two step ends gets r̃ = 0. "DeepSeekMath: Pushing the
Limits of Mathematical Reasoning in Open Language Models" (Shao et al. 2024, arXiv 2402.03300),
section 4.1.3. A step end is a response token with step id ≥ 0 whose next token is not in the
same step (a new step, padding, or the row's end), and every row's last response token, which
ends the answer step -- or the failed answer step of a response without one, e.g. an empty
response, whose only token has step id −1 (``sandbox.rewards.prm_reward``): its reward, 0 for a
failed step, enters the group's statistics instead of leaving the row at advantage 0. Rewards
anywhere else are ignored, so step rewards belong on step ends and an outcome reward on the last
token.
"""

from __future__ import annotations

import torch

from sandbox.rewards.groups import group_deviation, group_std
from sandbox.rollout.rollouts import step_ends


def scored_ends(mask: torch.Tensor, step_ids: torch.Tensor) -> torch.Tensor:
    """[B, T] bool: step ends and every row's last response token (see the module docstring)."""
    next_in_response = torch.nn.functional.pad(mask[:, 1:], (0, 1), value=False)
    return step_ends(mask, step_ids) | (mask & ~next_in_response)


def normalised_step_rewards(
    rewards: torch.Tensor, ends: torch.Tensor, group: torch.Tensor, eps: float
) -> torch.Tensor:
    """[B, T] float64 r̃ at step ends (z-scored over each group's step ends), 0 elsewhere."""
    rows, cols = ends.nonzero(as_tuple=True)
    values = rewards[rows, cols].double()
    end_group = group[rows]
    z = group_deviation(values, end_group) / (group_std(values, end_group) + eps)
    out = torch.zeros(rewards.shape, dtype=torch.float64, device=rewards.device)
    out[rows, cols] = z
    return out


def process_grpo(
    rewards: torch.Tensor, mask: torch.Tensor, group: torch.Tensor, step_ids: torch.Tensor, eps: float = 1e-6
) -> torch.Tensor:
    """[B, T] float32 process-supervised advantages on response tokens, 0 elsewhere."""
    normalised = normalised_step_rewards(rewards, scored_ends(mask, step_ids), group, eps)
    to_go = normalised.flip(1).cumsum(1).flip(1)
    return (to_go * mask).float()
