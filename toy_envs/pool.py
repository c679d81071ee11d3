"""A task whose train split is cut to N problems, cycled: the stream of one-shot (N = 1) and
few-shot RL (Wang et al. 2025, "Reinforcement Learning for Reasoning in Large Language Models
with One Training Example", arXiv 2504.20571).

    TrainPool(task, N).problem(i, "train") = task.problem(i mod N, "train")
    TrainPool(task, N).problem(i, split)   = task.problem(i, split)          for every other split

Every other attribute is the task's own. A run's stream position i keeps its own row key
(seed, step, i, rollout), so the P groups of a step that all hold problem 0 are P independent
groups of G samples, as the paper's batches of one example repeated are; held-out evaluation is
untouched. The pool has no ``size`` (the stream may cycle for ever).
"""

from __future__ import annotations

from dataclasses import dataclass

from toy_envs.base import TaskView, check, is_int


@dataclass(frozen=True)
class TrainPool(TaskView):
    task: object
    """The task whose train problems 0..n−1 the pool cycles over."""
    n: int
    """Distinct train problems, >= 1."""

    def __post_init__(self) -> None:
        check(is_int(self.n) and self.n >= 1, "train_problems", "an integer >= 1 (0: no pool)", self.n)
        size = getattr(self.task, "size", None)
        check(size is None or self.n <= size, "train_problems", f"at most the task's {size} train problems", self.n)

    size = None
    """No end: stream positions cycle over the n problems."""

    def problem(self, index: int, split: str = "train"):
        """Train problem ``index mod n``; any other split's problem ``index``."""
        return self.task.problem(index % self.n if split == "train" else index, split)


def with_train_pool(task, n: int):
    """``task`` itself for n = 0, else its ``TrainPool`` of n problems."""
    return task if n == 0 else TrainPool(task, n)
