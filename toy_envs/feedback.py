"""Feedback in words from the task's oracle: what went wrong in a response, at a chosen level.

For a response to a step-line task (arithmetic chains, tree puzzles: ``toy_envs.step_task``) and
its verdict, ``feedback(task, problem, verdict, level, siblings)`` writes

    level        text                                          information
    none         ""                                            nothing
    indicative   "wrong"                                       the response is not right
    located      "step 2 is wrong"                             + which step is the first wrong one
    corrective   "step 2 is wrong: 24+8 is 32, not 31"         + the right step there
    solution     a correct response of another rollout of the  a worked solution (SDPO's implicit
                 same problem; "" when none of them is         feedback from a group's successes,
                 correct                                       Hübotter et al. 2026, arXiv 2601.20802)

The first three error levels nest: each text starts with the previous level's information
("wrong" is inside "step 2 is wrong", which the corrective text starts with). A response that is
process-correct (answer right, every step valid) gets "" at every error level: there is no error
to report. Steps are numbered from 1 in the text; the answer line counts as the step after the
last step line, as in ``Verdict.steps``.

**The first wrong step** (``first_wrong_step``) is the first step the oracle marks invalid
(``Verdict.step_valid``) or of value 0 (the right answer is no longer reachable after it,
``Verdict.step_value``); when every step present is valid and live but the response is still not
process-correct (it stops early, is truncated or has no answer line), it is the missing step after
the last one. Arithmetic chains without a modulus: the first invalid step (a wrong value cannot
become right again). Tree puzzles: a valid step can be a dead end, which is wrong too.

**The right step** at the first wrong step t: every step before t is valid and live, so the
value to continue from is the previous line's stated result (the start value for t = 1), and the
right step is the first step line, in a fixed order (the task's operator symbols in their order,
operands ascending), that the task's own oracle judges valid and live there
(``task.lines_valid``, ``task.line_values``): the t-th operation for an arithmetic chain (the
gold intermediate), the first operation keeping the target reachable for a tree puzzle. When t is
the answer step (every step line is right), the corrective text gives the answer line those lines
state (``task.answer_of_lines``).

Deterministic: a pure function of its arguments (``solution`` takes the first correct sibling in
the order given). Nothing here evaluates response text: lines are read with the task's grammar
(``toy_envs.parsing``), and a corrective text quotes only the oracle's numbers and the parsed
result the response stated.
"""

from __future__ import annotations

from collections.abc import Sequence

from toy_envs.base import Verdict, check
from toy_envs.ops import apply_op, format_op, format_ops
from toy_envs.parsing import StepLine, parse_step_line, split_steps, stated_before

FEEDBACK_LEVELS = ("none", "indicative", "located", "corrective", "solution")
"""The feedback levels, from no information to a worked solution."""

ERROR_LEVELS = ("indicative", "located", "corrective")
"""The levels that describe the response's own error; each adds to the one before."""


def check_level(level: str) -> None:
    """``ConfigError`` naming ``level`` and the allowed values when ``level`` is not one."""
    check(level in FEEDBACK_LEVELS, "level", f"one of {FEEDBACK_LEVELS}", level)


def first_wrong_step(verdict: Verdict) -> int | None:
    """Index (from 0) of the first step the oracle marks invalid or of value 0; the index after
    the last step when every step is valid and live but the response is not process-correct;
    ``None`` for a process-correct response."""
    for index, (valid, value) in enumerate(zip(verdict.step_valid, verdict.step_value)):
        if not valid or value == 0:
            return index
    return None if verdict.process_correct else len(verdict.step_valid)


def feedback(task, problem, verdict: Verdict, level: str, siblings: Sequence[tuple[str, Verdict]] = ()) -> str:
    """The feedback text of ``level`` (``FEEDBACK_LEVELS``) for a response with ``verdict``.

    ``siblings``: (text, verdict) of the *other* rollouts of the same problem, read only by the
    ``solution`` level, which returns the first process-correct one's text ("" when none is)."""
    check_level(level)
    if level == "none":
        return ""
    if level == "solution":
        return next((text for text, other in siblings if other.process_correct), "")
    check(hasattr(task, "lines_valid"), "task", "a task with a step oracle (arithmetic or tree) for an error level",
          type(task).__name__)
    wrong = first_wrong_step(verdict)
    if wrong is None:
        return ""
    if level == "indicative":
        return "wrong"
    located = f"step {wrong + 1} is wrong"
    if level == "located":
        return located
    return f"{located}: {correction(task, problem, verdict, wrong)}"


def response_lines(verdict: Verdict) -> tuple[StepLine | None, ...]:
    """The parsed step lines of a response (``None`` for a line outside the grammar)."""
    return tuple(parse_step_line(step.text) for step in split_steps(list(verdict.steps)).step_lines)


def correction(task, problem, verdict: Verdict, wrong: int) -> str:
    """What the right step at ``wrong`` is: ``"24+8 is 32, not 31"`` (``", not ..."`` only when
    the response has a parsed step line there), or ``"the answer line is #32"`` when the step
    lines before it are the whole right solution."""
    lines = response_lines(verdict)
    right = lines[:wrong]
    if wrong >= task.length(problem):
        return f"the answer line is #{format_answer(task.answer_of_lines(right))}"
    step = right_step(task, problem, right)
    text = f"{step.lhs}{format_op(step.op)} is {step.result}"
    stated = lines[wrong] if wrong < len(lines) else None
    return text if stated is None else f"{text}, not {stated.result}"


def right_step(task, problem, right: tuple[StepLine, ...]) -> StepLine:
    """The first step line (operator symbols in the task's order, operands ascending) that
    continues the right lines ``right`` and that the task's oracle judges valid and live."""
    t = len(right)
    lhs = stated_before(problem.start, right, t)
    modulus = getattr(problem, "modulus", None)
    for symbol in task.operators:
        for operand in range(task.operand_min, task.operand_max + 1):
            candidate = StepLine(lhs, symbol, operand, apply_op(lhs, (symbol, operand), modulus))
            lines = (*right, candidate)
            if task.lines_valid(problem, lines)[t] and task.line_values(problem, lines)[t] == 1:
                return candidate
    raise AssertionError(f"the oracle offers no right step {t + 1} after right steps: {problem}")


def format_answer(answer) -> str:
    """An answer as ``task.parse_answer`` reads it back: an int, ints or ops joined by commas."""
    if isinstance(answer, int):
        return str(answer)
    if answer and isinstance(answer[0], tuple):
        return format_ops(answer, ",")
    return ",".join(str(value) for value in answer)
