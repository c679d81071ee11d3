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

With ``feedback_task_fields`` the problems that carry feedback come from another task (the
preset's fields with these on top; the keyed draw above decides which task a problem index is
drawn from): 'tiny-critique' reads feedback only on 3-step chains and plain prompts only on
2-step ones, so on 3-step chains its attempts stay on the plateau while its answers after a
critique do not -- the regime Critique-GRPO assumes (a model that can refine what it cannot
solve), which 'tiny-feedback' is not in (its refinements on 3-step chains are right about as
often as its attempts, results.md "Feedback in words").
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
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
    feedback_task_fields: dict = field(default_factory=dict)
    """Task fields, on top of ``task_fields``, of the problems that carry feedback (empty: the
    preset's own task)."""

    def to_dict(self) -> dict:
        extra = {"feedback_task_fields": self.feedback_task_fields} if self.feedback_task_fields else {}
        return {**super().to_dict(), "feedback_fraction": self.feedback_fraction, "levels": list(self.levels), **extra}

    def feedback_task(self):
        """The task the feedback-carrying problems are drawn from, or ``None`` for the preset's own."""
        if not self.feedback_task_fields:
            return None
        return toy_envs.make_task(self.task, **{**self.task_fields, **self.feedback_task_fields})


class FeedbackDemonstrations:
    """``task`` whose prompts carry feedback about a wrong attempt for a keyed fraction of problems
    (the module docstring), those problems drawn from ``feedback_task`` where one is given (a task
    of the same kind: prompts, solutions and verdicts are read off the problem, not the task);
    everything else is the task's own."""

    def __init__(self, task, fraction: float, levels: tuple[str, ...], seed: int = 0, feedback_task=None):
        check(0 <= fraction <= 1, "feedback_fraction", "in [0, 1]", fraction)
        check(len(levels) >= 1, "levels", "at least one level", levels)
        for level in levels:
            check_level(level)
        if feedback_task is not None:
            check(type(feedback_task) is type(task), "feedback_task", f"a task of the same kind as the preset's ({type(task).__name__})",
                  type(feedback_task).__name__)
        self.task, self.fraction, self.levels, self.seed = task, fraction, tuple(levels), seed
        self.feedback_task = feedback_task

    def __getattr__(self, name):
        return getattr(self.task, name)

    def carries_feedback(self, split: str, index: int) -> bool:
        """Whether problem ``index`` of ``split`` is in the keyed feedback fraction."""
        return keyed_fraction(self.seed, "feedback", split, index) < self.fraction

    def problem(self, index: int, split: str = "train"):
        """Problem ``index`` of ``split``, from ``feedback_task`` when it carries feedback and there is one."""
        if self.feedback_task is not None and self.carries_feedback(split, index):
            return self.feedback_task.problem(index, split=split)
        return self.task.problem(index, split=split)

    def feedback_text(self, problem) -> str:
        """The problem's feedback ("" for the plain-prompt fraction)."""
        key = (problem.split, problem.index)
        if not self.carries_feedback(*key):
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
# The Critique-GRPO testbed: 'tiny' continued as 'tiny-feedback' is, but every demonstration
# with feedback is a 3-step chain and every plain one a 2-step chain. Measured on this machine
# (one build, 64 held-out 3-step problems x 8 samples at temperature 1): its attempts are
# right 3.3% of the time (greedy 0.055 on 256; 52 of 64 problems with pass@8 = 0; 2-step
# greedy 0.96), its refinements of the failed ones after an indicative, located or corrective
# critique 65%, 67%, 61%, after the solution level (no correct sibling in most groups: a
# resample of the bare prompt) 2%. The critique's words barely matter; being asked again does.
FEEDBACK_PRESETS["tiny-critique"] = replace(FEEDBACK_PRESETS["tiny-feedback"], feedback_task_fields={"n_steps": 3})


def build_feedback_warmstart(name: str, preset: FeedbackPreset, init, out: Path) -> None:
    """Train preset ``name`` from ``init`` (the loaded init preset) and save it to ``out``; its
    summary's accuracy is greedy on plain prompts."""
    task = toy_envs.make_task(preset.task, **preset.task_fields)
    demos = FeedbackDemonstrations(task, preset.feedback_fraction, preset.levels, preset.sft.seed, preset.feedback_task())
    build_on_demonstrations(name, preset, init, out, task, demos)
