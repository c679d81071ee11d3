"""The text a generative judge writes: one verification line per step, then a final verdict.

A judge reads ``prompt + response + CHECK`` and continues with a *verification chain*:

    check                    <- CHECK, the end of the judge's input
    3+4=7 Y                  <- step 0 of "3+4=7\n7*2=15\n15-5=10\n#10\n": recomputed, verdict
    7*2=14 N                 <- step 1: the judge's 7*2 is 14, not the stated 15
    15-5=10 Y                <- step 2: right from the stated 15
    #10 Y                    <- the answer line restated, then its verdict
    all N                    <- the final "is the solution correct?" verdict
    again                    <- optional: another pass ("check again", sequential scaling)
    ...
    <eos>

Recomputation is what makes the judge "think before judging" (ThinkPRM, Khalifa et al. 2025,
arXiv 2504.16828): a step line ``a<op>b=c`` is rewritten as ``a<op>b=r`` with r the judge's own
result of ``a<op>b`` (mod m where the task has a modulus), so the verdict can follow from
comparing r with the stated c; an unparseable line is rewritten as ``?``; the answer line is
restated as it is. The verdict token is ``Y`` (the step is good) or ``N``; a step's score is
P(Y) / (P(Y) + P(N)) at that token, the solution's score the same at the final verdict.

``template_chain`` writes the chain a judge *should* write for given step labels, with an
``error_rate``: each step verdict is flipped with that probability and its recomputation is
written to agree with the flipped verdict (a stated-correct result recomputed off by a small
amount; a wrong one "confirmed"), so an erring chain is internally consistent, as a confident
but wrong large model's would be. The final verdict is ``Y`` iff every step verdict of the pass
is ``Y``. The labels (and the task's oracle behind them) are used here only to *write training
text*; judging a solution reads only its text.
"""

from __future__ import annotations

import random

from toy_envs.base import Step
from toy_envs.ops import apply_op
from toy_envs.parsing import parse_step_line

CHECK = "check\n"
"""Appended to ``prompt + response``: the judge's chain starts after it."""
AGAIN = "again\n"
"""Starts another verification pass (sequential scaling)."""
FINAL = "all "
"""Starts the final-verdict line."""
YES, NO = "Y", "N"
"""The verdict tokens."""


def recompute(step: Step, modulus: int | None) -> str:
    """The judge's rewrite of one step: ``a<op>b=r`` for a step line, the answer line as stated,
    ``?`` for anything else."""
    if step.kind == "answer":
        return step.text.split("\n", 1)[0].strip()
    line = parse_step_line(step.text)
    if line is None:
        return "?"
    return f"{line.lhs}{line.symbol}{line.operand}={apply_op(line.lhs, line.op, modulus)}"


def erring_recompute(step: Step, modulus: int | None, label_good: bool, rng: random.Random) -> str:
    """A recomputation that agrees with the *flipped* verdict: for a good step, its stated result
    off by 1..3; for a bad step, the stated result confirmed (unparseable/answer lines as usual)."""
    line = parse_step_line(step.text) if step.kind == "step" else None
    if line is None:
        return recompute(step, modulus)
    result = line.result + rng.choice((-3, -2, -1, 1, 2, 3)) if label_good else line.result
    return f"{line.lhs}{line.symbol}{line.operand}={result}"


def pass_text(steps: list[Step], verdicts: list[bool], lines: list[str]) -> str:
    """One verification pass: a line per step, then the final verdict line."""
    body = "".join(f"{text} {YES if good else NO}\n" for text, good in zip(lines, verdicts))
    return body + f"{FINAL}{YES if all(verdicts) else NO}\n"


def template_chain(
    steps: list[Step], labels: list[float], modulus: int | None, error_rate: float, rng: random.Random,
    passes: int = 1,
) -> str:
    """The verification chain for ``steps`` with step ``labels`` (≥ 0.5 = good), each step
    verdict flipped with probability ``error_rate`` (independently in every pass)."""
    if len(steps) != len(labels):
        raise ValueError(f"{len(labels)} labels for {len(steps)} steps")
    chunks = []
    for _ in range(passes):
        verdicts, lines = [], []
        for step, label in zip(steps, labels):
            good = label >= 0.5
            if rng.random() < error_rate:
                verdicts.append(not good)
                lines.append(erring_recompute(step, modulus, good, rng))
            else:
                verdicts.append(good)
                lines.append(recompute(step, modulus))
        chunks.append(pass_text(steps, verdicts, lines))
    return AGAIN.join(chunks)


def line_verdict(line: str) -> bool | None:
    """``True``/``False`` for a line ending in " Y"/" N", else ``None``."""
    if len(line) >= 2 and line[-2] == " " and line[-1] in (YES, NO):
        return line[-1] == YES
    return None


def parse_passes(chain: str) -> list[tuple[list[bool | None], bool | None]]:
    """Each pass of a chain as (step verdicts, final verdict); a line without a readable verdict
    gives ``None``; a pass without a readable final line has final ``None``."""
    passes = []
    for chunk in chain.split(AGAIN):
        steps, final = [], None
        for line in chunk.split("\n"):
            if line.startswith(FINAL):
                final = {YES: True, NO: False}.get(line[len(FINAL):])
                break
            if line:
                steps.append(line_verdict(line))
        passes.append((steps, final))
    return passes


def verdict_offsets(chain: str) -> tuple[list[int], int | None]:
    """Character offsets in ``chain`` of the *last* pass's step verdict tokens and of its final
    verdict token (``None`` if absent). A line counts as a step verdict when it ends in
    " Y"/" N"; scoring reads the judge's probabilities at these offsets."""
    start = chain.rfind(AGAIN)
    start = 0 if start < 0 else start + len(AGAIN)
    steps, final, pos = [], None, start
    for line in chain[start:].split("\n"):
        end = pos + len(line)
        if line.startswith(FINAL) and len(line) == len(FINAL) + 1:
            final = end - 1
            break
        if line_verdict(line) is not None:
            steps.append(end - 1)
        pos = end + 1
    return steps, final
