r"""Post-completion self-evaluation: what a response writes after its answer, and what inference never reads.

Post-Completion Learning (PCL; Fei et al. 2025, arXiv 2507.20252) lets a model keep writing after
its answer, past a marker: an evaluation of its own response by the task's reward rules, ending
in the reward it predicts. Training reads that text; inference stops at the marker, so the
evaluation costs nothing when the model is used. For a task with ``post_completion`` set the
response is

    <step lines><answer line>~\n<recomputed><v|x>,... one per step line=<predicted reward>\n
    e.g.   12+5=17\n17-3=15\n#15\n~\n17v,14x=0\n

The evaluation line is the task's reward rule worked out in the open (white-box): per step line
before the answer, the result its own left-hand side and operation give (``?`` for a line that
does not parse) and the verdict (``v`` when the oracle finds the line valid: it continues from the
previous stated result with the problem's operation and states that result; ``x`` otherwise),
then the reward, 1[the answer is right]. Recomputing first puts the value a line should state
beside its verdict, so judging a line is a comparison the evaluation has written out (with
verdicts alone, ``vx=0``, the tiny model's verdicts on held-out attempts stayed at chance after
300 SFT steps: 48% exact; with the recomputed values given, 79%).

``evaluation_text(task, problem, text)`` is the oracle's own evaluation of a response, the text a
demonstration or an evaluation-track target holds; ``parse_evaluation`` reads a response's
(``toy_envs.parsing``'s grammar: a regular-expression match, nothing evaluated);
``inference_text`` is what deployment returns (the response before the marker: decoding stops at
the marker as it stops at ``<eos>``, and neither is part of the text).

A demonstration's evaluation is the gold solution's (every line ``v``, ``=1``); the wrong attempts
a PCL warm start also evaluates (``sandbox.train.pcl_warmstart``) teach the ``x`` and ``=0`` cases.
"""

from __future__ import annotations

from toy_envs.ops import apply_op
from toy_envs.parsing import (
    ANSWER_MARK,
    POST_COMPLETION_MARK,
    Evaluation,
    parse_evaluation_trailer,
    parse_step_line,
    split_lines,
)

MARKER = POST_COMPLETION_MARK
"""The post-completion marker: a line of its own after the answer line; inference stops there."""
MARKER_LINE = MARKER + "\n"
VALID, INVALID = "v", "x"


def evaluation_text(task, problem, text: str) -> str:
    """The oracle's evaluation of response ``text`` to an arithmetic ``problem``: the marker line, then
    per step line (the answer step excluded) its recomputed result and ``v``/``x``, and ``=1`` when
    the answer is right, ``=0`` otherwise."""
    verdict = task.score(problem, text)
    items = []
    for step, valid in zip(verdict.steps, verdict.step_valid):
        if step.kind == "step":
            line = parse_step_line(step.text)
            value = "?" if line is None else str(apply_op(line.lhs, line.op, problem.modulus))
            items.append(value + (VALID if valid else INVALID))
    return MARKER_LINE + ",".join(items) + f"={int(verdict.correct)}\n"


def parse_evaluation(text: str) -> Evaluation | None:
    """The evaluation a response writes after its answer line (the first line starting with ``#``);
    ``None`` when there is no answer line or what follows it is not exactly one evaluation."""
    lines = split_lines(text)
    for index, line in enumerate(lines):
        if line.startswith(ANSWER_MARK):
            return parse_evaluation_trailer("".join(lines[index + 1 :]))
    return None


def inference_text(text: str) -> str:
    """What inference returns: ``text`` before the marker that starts a line after the answer line
    (decoding stops at that token), or all of ``text`` when it writes none."""
    lines = split_lines(text)
    answered = False
    for index, line in enumerate(lines):
        if answered and line.startswith(MARKER):
            return "".join(lines[:index])
        answered = answered or line.startswith(ANSWER_MARK)
    return text
