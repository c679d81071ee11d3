"""Confidence lines in demonstrations: the q a gold solution states when a task has
``confidence_line`` set.

    q(problem) ~ Uniform{0.0, 0.1, …, 1.0},   drawn from the problem's own key (task, seed, split, index)

A demonstration cannot know how likely the *model* is to be right, so SFT only teaches the
format: q is independent of the problem's difficulty and of correctness (the gold answer is
always right). RL with a calibration reward (``sandbox.rewards.brier``) then shapes q. The
draw is keyed by problem, so it is the same in every process and every epoch.
"""

from __future__ import annotations

from toy_envs.base import problem_rng
from toy_envs.parsing import format_confidence_line

CONFIDENCE_LEVELS = 10
"""Demonstrated q lies on the grid {0, 1/10, …, 1}: one decimal, 11 values, all equally likely."""


def demonstration_confidence(task_name: str, seed: int, split: str, index: int) -> float:
    """The q the demonstration of problem (task, seed, split, index) states, uniform on the grid."""
    rng = problem_rng(f"{task_name}/confidence", seed, split, index)
    return rng.randint(0, CONFIDENCE_LEVELS) / CONFIDENCE_LEVELS


def demonstration_confidence_line(task, problem) -> str:
    """The confidence line ending ``task``'s gold solution of ``problem``; empty unless the task
    has ``confidence_line`` set."""
    if not task.confidence_line:
        return ""
    q = demonstration_confidence(task.name, task.seed, problem.split, problem.index)
    return format_confidence_line(q)
