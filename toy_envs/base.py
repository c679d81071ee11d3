"""The interface every task implements, and the records it returns.

A task is a frozen ``@dataclass`` config (with ``validate()``) plus pure methods:

    problem(index, split)  -> Problem        deterministic in (config.seed, split, index)
    prompt(problem)        -> str            what the policy is conditioned on
    gold_solution(problem) -> str            one step per line, then the answer line
    segment(text)          -> list[Step]     character spans that partition ``text``
    score(problem, text)   -> Verdict        correctness, parse status, per-step validity
                                             and oracle value, first error
    format_rubric(text)    -> Rubric         well-formed lines, answer present

Parsing is a small grammar (regular expressions over the line formats). It never raises on
arbitrary text and never evaluates model text; anything it does not recognise is reported
through ``Verdict.parse_status`` / ``Step.parsed``.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

Split = Literal["train", "eval"]
SPLITS: tuple[str, ...] = ("train", "eval")

ParseStatus = Literal["ok", "bad_step", "bad_answer", "no_answer"]
"""``ok``: every line parses and an answer line is present; ``bad_step``: some step line does
not parse; ``bad_answer``: the answer line does not parse; ``no_answer``: no answer line.
When several apply the later one in this list wins (``no_answer`` > ``bad_answer`` > ``bad_step``)."""


class ConfigError(ValueError):
    """A config field holds a value outside what is allowed; the message names both."""


def check(condition: bool, field_name: str, allowed: str, value: object) -> None:
    """Raise one ``ConfigError`` naming ``field_name``, what is ``allowed`` and the value given."""
    if not condition:
        raise ConfigError(f"{field_name}={value!r} is not allowed: {allowed}")


def is_int(value: object) -> bool:
    """An ``int`` that is not a ``bool``."""
    return isinstance(value, int) and not isinstance(value, bool)


def problem_rng(task_name: str, seed: int, split: str, index: int) -> random.Random:
    """The random generator for one problem, a pure function of its key.

    Seeded from a blake2b digest (Python's ``hash`` is salted per process), so a problem is the
    same in every process; ``ConfigError`` for an unknown split or a negative index.
    """
    check(split in SPLITS, "split", f"one of {SPLITS}", split)
    check(is_int(index) and index >= 0, "index", "an integer >= 0", index)
    key = f"{task_name}|{seed}|{split}|{index}".encode()
    return random.Random(int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big"))


@dataclass(frozen=True)
class Step:
    """One segment of a response: a reasoning line or the answer line.

    ``start``/``end`` are character offsets into the response (``end`` exclusive) and the
    steps of one response partition it exactly: the newline ending a line belongs to that
    line's step, and any text after the answer line belongs to the answer step, so every
    character (and, with a character tokenizer, every response token) has exactly one step.
    """

    index: int
    start: int
    end: int
    text: str
    kind: Literal["step", "answer"]
    parsed: bool


@dataclass(frozen=True)
class Verdict:
    """What the task's oracle says about one response; computed once per rollout."""

    correct: bool
    """The final answer is right (judged on the answer line alone)."""
    parse_status: str
    """One of ``ParseStatus``."""
    steps: tuple[Step, ...]
    """``segment(text)``; the answer step, when present, is last."""
    step_valid: tuple[bool, ...]
    """Per step: does it follow from the previous line by the task's rules."""
    step_value: tuple[int, ...]
    """Per step: 1 iff a correct final answer is still reachable after this prefix (oracle)."""
    first_error: int | None
    """Index of the first step that is not valid, ``None`` if every step is valid."""
    answer: str | None = None
    """The answer line's content after ``#``, if there is an answer line."""

    @property
    def n_steps(self) -> int:
        return len(self.steps)

    @property
    def process_correct(self) -> bool:
        """Process-verified correctness: the answer is right and every step, the answer line
        included, is valid (no first error)."""
        return self.correct and self.first_error is None


@dataclass(frozen=True)
class Rubric:
    """Categorical format checks; ``score`` is their mean, in [0, 1]."""

    well_formed: bool
    """Every reasoning line parses and nothing follows the answer line (except, for a task with
    ``confidence_line`` set, exactly one confidence line)."""
    answer_present: bool
    """An answer line that parses is present."""
    checks: dict[str, bool] = field(default_factory=dict)

    @property
    def score(self) -> float:
        values = [self.well_formed, self.answer_present, *self.checks.values()]
        return sum(values) / len(values)


@runtime_checkable
class Task(Protocol):
    """What the sandbox needs from a task (see the module docstring)."""

    name: str

    def validate(self) -> None: ...

    def problem(self, index: int, split: Split = "train"): ...

    def prompt(self, problem) -> str: ...

    def gold_solution(self, problem) -> str: ...

    def segment(self, text: str) -> list[Step]: ...

    def score(self, problem, text: str) -> Verdict: ...

    def format_rubric(self, text: str) -> Rubric: ...


class TaskView:
    """A task seen with some of its methods changed (``toy_envs.pool``, ``toy_envs.gold_prefix``):
    a subclass holds the task in its ``task`` field and defines what it changes; every other
    attribute is the task's own."""

    def __getattr__(self, name: str):
        if name.startswith("__") or name in {f for f in getattr(type(self), "__dataclass_fields__", {})}:
            raise AttributeError(name)  # not set yet (copying, unpickling): no recursion into the fields
        return getattr(self.task, name)
