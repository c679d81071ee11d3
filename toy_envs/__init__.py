"""Synthetic verifiable tasks with per-step oracles (arithmetic chains, tree puzzles), and any
reasoning-gym dataset as an answer-level task (``toy_envs.reasoning_gym``: no step oracle)."""

import dataclasses

from toy_envs.arithmetic import ArithmeticChain, ArithmeticProblem, gold_intermediates
from toy_envs.base import (
    SPLITS,
    ConfigError,
    ParseStatus,
    Rubric,
    Split,
    Step,
    Task,
    Verdict,
)
from toy_envs.reasoning_gym import ReasoningGym, ReasoningGymProblem
from toy_envs.tree_puzzle import TreeProblem, TreePuzzle, explicit_tree, solutions

TASKS = {"arithmetic": ArithmeticChain, "tree": TreePuzzle, "reasoning_gym": ReasoningGym}
"""Task name -> task class (the class is its own config); ``reasoning_gym`` needs the reasoning-gym extra."""


def make_task(name: str, **fields) -> ArithmeticChain | TreePuzzle | ReasoningGym:
    """The task called ``name`` configured with ``fields`` (validated); ``ConfigError`` for an
    unknown name or field."""
    if name not in TASKS:
        raise ConfigError(f"task={name!r} is not allowed: one of {sorted(TASKS)}")
    known = [field.name for field in dataclasses.fields(TASKS[name])]
    for field_name in fields:
        if field_name not in known:
            raise ConfigError(f"{field_name}= is not a field of task {name!r}: one of {known}")
    task = TASKS[name](**fields)
    task.validate()
    return task


__all__ = [
    "SPLITS",
    "TASKS",
    "ArithmeticChain",
    "ArithmeticProblem",
    "ConfigError",
    "ParseStatus",
    "ReasoningGym",
    "ReasoningGymProblem",
    "Rubric",
    "Split",
    "Step",
    "Task",
    "TreeProblem",
    "TreePuzzle",
    "Verdict",
    "explicit_tree",
    "gold_intermediates",
    "make_task",
    "solutions",
]
