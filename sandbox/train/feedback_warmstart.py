"""A warm start that has read feedback in its prompt, for SDPO's self-teacher (``sandbox.rewards.sdpo``).

A policy can be its own teacher only if it reads the feedback in its context; the plain warm
starts never saw any (on 'tiny' the self-teacher's AUROC for the first wrong step is 0.54-0.63
and SDPO lowers accuracy). This preset continues SFT from another warm start on demonstrations of
which a fraction carry feedback in the teacher's format:

    problem i of the train split, u_i ~ U[0, 1) keyed by (seed, "feedback", i):
        u_i < feedback_fraction:  level ← levels[key(i) mod len(levels)]
                                  attempt ← the gold solution with the result of step s off by δ
                                            (s, δ ∈ ±[1, 9] keyed by i)
                                  f ← feedback(task, problem, score(attempt), level)
                                      (the solution level: the gold solution, as a correct sibling's)
                                  x ← teacher_prompt(prompt, f)      (feedback lines quoted by "> ")
        otherwise                 x ← prompt
        target: the gold solution; the loss is SFT's (``sandbox.train.sft``)

so the model sees, for a little data, that a quoted solution or a corrected value is what the
right response contains. Greedy accuracy is measured on plain prompts (no feedback), as RL samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import toy_envs
from sandbox.rewards.sdpo import teacher_prompt
from sandbox.train.sft import SFTConfig, keyed_fraction
from sandbox.train.warmstart import TINY_MODEL, Preset, build_on_demonstrations
from toy_envs.base import check
from toy_envs.feedback import ERROR_LEVELS, check_level, feedback


@dataclass(frozen=True)
class FeedbackPreset(Preset):
    """A ``Preset`` whose demonstrations carry feedback in a fraction of their prompts."""

    feedback_fraction: float = 0.5
    """Fraction of demonstrations (keyed by problem) with feedback in the prompt."""
    levels: tuple[str, ...] = ("indicative", "located", "corrective", "solution")
    """The feedback levels drawn from (keyed by problem), each as often."""

    def to_dict(self) -> dict:
        return {**super().to_dict(), "feedback_fraction": self.feedback_fraction, "levels": list(self.levels)}


class FeedbackDemonstrations:
    """``task`` whose prompts carry feedback about a wrong attempt for a keyed fraction of problems
    (the module docstring); everything else is the task's own."""

    def __init__(self, task, fraction: float, levels: tuple[str, ...], seed: int = 0):
        check(0 <= fraction <= 1, "feedback_fraction", "in [0, 1]", fraction)
        check(len(levels) >= 1, "levels", "at least one level", levels)
        for level in levels:
            check_level(level)
        self.task, self.fraction, self.levels, self.seed = task, fraction, tuple(levels), seed

    def __getattr__(self, name):
        return getattr(self.task, name)

    def feedback_text(self, problem) -> str:
        """The problem's feedback ("" for the plain-prompt fraction)."""
        key = (problem.split, problem.index)
        if keyed_fraction(self.seed, "feedback", *key) >= self.fraction:
            return ""
        level = self.levels[int(keyed_fraction(self.seed, "level", *key) * len(self.levels))]
        gold = self.task.gold_solution(problem)
        if level not in ERROR_LEVELS:
            return gold if level == "solution" else ""
        return feedback(self.task, problem, self.task.score(problem, wrong_attempt(gold, self.seed, key)), level)

    def prompt(self, problem) -> str:
        return teacher_prompt(self.task.prompt(problem), self.feedback_text(problem))


def wrong_attempt(gold: str, seed: int, key: tuple) -> str:
    """``gold`` with the result of one step line (keyed) off by a keyed δ in ±[1, 9]."""
    lines = gold.split("\n")
    steps = [i for i, line in enumerate(lines) if "=" in line and not line.startswith("#")]
    at = steps[int(keyed_fraction(seed, "step", *key) * len(steps))]
    delta = 1 + int(keyed_fraction(seed, "delta", *key) * 9)
    sign = 1 if keyed_fraction(seed, "sign", *key) < 0.5 else -1
    head, result = lines[at].rsplit("=", 1)
    lines[at] = f"{head}={int(result) + sign * delta}"
    return "\n".join(lines)


FEEDBACK_PRESETS: dict[str, FeedbackPreset] = {
    # 'tiny' continued on its task with feedback in half of the prompts (the four levels equally):
    # the self-teacher of the SDPO tests.
    "tiny-feedback": FeedbackPreset(
        task="arithmetic",
        task_fields={"n_steps": 2, "operators": "+-", "start_max": 50},
        model=TINY_MODEL,
        # two length buckets: half the prompts carry feedback and are about twice as long, so one
        # padded pass spent about 40% of its positions on padding; measured 0.26 s a step against
        # 0.39 (4 buckets: 0.24) on one loaded core
        sft=SFTConfig(steps=300, batch_size=64, lr=2e-3, warmup_steps=20, eval_problems=256, length_buckets=2),
        init="tiny",
    ),
}


def build_feedback_warmstart(name: str, preset: FeedbackPreset, init, out: Path) -> None:
    """Train preset ``name`` from ``init`` (the loaded init preset) and save it to ``out``; its
    summary's accuracy is greedy on plain prompts."""
    task = toy_envs.make_task(preset.task, **preset.task_fields)
    demos = FeedbackDemonstrations(task, preset.feedback_fraction, preset.levels, preset.sft.seed)
    build_on_demonstrations(name, preset, init, out, task, demos)
