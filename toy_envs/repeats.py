"""Redundant step lines: demonstrations padded with verbatim repeats, and a verifier that accepts them.

A task with ``repeat_lines = p > 0`` pads its demonstrations: after each step line, with
probability p (drawn per problem and line, keyed by (task, seed, split, index)), the same line is
written once more. A repeat adds tokens and no information -- the redundant reasoning that the
Learning-to-Think testbed needs (``sandbox.rewards.info_gain``: responses "can be padded with
redundant steps", and a reward that prices episodes by what they contribute should remove them).
Its verifier accepts such repeats anywhere:

    repeat(t)        = t > 0 and line_t parses and line_t == line_{t-1}
    essential lines  = the lines that are not repeats (the chain the oracle checks)
    valid(t), value(t) of a repeat = those of the line it repeats
    answer valid     = exactly length(problem) essential lines, ... (the task's usual rule)

so a padded right solution is right and process-valid, and the padding shows only in its length
and in ``eval/repeat_lines``.
"""

from __future__ import annotations

from toy_envs.base import problem_rng
from toy_envs.parsing import StepLine


def demonstration_repeats(task_name: str, seed: int, split: str, index: int, n_lines: int, p: float) -> tuple[bool, ...]:
    """Per step line of the demonstration of problem (task, seed, split, index): is it repeated."""
    if p <= 0:
        return (False,) * n_lines
    rng = problem_rng(f"{task_name}/repeats", seed, split, index)
    return tuple(rng.random() < p for _ in range(n_lines))


def pad_lines(lines: list[str], repeats: tuple[bool, ...]) -> list[str]:
    """``lines`` with line t written twice where ``repeats[t]``."""
    return [copy for line, twice in zip(lines, repeats) for copy in ((line, line) if twice else (line,))]


def repeat_flags(lines: tuple[StepLine | None, ...]) -> tuple[bool, ...]:
    """Per line: a parsed line equal to the line before it."""
    return tuple(t > 0 and line is not None and line == lines[t - 1] for t, line in enumerate(lines))


def essential_indices(lines: tuple[StepLine | None, ...]) -> list[int]:
    """The indices of the lines that are not repeats, in order."""
    return [t for t, repeat in enumerate(repeat_flags(lines)) if not repeat]


def spread(values: list, lines: tuple[StepLine | None, ...]) -> list:
    """Per line of ``lines``: ``values`` (one per essential line) for the essential lines, and for a
    repeat the entry of the line it repeats."""
    out: list = []
    essential = iter(values)
    for repeat in repeat_flags(lines):
        out.append(out[-1] if repeat else next(essential))
    return out
