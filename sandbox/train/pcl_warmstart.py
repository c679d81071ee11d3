"""A warm start that evaluates its own responses after a post-completion marker (PCL's dual-track SFT).

Post-Completion Learning (Fei et al. 2025, arXiv 2507.20252) trains two tracks by SFT: reasoning
(the solution, which inference returns) and evaluation (what follows the marker: the response
judged by the task's reward rules, ending in the reward). This preset continues SFT from another
warm start on a task with ``post_completion`` set (``toy_envs.post_completion``), drawing each
demonstration's track by a key:

    problem i of the train split, u_i ~ U[0, 1) keyed by (seed, "track", i):
        u_i ≥ evaluation_fraction   reasoning track:   x ← prompt,             y ← gold solution + its evaluation
        otherwise                   evaluation track:  a ← the gold solution without its evaluation, or, for a keyed
                                                           wrong_fraction of problems, a wrong attempt: one step's
                                                           result off by δ ∈ ±[1, 9] and every later step computed
                                                           on from it (a wrong answer, as a model's slip gives)
                                                       x ← prompt + a,         y ← the oracle's evaluation of a
        loss: SFT's on y (``sandbox.train.sft``), so the evaluation track learns the evaluation only

A model that has seen only gold solutions would always predict reward 1; the wrong attempts
teach the ``x`` verdicts and ``=0``. Greedy accuracy is measured on plain prompts, as RL samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import toy_envs
from sandbox.train.sft import SFTConfig, keyed_fraction
from sandbox.train.warmstart import TINY_MODEL, Preset, build_on_demonstrations
from toy_envs.arithmetic import gold_intermediates
from toy_envs.base import check
from toy_envs.ops import apply_op, format_op
from toy_envs.post_completion import evaluation_text, inference_text


@dataclass(frozen=True)
class PCLPreset(Preset):
    """A ``Preset`` whose demonstrations are split between PCL's reasoning and evaluation tracks."""

    evaluation_fraction: float = 0.5
    """Fraction of demonstrations (keyed by problem) in the evaluation track."""
    wrong_fraction: float = 0.5
    """Fraction of evaluation-track attempts (keyed by problem) that are wrong."""

    def to_dict(self) -> dict:
        return {**super().to_dict(), "evaluation_fraction": self.evaluation_fraction, "wrong_fraction": self.wrong_fraction}


def wrong_chain(problem, seed: int, key: tuple) -> str:
    """A wrong attempt at an arithmetic ``problem`` (without answer-line extras): the result of one
    keyed step off by a keyed δ ∈ ±[1, 9], every later step applied to the stated value, and the
    answer line stating the last one."""
    gold = gold_intermediates(problem)
    at = int(keyed_fraction(seed, "step", *key) * len(gold))
    delta = (1 + int(keyed_fraction(seed, "delta", *key) * 9)) * (1 if keyed_fraction(seed, "sign", *key) < 0.5 else -1)
    lines, value = [], problem.start
    for t, op in enumerate(problem.ops):
        result = apply_op(value, op, problem.modulus) + (delta if t == at else 0)
        lines.append(f"{value}{format_op(op)}={result}\n")
        value = result
    return "".join(lines) + f"#{value}\n"


class DualTrackDemonstrations:
    """``task`` (with ``post_completion``) whose demonstrations follow the module docstring's tracks;
    everything else is the task's own."""

    def __init__(self, task, evaluation_fraction: float, wrong_fraction: float, seed: int = 0):
        check(getattr(task, "post_completion", False), "task_fields", "post_completion=True (a PCL warm start's task)",
              getattr(task, "post_completion", None))
        check(not task.long_answer and task.repeat_lines == 0 and task.modulus is None, "task_fields",
              "short answers, no repeated lines, no modulus (the wrong attempts are written that way)", task)
        check(0 <= evaluation_fraction <= 1, "evaluation_fraction", "in [0, 1]", evaluation_fraction)
        check(0 <= wrong_fraction <= 1, "wrong_fraction", "in [0, 1]", wrong_fraction)
        self.task, self.evaluation_fraction, self.wrong_fraction, self.seed = task, evaluation_fraction, wrong_fraction, seed

    def __getattr__(self, name):
        return getattr(self.task, name)

    def attempt(self, problem) -> str | None:
        """The evaluation-track attempt of ``problem`` (``None`` for the reasoning track)."""
        key = (problem.split, problem.index)
        if keyed_fraction(self.seed, "track", *key) >= self.evaluation_fraction:
            return None
        if keyed_fraction(self.seed, "wrong", *key) < self.wrong_fraction:
            return wrong_chain(problem, self.seed, key)
        return inference_text(self.task.gold_solution(problem))

    def prompt(self, problem) -> str:
        attempt = self.attempt(problem)
        return self.task.prompt(problem) + (attempt or "")

    def gold_solution(self, problem) -> str:
        attempt = self.attempt(problem)
        if attempt is None:
            return self.task.gold_solution(problem)
        return evaluation_text(self.task, problem, attempt)


PCL_PRESETS: dict[str, PCLPreset] = {
    # 'tiny' continued on its task with a post-completion evaluation: half the demonstrations in the
    # evaluation track, half of whose attempts are wrong. The model of the PCL tests and tutorial.
    "tiny-pcl": PCLPreset(
        task="arithmetic",
        task_fields={"n_steps": 2, "operators": "+-", "start_max": 50, "post_completion": True},
        model=TINY_MODEL,
        sft=SFTConfig(steps=300, batch_size=64, lr=2e-3, warmup_steps=20, eval_problems=256, length_buckets=2),
        init="tiny",
    ),
}


def build_pcl_warmstart(name: str, preset: PCLPreset, init, out: Path) -> None:
    """Train preset ``name`` from ``init`` (the loaded init preset) and save it to ``out``; its
    summary's metrics are greedy on plain prompts (with the self-evaluation's, ``eval/self_eval_*``)."""
    task = toy_envs.make_task(preset.task, **preset.task_fields)
    demos = DualTrackDemonstrations(task, preset.evaluation_fraction, preset.wrong_fraction, preset.sft.seed)
    build_on_demonstrations(name, preset, init, out, task, demos)
