"""Step-wise expert reward: how closely the written action matches the expert's next step.

    R(a) = 2·M(a, s_k) / (|a| + |s_k|)    if a is one well-formed line
    R(a) = −1                             otherwise                     placed on the last token

with a the row's response, the action it wrote at an expert state (``sample_expert_steps``), s_k
the expert's line there (a step line, or the answer line after the last step) (``ExpertStep(task, seed, step).expert``: the state is keyed by the run's
seed, the RL step and the problem, as the sampler keys it), both without their newline, and
M the characters in the matching blocks Python's ``difflib.SequenceMatcher`` finds (no junk
heuristic): the sequence-similarity reward of Supervised Reinforcement Learning (SRL, Deng et al.
2025, "Supervised Reinforcement Learning: From Expert Trajectories to Step-wise Reasoning",
arXiv 2510.25992, section 3), whose −1 is its format penalty. Well-formed: the task's segmentation
reads the text as exactly one line, a step or an answer line, that parses and ends with a newline
(which kind is not checked: an answer where a step is due earns its similarity, low as it is). The reward needs no
verifier and no correct rollout: a near-miss ("297+2=298" for "297+2=299") still earns 8/9, so
groups of wrong actions carry signal. R = 1 iff a equals s_k.

Logged (``ctx.metrics``): ``srl/similarity`` (mean R over well-formed actions), ``srl/format_ok``,
``srl/exact`` (a = s_k), and ``srl/valid_action``, the oracle's diagnostic that is not part of the
reward: the action is a valid line after the given ones (the last ``step_valid`` of
``ExpertStep.score``; for an answer line, the right answer).
"""

from __future__ import annotations

import difflib

import torch

from sandbox.rewards.base import RewardContext, on_last_token
from sandbox.rollout.rollouts import Rollouts
from toy_envs.expert_step import ExpertStep


def similarity(action: str, expert: str) -> float:
    """2M / T of the two strings (``difflib.SequenceMatcher.ratio``, no junk heuristic); 1.0 for two empty strings."""
    return difflib.SequenceMatcher(None, action, expert, autojunk=False).ratio()


def well_formed(task, action: str) -> bool:
    """``action`` is exactly one line of ``task`` (a step or an answer line) that parses, ending with its newline."""
    segments = task.segment(action)
    return action.endswith("\n") and action.count("\n") == 1 and len(segments) == 1 and segments[0].parsed


def action_rewards(task, actions: list[str], experts: list[str]) -> list[float]:
    """R per row (module docstring)."""
    return [similarity(a.rstrip("\n"), e.rstrip("\n")) if well_formed(task, a) else -1.0 for a, e in zip(actions, experts)]


def expert_similarity(rollouts: Rollouts, ctx: RewardContext) -> torch.Tensor:
    """[B, T] float32: R of each row's action on its last response token (module docstring)."""
    states = ExpertStep(ctx.task, ctx.seed, ctx.step)
    actions, experts = rollouts.texts, [states.expert(problem) for problem in rollouts.problems]
    rewards = action_rewards(ctx.task, actions, experts)
    formed = [r >= 0 for r in rewards]
    valid = [f and states.score(p, a).step_valid[-1] for f, p, a in zip(formed, rollouts.problems, actions)]
    n = max(len(rewards), 1)
    ctx.metrics.update({
        "srl/similarity": sum(r for r in rewards if r >= 0) / max(sum(formed), 1),
        "srl/format_ok": sum(formed) / n,
        "srl/exact": sum(a == e for a, e in zip(actions, experts)) / n,
        "srl/valid_action": sum(valid) / n,
    })
    return on_last_token(rollouts, torch.tensor(rewards, dtype=torch.float32))
