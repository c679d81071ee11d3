"""Any reasoning-gym dataset as a sandbox task, verified at the answer level only.

reasoning-gym ("Reasoning Gym: Reasoning Environments for Reinforcement Learning with Verifiable
Rewards", Stojanovski et al. 2025, arXiv 2505.24760) generates problems procedurally
(``chain_sum``, ``basic_arithmetic``, ``word_sorting``, ...) and scores an answer string with the
dataset's own ``score_answer``. This module wraps one dataset, configured by its name and a JSON
object of its config fields, as a task with the same interface as the toy tasks:

    prompt         the dataset's question, then a newline
    gold solution  ``#<answer>\\n`` (the answer line alone: reasoning-gym gives no worked steps;
                   the default response budget adds ``REASONING_ROOM`` tokens for reasoning)
    response       any reasoning lines, then the answer line ``#<answer>``; everything after the
                   ``#`` to the end of the response, stripped of surrounding whitespace, is the
                   answer (so a multi-line answer, e.g. a matrix, is read whole)
    correct        ``score_answer(answer, entry) == 1.0`` (partial credit counts as wrong)

**No step oracle.** reasoning-gym checks final answers, not steps, so the verdict cannot say which
step went wrong. ``STEP_ORACLE`` is ``False`` and every step, reasoning line or answer, carries the
*outcome*: ``step_valid[t] = correct`` and ``step_value[t] = int(correct)`` (``first_error`` is 0
for a wrong response, ``None`` for a right one). Pieces that read per-step labels (``prm_oracle``,
PRM step labels, ProcessBench) therefore see an outcome reward broadcast over the steps on this
task, not process supervision; reasoning lines are never parsed (``Step.parsed`` is ``True`` for
every reasoning line).

Determinism: the task's reasoning-gym datasets are seeded from a blake2b digest of (dataset,
options, seed): the train split's dataset gets seed s and the eval split's s + size, so problem
``index`` of a split is a pure function of (config, split, index) in every process. reasoning-gym
datasets seed item i with ``Random(seed + i)``, so with these seeds the train items use seeds
[s, s + size) and the eval items [s + size, s + 2·size): the splits never share a generator.
reasoning-gym is an optional dependency (``pip install "reward-sandbox[reasoning-gym]"``);
it is imported only when a task is built.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar

from toy_envs.base import SPLITS, ConfigError, Rubric, Step, Verdict, check, is_int
from toy_envs.parsing import ANSWER_MARK, segment_lines, split_steps

STEP_ORACLE = False
"""This task has no per-step oracle: step labels repeat the outcome (see the module docstring)."""

RESERVED_OPTIONS = ("seed", "size")
"""Dataset config fields the task sets itself (from its ``seed`` and ``size``)."""

MAX_SIZE = 10**7
"""Largest ``size``: both splits' seeds stay below 2**32 (numpy's seed range)."""

REASONING_ROOM = 96
"""Tokens of room for reasoning lines in the default response budget (``RLConfig.max_new_tokens``
= 0): the gold solution is the answer line alone, so a budget sized by it (+16) would leave no
room to reason and, under ``dapo``, the overlong penalty would dominate the reward. 96 fits a
chain_sum prompt (~85 characters) and its answer within the tiny model's 256 positions."""

INSTALL_HINT = 'reasoning-gym is not installed: pip install "reward-sandbox[reasoning-gym]"'


@dataclass(frozen=True)
class ReasoningGymProblem:
    """One reasoning-gym item; equal and hashed by (split, index, question, answer)."""

    question: str
    """The dataset's question text."""
    answer: str
    """The dataset's reference answer."""
    index: int
    """The problem's index within its split."""
    split: str
    """``"train"`` or ``"eval"``."""
    entry: dict = field(compare=False, hash=False, repr=False)
    """The dataset item as generated (question, answer, metadata): ``score_answer`` reads it."""


@dataclass(frozen=True)
class ReasoningGym:
    """A reasoning-gym dataset as a task (answer-level verification only; no step oracle)."""

    name: ClassVar[str] = "reasoning_gym"
    step_oracle: ClassVar[bool] = STEP_ORACLE
    reasoning_room: ClassVar[int] = REASONING_ROOM
    """Added to the default response budget (``sandbox.eval.accuracy.default_max_new_tokens``)."""

    dataset: str = "chain_sum"
    """The reasoning-gym dataset name (``reasoning_gym.factory.DATASETS``), e.g. chain_sum, basic_arithmetic."""
    options: str = "{}"
    """The dataset's config fields as a JSON object, e.g. '{"min_terms": 2, "max_terms": 3}' (not seed or size)."""
    seed: int = 0
    """Seed of the problem stream; problems are a pure function of (dataset, options, seed, split, index)."""
    size: int = 100_000
    """Problems per split, in [1, 10**7]: indices run over [0, size). A run checks up front that it
    fits (``sandbox.train.rl.check_task_size``)."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """``ConfigError`` naming the first field whose value is not allowed (``ImportError`` when
        reasoning-gym is missing)."""
        check(is_int(self.seed), "seed", "an integer", self.seed)
        check(is_int(self.size) and 1 <= self.size <= MAX_SIZE, "size", f"an integer in [1, {MAX_SIZE}]", self.size)
        registry = dataset_registry()
        check(self.dataset in registry, "dataset", f"a reasoning-gym dataset, one of {sorted(registry)}", self.dataset)
        options = parse_options(self.options)
        config_cls = registry[self.dataset][1]
        known = [f.name for f in dataclasses.fields(config_cls) if f.name not in RESERVED_OPTIONS]
        for key in options:
            check(key in known, "options", f"JSON keys among {self.dataset}'s config fields {known}", key)
        try:
            config = config_cls(**options)
            if hasattr(config, "validate"):
                config.validate()
        except (AssertionError, ValueError, TypeError) as err:
            raise ConfigError(f"options={self.options!r} is not allowed: {self.dataset} rejects it ({err})") from None

    def problem(self, index: int, split: str = "train") -> ReasoningGymProblem:
        """Problem ``index`` of ``split``; the same for the same (config, split, index)."""
        check(split in SPLITS, "split", f"one of {SPLITS}", split)
        check(is_int(index) and 0 <= index < self.size, "index", f"an integer in [0, {self.size})", index)
        entry = split_dataset(self.dataset, self.options, self.seed, split, self.size)[index]
        return ReasoningGymProblem(str(entry["question"]), str(entry["answer"]), index, split, entry)

    def prompt(self, problem: ReasoningGymProblem) -> str:
        """The question, then a newline."""
        return problem.question + "\n"

    def gold_solution(self, problem: ReasoningGymProblem) -> str:
        """The answer line ``#<answer>`` alone (reasoning-gym gives no worked steps)."""
        return ANSWER_MARK + problem.answer + "\n"

    def segment(self, text: str) -> list[Step]:
        """Each line before the first ``#`` line is a step; that line and the rest form the
        answer step, parsed iff its answer is not empty. The spans partition ``text``."""
        steps = segment_lines(text, lambda content: True)
        return [self._mark(step) for step in steps]

    @staticmethod
    def _mark(step: Step) -> Step:
        if step.kind == "answer":
            return dataclasses.replace(step, parsed=bool(stated_answer(step.text)))
        return dataclasses.replace(step, parsed=True)

    def score(self, problem: ReasoningGymProblem, text: str) -> Verdict:
        """Correctness from the dataset's ``score_answer``; every step label repeats it."""
        steps = self.segment(text)
        answer_step = split_steps(steps).answer
        answer = None if answer_step is None else stated_answer(answer_step.text)
        correct = bool(answer) and self.answer_score(problem, answer) == 1.0
        labels = tuple(correct for _ in steps)
        return Verdict(
            correct=correct,
            parse_status=answer_status(answer_step, answer),
            steps=tuple(steps),
            step_valid=labels,
            step_value=tuple(int(label) for label in labels),
            first_error=None if correct or not steps else 0,
            answer=answer,
        )

    def answer_score(self, problem: ReasoningGymProblem, answer: str | None) -> float:
        """The dataset's own score of ``answer`` in [0, 1] (partial credit included)."""
        dataset = split_dataset(self.dataset, self.options, self.seed, problem.split, self.size)
        return float(dataset.score_answer(answer, problem.entry))

    def format_rubric(self, text: str) -> Rubric:
        """Only the answer line has a format here: well-formed and answer present both mean an
        answer line with a non-empty answer."""
        answer_step = split_steps(self.segment(text)).answer
        present = answer_step is not None and answer_step.parsed
        return Rubric(well_formed=present, answer_present=present)


def stated_answer(answer_text: str) -> str:
    """The answer in an answer step: everything after the ``#``, stripped."""
    return answer_text[len(ANSWER_MARK) :].strip()


def answer_status(answer_step: Step | None, answer: str | None) -> str:
    """``no_answer`` without an answer line, ``bad_answer`` when it is empty, else ``ok``."""
    if answer_step is None:
        return "no_answer"
    return "ok" if answer else "bad_answer"


def parse_options(options: str) -> dict[str, Any]:
    """The ``options`` JSON object as a dict; ``ConfigError`` for anything else."""
    try:
        value = json.loads(options) if isinstance(options, str) else None
    except json.JSONDecodeError:
        value = None
    check(isinstance(value, dict), "options", "a JSON object string, e.g. '{\"max_terms\": 3}'", options)
    return value


def dataset_registry() -> dict:
    """reasoning-gym's dataset name -> (dataset class, config class)."""
    try:
        from reasoning_gym.factory import DATASETS
    except ImportError as err:
        raise ImportError(INSTALL_HINT) from err
    return DATASETS


def split_seed(dataset: str, options: str, seed: int, split: str, size: int) -> int:
    """The dataset seed of one split: s for train, s + size for eval, with s < 2**32 − 2·size from a
    blake2b digest of (dataset, options, seed) (Python's ``hash`` is salted per process)."""
    canonical = json.dumps(parse_options(options), sort_keys=True)
    key = f"reasoning_gym|{dataset}|{canonical}|{seed}".encode()
    base = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") % (2**32 - 2 * size)
    return base + SPLITS.index(split) * size


@cache
def split_dataset(dataset: str, options: str, seed: int, split: str, size: int):
    """The reasoning-gym dataset of one split (built once per process)."""
    dataset_cls, config_cls = dataset_registry()[dataset]
    config = config_cls(**parse_options(options), seed=split_seed(dataset, options, seed, split, size), size=size)
    return dataset_cls(config=config)


__all__ = ["STEP_ORACLE", "ReasoningGym", "ReasoningGymProblem"]
