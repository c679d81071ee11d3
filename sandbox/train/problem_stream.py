"""The RL run's stream of train problems: indices 0, 1, 2, … of the task, less those the
variant's problem filter excluded.

    draw(n):  the next n problems not excluded; when the stream reaches the end of the screened
              window, the problem filter (``Variant.problem_filter``, e.g. DRO's query filter)
              screens the next problem_filter_every · P problems first and excludes some

The stream owns its position, the excluded problems and the end of the screened window, which a
checkpoint saves (``state``) so that a resumed run draws exactly the problems the uninterrupted
run would have; ``take_log`` hands the screening's ``problem_filter/*`` metrics to the step's log.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from toy_envs.base import check


class ProblemStream:
    def __init__(self, task, has_filter: bool, window: int):
        """``has_filter``: the variant has a problem filter; ``window``: problems it screens at a
        time (``problem_filter_every`` · P)."""
        self.task, self.has_filter, self.window = task, has_filter, window
        self.next_problem = 0
        """The next problem index the stream reads."""
        self.excluded: set[int] = set()
        """Problems the filter excluded; never drawn."""
        self.screened_until = 0
        """The end of the window screened last (problems before it were screened)."""
        self.log: dict = {}
        """``problem_filter/*`` (and its time) of the screening since the last ``take_log``."""

    def draw(self, n: int, step: int, screen: Callable[[list[int]], object]) -> list[int]:
        """The next ``n`` problems, skipping excluded ones. ``screen(window)`` runs the problem
        filter on a window of problem indices and returns its ``ProblemFilterResult``; it is called
        whenever the draw reaches the end of the screened window. ``step`` is named in the error
        of a task whose problems run out."""
        indices = []
        size = getattr(self.task, "size", None)
        while len(indices) < n:
            check(size is None or self.next_problem < size, "task_size",
                  f"more than the {self.next_problem} train problems read by step {step} (the problem "
                  f"filter excluded {len(self.excluded)} of them); raise task_size", size)
            if self.has_filter and self.next_problem >= self.screened_until:
                self.screen_next_window(screen)
            if self.next_problem not in self.excluded:
                indices.append(self.next_problem)
            self.next_problem += 1
        return indices

    def screen_next_window(self, screen: Callable[[list[int]], object]) -> None:
        """Run the problem filter on the next window of the stream; log what it dropped."""
        end = self.next_problem + self.window
        window = list(range(self.next_problem, min(end, getattr(self.task, "size", end))))
        t0 = time.perf_counter()
        result = screen(window)
        self.excluded.update(result.excluded)
        self.screened_until = window[-1] + 1
        for key, value in result.info.items():
            self.log[f"problem_filter/{key}"] = value
        self.log["problem_filter/excluded_total"] = len(self.excluded)
        self.log["time/problem_filter_s"] = time.perf_counter() - t0

    def take_log(self) -> dict:
        """The screening's metrics since the last call (``{}`` when nothing was screened)."""
        log, self.log = self.log, {}
        return log

    def state(self) -> dict:
        """What a checkpoint saves of the stream (``Trainer.state``)."""
        return {"next_problem": self.next_problem, "excluded_problems": sorted(self.excluded), "screened_until": self.screened_until}

    def load_state(self, state: dict) -> None:
        self.next_problem = state["next_problem"]
        self.excluded = set(state.get("excluded_problems", []))
        self.screened_until = state.get("screened_until", 0)
