"""The small line grammar both tasks share.

A response is a sequence of lines. Step lines read ``<lhs><op><operand>=<result>`` with no
spaces (``3+4=7``, ``-6*2=-12``); ``lhs`` and ``result`` may be negative, the operand is a
non-negative integer, the op is one of ``+ - *``. The answer line starts with ``#``; what
follows the ``#`` is task-specific (an integer, a comma-separated integer list, or a
comma-separated op list such as ``*2,+3,-1``). A task with ``confidence_line`` set ends the
response with one more line after the answer line, ``conf: <q>`` with q in [0, 1]
(``parse_confidence``); a task with ``post_completion`` set ends it with a post-completion
evaluation instead, the line ``~`` and ``<value><v|x>,...=<0|1>`` (``parse_evaluation_trailer``,
``toy_envs.post_completion``). Either belongs to the answer step like any text after the answer line.

Everything here is a regular-expression full match over a line with at most ``MAX_DIGITS``
digits per number: no function raises on any ``str`` and nothing is evaluated.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from toy_envs.base import Rubric, Step
from toy_envs.ops import MAX_DIGITS, Op

ANSWER_MARK = "#"

_NATURAL = rf"[0-9]{{1,{MAX_DIGITS}}}"
_INTEGER = rf"-?{_NATURAL}"
_OP = rf"[-+*]{_NATURAL}"
_STEP_LINE = re.compile(rf"({_INTEGER})([-+*])({_NATURAL})=({_INTEGER})")
_INTEGER_LIST = re.compile(rf"{_INTEGER}(?:,{_INTEGER})*")
_OP_LIST = re.compile(rf"{_OP}(?:,{_OP})*")
_INTEGER_ONLY = re.compile(_INTEGER)
CONFIDENCE_MARK = "conf: "
_CONFIDENCE_LINE = re.compile(r"conf: (0(?:\.[0-9]{1,3})?|1(?:\.0{1,3})?)")
POST_COMPLETION_MARK = "~"
_EVALUATION_ITEM = rf"(?:-?[0-9]{{1,{2 * MAX_DIGITS}}}|\?)[vx]"
_EVALUATION = re.compile(rf"~\n((?:{_EVALUATION_ITEM}(?:,{_EVALUATION_ITEM}){{0,15}})?)=([01])\n?")


class StepLine(NamedTuple):
    """A parsed step line ``<lhs><symbol><operand>=<result>``."""

    lhs: int
    symbol: str
    operand: int
    result: int

    @property
    def op(self) -> Op:
        return (self.symbol, self.operand)


def line_body(line: str) -> str:
    """``line`` without its one trailing newline, if it has one."""
    return line[:-1] if line.endswith("\n") else line


def parse_step_line(line: str) -> StepLine | None:
    """A step line (its trailing newline allowed) as ``(lhs, symbol, operand, result)``, or
    ``None`` when it does not match the grammar exactly."""
    match = _STEP_LINE.fullmatch(line_body(line))
    if match is None:
        return None
    lhs, symbol, operand, result = match.groups()
    return StepLine(int(lhs), symbol, int(operand), int(result))


def parse_int(text: str) -> int | None:
    """An optionally negative integer such as ``-12``, or ``None``."""
    return int(text) if _INTEGER_ONLY.fullmatch(text) else None


def parse_int_list(text: str) -> tuple[int, ...] | None:
    """A non-empty comma-separated integer list such as ``7,14,-9``, or ``None``."""
    if _INTEGER_LIST.fullmatch(text) is None:
        return None
    return tuple(int(item) for item in text.split(","))


def parse_op_list(text: str) -> tuple[Op, ...] | None:
    """A non-empty comma-separated op list: ``*2,+3,-1`` -> ``(("*", 2), ("+", 3), ("-", 1))``."""
    if _OP_LIST.fullmatch(text) is None:
        return None
    return tuple((item[0], int(item[1:])) for item in text.split(","))


def split_lines(text: str) -> list[str]:
    """``text`` cut after every ``\\n`` (each piece keeps its newline); a final piece without a
    newline is kept, an empty one is not. Concatenating the pieces gives back ``text``."""
    pieces = text.split("\n")
    lines = [piece + "\n" for piece in pieces[:-1]]
    if pieces[-1]:
        lines.append(pieces[-1])
    return lines


def answer_line_content(answer_text: str) -> str:
    """The answer step's first line after the ``#``, without its newline."""
    return answer_text.split("\n", 1)[0][len(ANSWER_MARK) :]


def text_after_answer_line(answer_text: str) -> str:
    """Whatever the answer step holds after the answer line's newline."""
    parts = answer_text.split("\n", 1)
    return parts[1] if len(parts) == 2 else ""


def format_confidence_line(q: float) -> str:
    """The confidence line stating ``q`` with one decimal, e.g. ``"conf: 0.7\\n"``."""
    return f"{CONFIDENCE_MARK}{q:.1f}\n"


def parse_confidence_trailer(trailer: str) -> float | None:
    """q when ``trailer`` (the text after the answer line) is exactly one confidence line
    ``conf: <q>`` (its newline optional) with q written ``0``, ``1``, ``0.d``-``0.ddd`` or
    ``1.0``-``1.000``; ``None`` for anything else (nothing, a malformed line, more text)."""
    match = _CONFIDENCE_LINE.fullmatch(line_body(trailer))
    return None if match is None else float(match.group(1))


def parse_confidence(text: str) -> float | None:
    """The confidence q in [0, 1] a response states on the line right after its answer line (the
    first line starting with ``#``); ``None`` when there is no answer line or what follows it is
    not exactly one confidence line. Never raises; a regular-expression match, nothing evaluated."""
    lines = split_lines(text)
    for index, line in enumerate(lines):
        if line.startswith(ANSWER_MARK):
            return parse_confidence_trailer("".join(lines[index + 1 :]))
    return None


class Evaluation(NamedTuple):
    """A parsed post-completion evaluation (``toy_envs.post_completion``): per step line the value
    it recomputes (``None`` for ``?``) and its verdict (True = ``v``, valid), and the predicted reward."""

    recomputed: tuple[int | None, ...]
    step_verdicts: tuple[bool, ...]
    predicted_reward: int


def parse_evaluation_trailer(trailer: str) -> Evaluation | None:
    """The evaluation when ``trailer`` (the text after the answer line) is exactly the marker line
    ``~`` and one evaluation line ``<value or ?><v|x>,...=<0|1>`` (at most 16 items, its newline
    optional); ``None`` for anything else."""
    match = _EVALUATION.fullmatch(trailer)
    if match is None:
        return None
    items = match.group(1).split(",") if match.group(1) else []
    recomputed = tuple(None if item[:-1] == "?" else int(item[:-1]) for item in items)
    return Evaluation(recomputed, tuple(item[-1] == "v" for item in items), int(match.group(2)))


def segment_lines(text: str, answer_parses: Callable[[str], bool]) -> list[Step]:
    """Cut ``text`` into steps that partition it exactly.

    Each line (with its newline) before the first line starting with ``#`` is a ``step``,
    parsed iff it is a step line; that first ``#`` line and everything after it form the
    ``answer`` step, parsed iff ``answer_parses`` accepts its content after the ``#``.
    """
    steps: list[Step] = []
    offset = 0
    for line in split_lines(text):
        if line.startswith(ANSWER_MARK):
            answer_text = text[offset:]
            parsed = answer_parses(answer_line_content(answer_text))
            steps.append(Step(len(steps), offset, len(text), answer_text, "answer", parsed))
            return steps
        parsed = parse_step_line(line) is not None
        steps.append(Step(len(steps), offset, offset + len(line), line, "step", parsed))
        offset += len(line)
    return steps


class Segmented(NamedTuple):
    """A segmented response split into its step lines and its answer step (if any)."""

    step_lines: tuple[Step, ...]
    answer: Step | None


def split_steps(steps: list[Step]) -> Segmented:
    """Separate the ``step`` lines from the trailing ``answer`` step."""
    if steps and steps[-1].kind == "answer":
        return Segmented(tuple(steps[:-1]), steps[-1])
    return Segmented(tuple(steps), None)


def parse_status(segmented: Segmented) -> str:
    """The ``base.ParseStatus`` of a segmented response."""
    if segmented.answer is None:
        return "no_answer"
    if not segmented.answer.parsed:
        return "bad_answer"
    if not all(step.parsed for step in segmented.step_lines):
        return "bad_step"
    return "ok"


def format_rubric(segmented: Segmented, confidence_line: bool = False, post_completion: bool = False) -> Rubric:
    """Well-formed: every step line parses and only whitespace follows the answer line (with
    ``confidence_line``: exactly one confidence line follows it; with ``post_completion``: exactly
    one post-completion evaluation, ``toy_envs.post_completion``); answer present: an answer line
    that parses."""
    trailer = "" if segmented.answer is None else text_after_answer_line(segmented.answer.text)
    if confidence_line and segmented.answer is not None:
        trailer_ok = parse_confidence_trailer(trailer) is not None
    elif post_completion and segmented.answer is not None:
        trailer_ok = parse_evaluation_trailer(trailer) is not None
    else:
        trailer_ok = not trailer.strip()
    well_formed = all(step.parsed for step in segmented.step_lines) and trailer_ok
    answer_present = segmented.answer is not None and segmented.answer.parsed
    return Rubric(well_formed=well_formed, answer_present=answer_present)


def stated_before(start: int, lines: tuple[StepLine | None, ...], t: int) -> int | None:
    """The value step ``t`` must continue from: the start for t = 0, else the previous line's
    stated result (``None`` when the previous line did not parse)."""
    if t == 0:
        return start
    previous = lines[t - 1]
    return None if previous is None else previous.result


def first_error(step_valid: tuple[bool, ...]) -> int | None:
    """The index of the first ``False``, or ``None``."""
    return next((index for index, valid in enumerate(step_valid) if not valid), None)
