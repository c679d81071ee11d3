"""Expert-step states: a problem with the first k − 1 lines of its gold solution given, the k-th to be written.
The training instances of Supervised Reinforcement Learning (SRL, Deng et al. 2025, "Supervised
Reinforcement Learning: From Expert Trajectories to Step-wise Reasoning", arXiv 2510.25992).

    expert solution of x:   s_1 ... s_n s_{n+1}   (the step lines, then the answer line)
    position k(x)         ∈ {1, ..., n + 1}, uniform, keyed by (seed, step, problem index)
    ExpertStep.prompt(x)  = task.prompt(x) + s_1 ... s_{k−1}
    ExpertStep.expert(x)  = s_k                          the action the policy is compared with
    ExpertStep.score(x,y) = task.score(x, s_1 ... s_{k−1} + y)

Every line of the expert solution is an action, the answer line included. The paper builds N − 1
instances from a solution of N actions; with the answer line left out here (positions 1..n), the
policy never practises ending a solution, and on the edge testbed (SRL from 'edge' on 4-operation
chains, seed 0) its bare-problem greedy accuracy fell from 0.102 to 0.035 within 40 steps as it
learned to write a fifth step: a step line always followed a step line in what it was trained on.
A position is drawn afresh for every (seed, step, problem): a problem the stream gives again is
asked for another line. ``score`` judges the demonstration so far plus the written action: a step
action has no answer line yet (``parse_status == "no_answer"``), and the action's validity is the
verdict's last ``step_valid``. Every other attribute is the task's own.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from toy_envs.base import TaskView, check, is_int


def position_of(seed: int, step: int, index: int, n_steps: int) -> int:
    """k in 1..n_steps, a pure function of (seed, step, problem index) (blake2b, the same in every process)."""
    check(is_int(n_steps) and n_steps >= 1, "n_steps", "an integer >= 1 (a solution with at least one line)", n_steps)
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

    def expert_actions(self, problem) -> list[str]:
        """The texts of the gold solution's step lines and its answer line (each ends with its newline)."""
        segments = self.task.segment(self.task.gold_solution(problem))
        steps = [s.text for s in segments if s.kind == "step"]
        answer = next(s.text for s in segments if s.kind == "answer")
        return steps + [answer[: answer.index("\n") + 1] if "\n" in answer else answer]  # without a confidence line

    def position(self, problem) -> int:
        """k: the (1-based) line of the gold solution the policy is asked to write."""
        return position_of(self.seed, self.step, problem.index, len(self.expert_actions(problem)))

    def given(self, problem) -> str:
        """s_1 ... s_{k−1}: the gold lines the prompt carries."""
        return "".join(self.expert_actions(problem)[: self.position(problem) - 1])

    def expert(self, problem) -> str:
        """s_k: the expert's action at this state."""
        return self.expert_actions(problem)[self.position(problem) - 1]

    def prompt(self, problem) -> str:
        return self.task.prompt(problem) + self.given(problem)

    def score(self, problem, text: str):
        return self.task.score(problem, self.given(problem) + text)
