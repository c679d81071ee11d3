"""Oracle step labels: what the task's verifier says about each step.

    valid:  y_t = 1[step t follows from the previous line by the task's rules]   (step_valid)
    value:  y_t = 1[a correct final answer is still reachable after step t]      (step_value)

The human-annotation stand-in of "Let's Verify Step by Step" (Lightman et al. 2023,
arXiv 2305.20050): every step judged exactly, here by the task's oracle instead of people.
``valid`` marks the first *invalid* step, ``value`` the first *dead-end* step (on tree puzzles a
step can be valid and still a dead end).
"""

from __future__ import annotations

from toy_envs.base import Verdict, check

ORACLE_TARGETS = ("valid", "value")


def oracle_labels(verdicts: list[Verdict], target: str = "valid") -> list[list[float]]:
    """Per row, per step: 1.0 or 0.0 from ``verdict.step_valid`` or ``verdict.step_value``."""
    check(target in ORACLE_TARGETS, "target", f"one of {ORACLE_TARGETS}", target)
    field = "step_valid" if target == "valid" else "step_value"
    return [[float(x) for x in getattr(verdict, field)] for verdict in verdicts]
