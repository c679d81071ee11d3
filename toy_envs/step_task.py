"""The one ``score`` of the tasks whose solutions are step lines (``toy_envs.parsing``):
arithmetic chains and tree puzzles.

A response is segmented into step lines and an answer step; each step line is parsed
(``StepLine`` or ``None``), and the verdict is

    step_valid[t]  = task.lines_valid(problem, lines)[t]           t < #lines
    step_value[t]  = task.line_values(problem, lines)[t]
    answer step:     correct = stated parses and task.answer_correct(problem, stated)
                     valid   = exactly length(problem) lines, all parsed, and
                               stated == task.answer_of_lines(lines)
                     value   = int(correct)
    first_error    = the first t with step_valid[t] false

over the essential lines (``essential_lines``: all of them, or without redundant repeats for a
task with ``repeat_lines``, whose repeats take the validity and value of the line they repeat),
so a task supplies only its oracle (which line is valid, which stated result can still reach a
correct answer, which answer is right) and its answer grammar (``parse_answer``,
``answer_of_lines``). reasoning-gym tasks have no step oracle and score on their own
(``toy_envs.reasoning_gym``).
"""

from __future__ import annotations

from toy_envs.base import Rubric, Step, Verdict
from toy_envs.parsing import (
    StepLine,
    answer_line_content,
    first_error,
    format_rubric,
    parse_status,
    parse_step_line,
    segment_lines,
    split_steps,
)
from toy_envs.repeats import essential_indices, spread


class StepLineTask:
    """Mixin of a task dataclass with ``long_answer`` and ``confidence_line`` fields and the
    methods ``length``, ``parse_answer``, ``lines_valid``, ``line_values``, ``answer_correct``
    and ``answer_of_lines``."""

    def segment(self, text: str) -> list[Step]:
        """Step lines, then the answer step; the spans partition ``text``."""
        return segment_lines(text, lambda content: self.parse_answer(content) is not None)

    def score(self, problem, text: str) -> Verdict:
        """Correctness, parse status, per-step validity and oracle value, first error."""
        steps = self.segment(text)
        segmented = split_steps(steps)
        lines = tuple(parse_step_line(step.text) for step in segmented.step_lines)
        checked = self.essential_lines(lines)
        valid = list(self.lines_valid(problem, checked))
        values = list(self.line_values(problem, checked))
        if checked != lines:
            valid, values = spread(valid, lines), spread(values, lines)
        correct = False
        answer = None
        if segmented.answer is not None:
            answer = answer_line_content(segmented.answer.text)
            stated = self.parse_answer(answer)
            correct = stated is not None and self.answer_correct(problem, stated)
            valid.append(answer_is_valid(stated, checked, self.length(problem), self.answer_of_lines))
            values.append(int(correct))
        return Verdict(
            correct=correct,
            parse_status=parse_status(segmented),
            steps=tuple(steps),
            step_valid=tuple(valid),
            step_value=tuple(values),
            first_error=first_error(tuple(valid)),
            answer=answer,
        )

    def essential_lines(self, lines: tuple[StepLine | None, ...]) -> tuple[StepLine | None, ...]:
        """The lines the oracle checks: all of them, or without verbatim repeats of the line before
        when the task accepts redundant lines (``repeat_lines`` > 0, ``toy_envs.repeats``)."""
        if getattr(self, "repeat_lines", 0.0) > 0:
            return tuple(lines[t] for t in essential_indices(lines))
        return lines

    def format_rubric(self, text: str) -> Rubric:
        """Every step line parses, nothing but whitespace after the answer line (one confidence
        line with ``confidence_line``, one post-completion evaluation with ``post_completion``),
        answer present."""
        return format_rubric(split_steps(self.segment(text)), self.confidence_line, getattr(self, "post_completion", False))


def answer_is_valid(stated, lines: tuple[StepLine | None, ...], length: int, answer_of_lines) -> bool:
    """Exactly ``length`` step lines, all parsed, precede the answer, and it states what they
    do (``answer_of_lines``: their last result, their results, or their ops)."""
    if len(lines) != length or any(line is None for line in lines):
        return False
    return stated == answer_of_lines(lines)
