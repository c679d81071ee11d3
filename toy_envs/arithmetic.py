"""Arithmetic chains: a start value and k operations applied left to right.

Prompt ``"3 +4 *2 -5\\n"`` (``" mod 7"`` before the newline when there is a modulus); gold
solution ``"3+4=7\\n7*2=14\\n14-5=9\\n#9\\n"``, or ``"#7,14,9\\n"`` as the answer line in
long-answer mode.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from toy_envs.base import check, is_int, problem_rng
from toy_envs.confidence import demonstration_confidence_line
from toy_envs.mixture import draw_length, mixture_lengths, parse_mixture
from toy_envs.ops import (
    MAX_DIGITS,
    Op,
    apply_op,
    apply_ops,
    check_int_between,
    check_shared_fields,
    fits_digit_limit,
    format_op,
    worst_case_magnitude,
)
from toy_envs.parsing import StepLine, parse_int, parse_int_list, stated_before
from toy_envs.post_completion import evaluation_text
from toy_envs.repeats import demonstration_repeats, pad_lines
from toy_envs.step_task import StepLineTask

MAX_STEPS = 12


@dataclass(frozen=True)
class ArithmeticProblem:
    """One arithmetic chain."""

    start: int
    """The value the chain starts from."""
    ops: tuple[Op, ...]
    """The k operations, applied left to right."""
    modulus: int | None
    """Every result is reduced into ``[0, modulus)``; ``None`` for plain integers."""
    index: int
    """The problem's index within its split."""
    split: str
    """``"train"`` or ``"eval"``."""


@dataclass(frozen=True)
class ArithmeticChain(StepLineTask):
    """The arithmetic-chain task; the config is the task.

    Operands are at least 1: without a modulus every operation is then injective, so two
    different values never merge and after the first wrong intermediate every later one is
    wrong too. With a modulus wrong values can merge back into the right one.
    """

    name: ClassVar[str] = "arithmetic"

    seed: int = 0
    """Seed of the problem stream; problems are a pure function of (seed, split, index)."""
    n_steps: int = 3
    """k, the number of operations, in [1, 12]."""
    start_min: int = 1
    """Smallest start value."""
    start_max: int = 99
    """Largest start value."""
    operand_min: int = 1
    """Smallest operand, >= 1 (zero operands are excluded so that values never merge)."""
    operand_max: int = 9
    """Largest operand."""
    operators: str = "+-*"
    """The operator symbols drawn from: a non-empty subset of ``+-*`` without repeats."""
    modulus: int | None = None
    """``None``, or m >= 2: every result is taken mod m into [0, m)."""
    long_answer: bool = False
    """The answer line lists every intermediate result instead of only the last."""
    confidence_line: bool = False
    """The response ends with a confidence line ``conf: <q>`` after the answer line (q in [0, 1],
    the stated chance the answer is right; demonstrations draw q uniformly per problem, see
    ``toy_envs.confidence``). It is part of the answer step; correctness ignores it."""
    post_completion: bool = False
    """The response continues after its answer line with a post-completion self-evaluation: the
    marker line ``~``, then per step line its recomputed result and ``v``/``x``, and the predicted
    reward, e.g. ``17v,14x=0`` (``toy_envs.post_completion``; PCL). Demonstrations evaluate the
    gold solution; correctness ignores the evaluation, and inference stops at the marker."""
    repeat_lines: float = 0.0
    """The chance, per step line of a demonstration, that the line is written twice (a redundant
    step: more tokens, no information; ``toy_envs.repeats``). When > 0 the verifier also accepts a
    response's verbatim repeats of the line before (valid iff that line is; they do not count
    towards the chain length). 0: no repeats in demonstrations, and a repeat is a wrong step."""
    n_steps_mix: str = ""
    """A mixture of chain lengths, e.g. ``"1:0.33,2:0.33,3:0.33,4:0.005,5:0.005"``: each problem's
    number of operations is drawn from these length:weight pairs (weights normalised by their sum),
    keyed by (seed, split, index); see ``toy_envs.mixture``. Empty: every problem has ``n_steps``
    (which a mixture replaces)."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """``ConfigError`` naming the first field whose value is not allowed."""
        check_int_between("n_steps", self.n_steps, 1, MAX_STEPS)
        if self.n_steps_mix != "":
            parse_mixture("n_steps_mix", self.n_steps_mix, 1, MAX_STEPS)
        check_shared_fields(self)
        check(isinstance(self.post_completion, bool), "post_completion", "a bool", self.post_completion)
        check(not (self.post_completion and self.confidence_line), "post_completion",
              "False when confidence_line is set (the answer line is followed by one of them)", self.post_completion)
        check(isinstance(self.repeat_lines, (int, float)) and not isinstance(self.repeat_lines, bool) and 0 <= self.repeat_lines < 1,
              "repeat_lines", "a number in [0, 1)", self.repeat_lines)
        check(
            self.modulus is None or (is_int(self.modulus) and 2 <= self.modulus <= 10**MAX_DIGITS),
            "modulus",
            f"None or an integer in [2, 10**{MAX_DIGITS}]",
            self.modulus,
        )
        start_bound = max(abs(self.start_min), abs(self.start_max))
        longest = max(self.lengths())
        length_field = "n_steps_mix" if self.n_steps_mix else "n_steps"
        worst = worst_case_magnitude(start_bound, self.operators, self.operand_max, longest)
        check(
            self.modulus is not None or fits_digit_limit(worst),
            length_field,
            f"small enough that intermediates keep at most {MAX_DIGITS} digits "
            f"(worst case {worst} with operand_max={self.operand_max}, |start| <= {start_bound})",
            getattr(self, length_field),
        )

    def lengths(self) -> tuple[int, ...]:
        """The chain lengths problems can have, ascending: ``(n_steps,)``, or those of the mixture."""
        if not self.n_steps_mix:
            return (self.n_steps,)
        return mixture_lengths(parse_mixture("n_steps_mix", self.n_steps_mix, 1, MAX_STEPS))

    def length(self, problem: ArithmeticProblem) -> int:
        """A problem's chain length (its number of operations)."""
        return len(problem.ops)

    def at_length(self, length: int) -> ArithmeticChain:
        """This config with every problem of ``length`` operations (no mixture)."""
        return replace(self, n_steps=length, n_steps_mix="")

    def problem(self, index: int, split: str = "train") -> ArithmeticProblem:
        """Problem ``index`` of ``split``; the same for the same (seed, split, index)."""
        rng = problem_rng(self.name, self.seed, split, index)
        n_steps = self.n_steps
        if self.n_steps_mix:
            mixture = parse_mixture("n_steps_mix", self.n_steps_mix, 1, MAX_STEPS)
            n_steps = draw_length(mixture, self.name, self.seed, split, index)
        start = rng.randint(self.start_min, self.start_max)
        ops = tuple(
            (rng.choice(self.operators), rng.randint(self.operand_min, self.operand_max))
            for _ in range(n_steps)
        )
        return ArithmeticProblem(start, ops, self.modulus, index, split)

    def prompt(self, problem: ArithmeticProblem) -> str:
        """``"<start> <op><operand> ...[ mod <m>]\\n"``."""
        words = [str(problem.start), *(format_op(op) for op in problem.ops)]
        if problem.modulus is not None:
            words += ["mod", str(problem.modulus)]
        return " ".join(words) + "\n"

    def gold_solution(self, problem: ArithmeticProblem) -> str:
        """One step line per operation (some written twice with ``repeat_lines``), then the answer line
        (and the confidence line or the post-completion evaluation the task asks for)."""
        values = (problem.start, *gold_intermediates(problem))
        lines = [
            f"{lhs}{format_op(op)}={result}\n" for lhs, op, result in zip(values, problem.ops, values[1:])
        ]
        repeats = demonstration_repeats(self.name, self.seed, problem.split, problem.index, len(lines), self.repeat_lines)
        solution = "".join(pad_lines(lines, repeats)) + "#" + self.format_answer(values[1:]) + "\n" + demonstration_confidence_line(self, problem)
        return solution + evaluation_text(self, problem, solution) if self.post_completion else solution

    def format_answer(self, intermediates: tuple[int, ...]) -> str:
        """The answer line's content for these intermediate results."""
        if self.long_answer:
            return ",".join(str(value) for value in intermediates)
        return str(intermediates[-1])

    def parse_answer(self, content: str) -> int | tuple[int, ...] | None:
        """The answer line's content as an int (a tuple of ints in long mode), or ``None``."""
        return parse_int_list(content) if self.long_answer else parse_int(content)

    def lines_valid(self, problem: ArithmeticProblem, lines: tuple[StepLine | None, ...]) -> list[bool]:
        """Per step line: ``step_is_valid``."""
        return [step_is_valid(problem, lines, t) for t in range(len(lines))]

    def line_values(self, problem: ArithmeticProblem, lines: tuple[StepLine | None, ...]) -> list[int]:
        """Per step line: the oracle ``step_value``."""
        gold = gold_intermediates(problem)
        return [step_value(problem, gold, lines[t], t, self.long_answer) for t in range(len(lines))]

    def answer_correct(self, problem: ArithmeticProblem, stated: int | tuple[int, ...]) -> bool:
        """The gold answer: the last intermediate result (long mode: all of them)."""
        gold = gold_intermediates(problem)
        return stated == (gold if self.long_answer else gold[-1])

    def answer_of_lines(self, lines: tuple[StepLine, ...]) -> int | tuple[int, ...]:
        """The answer the step lines state: the last line's result (long mode: every line's)."""
        results = tuple(line.result for line in lines)
        return results if self.long_answer else results[-1]


def gold_intermediates(problem: ArithmeticProblem) -> tuple[int, ...]:
    """The k correct results, gold_t = apply(gold_{t-1}, op_t) with gold_0 = start."""
    values = []
    value = problem.start
    for op in problem.ops:
        value = apply_op(value, op, problem.modulus)
        values.append(value)
    return tuple(values)


def step_is_valid(problem: ArithmeticProblem, lines: tuple[StepLine | None, ...], t: int) -> bool:
    """Line ``t`` parses, applies the t-th operation to the previous stated result and states
    the exact result (mod m when there is a modulus)."""
    line = lines[t]
    return (
        line is not None
        and t < len(problem.ops)
        and line.lhs == stated_before(problem.start, lines, t)
        and line.op == problem.ops[t]
        and line.result == apply_op(line.lhs, line.op, problem.modulus)
    )


def step_value(
    problem: ArithmeticProblem, gold: tuple[int, ...], line: StepLine | None, t: int, long_answer: bool
) -> int:
    """The oracle: 1 iff continuing correctly from line ``t``'s stated result can still give a
    correct answer; 0 for an unparseable line or t >= k.

    Short mode: applying operations t+1..k-1 to the stated result gives the gold answer (with a
    modulus a wrong value can merge into the right one). Long mode: the answer lists the
    stated result itself, so it must equal gold_t.
    """
    if line is None or t >= len(problem.ops):
        return 0
    if long_answer:
        return int(line.result == gold[t])
    return int(apply_ops(line.result, problem.ops[t + 1 :], problem.modulus) == gold[-1])
