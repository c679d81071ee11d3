"""Expert-step states: a problem with the first k − 1 gold steps given, the k-th to be written.
The training instances of Supervised Reinforcement Learning (SRL, Deng et al. 2025, "Supervised
Reinforcement Learning: From Expert Trajectories to Step-wise Reasoning", arXiv 2510.25992).

    expert solution of x:   s_1 ... s_n  (step lines; the answer line is not an action)
    position k(x)         ∈ {1, ..., n}, uniform, keyed by (seed, step, problem index)
    ExpertStep.prompt(x)  = task.prompt(x) + s_1 ... s_{k−1}
    ExpertStep.expert(x)  = s_k                          the action the policy is compared with
    ExpertStep.score(x,y) = task.score(x, s_1 ... s_{k−1} + y)

The paper builds N − 1 instances from an expert solution of N actions, one per action but the
last, which in its data holds the final answer; here the answer line plays that part and every
one of the n step lines is a position. A position is drawn afresh for every (seed, step,
problem): a problem the stream gives again is asked for another step. ``score`` judges the
demonstration so far plus the written action, so a one-line action has no answer line
(``parse_status == "no_answer"``) and its validity is the verdict's last ``step_valid``.
Every other attribute is the task's own.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from toy_envs.base import TaskView, check, is_int


def position_of(seed: int, step: int, index: int, n_steps: int) -> int:
    """k in 1..n_steps, a pure function of (seed, step, problem index) (blake2b, the same in every process)."""
    check(is_int(n_steps) and n_steps >= 1, "n_steps", "an integer >= 1 (a solution with at least one step line)", n_steps)
    digest = hashlib.blake2b(f"expert-step|{seed}|{step}|{index}".encode(), digest_size=8).digest()
    return 1 + int.from_bytes(digest, "big") % n_steps


@dataclass(frozen=True)
class ExpertStep(TaskView):
    task: object
    """The task whose gold solutions are the expert's."""
    seed: int = 0
    """Run seed (keys the positions)."""
    step: int = 0
    """RL step (keys the positions)."""

    def expert_steps(self, problem) -> list[str]:
        """The texts of the gold solution's step lines (each ends with its newline)."""
        return [s.text for s in self.task.segment(self.task.gold_solution(problem)) if s.kind == "step"]

    def position(self, problem) -> int:
        """k: the (1-based) gold step the policy is asked to write."""
        return position_of(self.seed, self.step, problem.index, len(self.expert_steps(problem)))

    def given(self, problem) -> str:
        """s_1 ... s_{k−1}: the gold steps the prompt carries."""
        return "".join(self.expert_steps(problem)[: self.position(problem) - 1])

    def expert(self, problem) -> str:
        """s_k: the expert's action at this state."""
        return self.expert_steps(problem)[self.position(problem) - 1]

    def prompt(self, problem) -> str:
        return self.task.prompt(problem) + self.given(problem)

    def score(self, problem, text: str):
        return self.task.score(problem, self.given(problem) + text)
