"""Prompts that carry the first steps of the gold solution: the start states of a reverse
curriculum (R3, Xi et al. 2024, "Training Large Language Models for Reasoning through Reverse
Curriculum Reinforcement Learning", arXiv 2402.05808).

    GoldPrefix(task, k).prompt(x)     = task.prompt(x) + s_1 ... s_m        m = min(k, n_x − 1)
    GoldPrefix(task, k).score(x, y)   = task.score(x, s_1 ... s_m + y)

with s_1..s_{n_x} the step lines of x's gold solution (``task.segment``; the answer line and a
confidence line are not steps): the policy continues a demonstration from its m-th step, always
computing at least one step and the answer itself, and its verdict is that of the whole solution
(given steps and its own), so an outcome reward scores the completed demonstration. A run lowers k
stage by stage to 0, the bare problem (``RLConfig.gold_prefix_steps``). Every other attribute is the
task's own. Step-level reward sources read the response's steps only while the verdict's step
indices count the given ones too, so a run refuses the curriculum for a variant with any of them
(``RLConfig.validate``: sources among ``sandbox.rewards.pieces.SEQUENCE_LEVEL_SOURCES`` only).
"""

from __future__ import annotations

from dataclasses import dataclass

from toy_envs.base import TaskView, check, is_int


@dataclass(frozen=True)
class GoldPrefix(TaskView):
    task: object
    """The task whose prompts get the gold steps."""
    k: int
    """Gold steps given, at most (>= 1); a problem with n steps gets at most n − 1."""

    def __post_init__(self) -> None:
        check(is_int(self.k) and self.k >= 1, "gold_prefix_steps", "an integer >= 1 (0: no prefix)", self.k)

    def given(self, problem) -> str:
        """The text of the gold steps the prompt carries."""
        steps = [s for s in self.task.segment(self.task.gold_solution(problem)) if s.kind == "step"]
        return "".join(s.text for s in steps[: min(self.k, len(steps) - 1)])

    def prompt(self, problem) -> str:
        return self.task.prompt(problem) + self.given(problem)

    def score(self, problem, text: str):
        return self.task.score(problem, self.given(problem) + text)


def with_gold_prefix(task, k: int):
    """``task`` itself for k = 0, else its ``GoldPrefix`` of k steps."""
    return task if k == 0 else GoldPrefix(task, k)
