"""Verification by execution: a judge's calculations computed by the sandbox, not by the judge.

GenPRM ("GenPRM: Scaling Test-Time Compute of Process Reward Models via Generative Reasoning",
Zhao et al. 2025, arXiv 2504.00891) lets its judge write code for the step it checks, runs it,
and appends the output to the judge's context before the judge writes its verdict: a judge that
reasons well but calculates badly then judges from the right numbers. The sandbox's judges
(``sandbox.prm.generative``) recompute each step as a line ``a<op>b=r`` and then write ``Y``/``N``
(``sandbox.prm.verification``); with execution the judge writes ``a<op>b=``, the sandbox computes

    r = apply_op(a, (op, b), modulus)          (the task's own arithmetic; ``toy_envs.ops``)

appends its digits, and the judge continues from there (the rest of the line, its verdict):

    judge writes  "17+2="   →  sandbox appends "19"  →  judge writes " Y\\n"  (or " N" when 19 ≠ the stated value)

The calculation is read with the task's grammar (``toy_envs.parsing.parse_step_line``): only a
line that is exactly ``<int><op><int>=`` is executed, nothing is ever passed to ``eval`` or
``exec``, and any other line is left to the judge. The modulus is the problem's
(``problem.modulus``; ``None`` for plain integers and for tasks without one).

Cut down from GenPRM: the "code" is the one-operation calculation of the judge's own chain format
(no program, no interpreter); the judge was not trained with executed results in its context
(its training chains hold its own recomputations, ``sandbox.train.judge_sft``), so execution
changes only the numbers it reads, not how it learned to use them.
"""

from __future__ import annotations

from toy_envs.ops import apply_op
from toy_envs.parsing import parse_step_line

CALCULATION_END = "="
"""The character after which a calculation line is complete and executed."""


def calculation_result(line: str, modulus: int | None = None) -> str | None:
    """The digits the sandbox appends to a verification line ``line`` that is exactly
    ``<int><op><int>=`` (no newline), or ``None`` for any other line."""
    if not line.endswith(CALCULATION_END) or "\n" in line:
        return None
    parsed = parse_step_line(line + "0")  # the grammar of a step line, with a placeholder result
    if parsed is None or f"{parsed.lhs}{parsed.symbol}{parsed.operand}{CALCULATION_END}" != line:
        return None
    return str(apply_op(parsed.lhs, (parsed.symbol, parsed.operand), modulus))


def first_calculation(text: str, start: int, modulus: int | None = None) -> tuple[int, str] | None:
    """The first calculation completed at or after ``start`` in ``text`` (a chain): (the index
    just after its ``=``, the executed result), or ``None`` when there is none."""
    at = text.find(CALCULATION_END, start)
    while at != -1:
        line_start = text.rfind("\n", 0, at) + 1
        result = calculation_result(text[line_start : at + 1], modulus)
        if result is not None:
            return at + 1, result
        at = text.find(CALCULATION_END, at + 1)
    return None
