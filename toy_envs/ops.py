"""The integer operations both tasks are built from: ``+``, ``-`` and ``*`` by a constant.

An operation is a pair ``(symbol, operand)`` such as ``("*", 2)``; it is written ``*2``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from toy_envs.base import check, is_int

Op = tuple[str, int]

OPERATOR_SYMBOLS = "+-*"
"""Every operator symbol a task may offer."""

MAX_DIGITS = 18
"""The most digits a number in a task line may have; the grammar reads no longer numbers,
and configs are rejected when a gold intermediate could need more."""


def apply_op(value: int, op: Op, modulus: int | None = None) -> int:
    """``value <symbol> operand``, reduced into ``[0, modulus)`` when a modulus is given."""
    symbol, operand = op
    if symbol == "+":
        result = value + operand
    elif symbol == "-":
        result = value - operand
    else:
        result = value * operand
    return result if modulus is None else result % modulus


def apply_ops(value: int, ops: Iterable[Op], modulus: int | None = None) -> int:
    """Apply ``ops`` left to right starting from ``value``."""
    for op in ops:
        value = apply_op(value, op, modulus)
    return value


def format_op(op: Op) -> str:
    """``("*", 2)`` -> ``"*2"``."""
    return f"{op[0]}{op[1]}"


def format_ops(ops: Sequence[Op], separator: str) -> str:
    """Every op written with ``format_op``, joined by ``separator``."""
    return separator.join(format_op(op) for op in ops)


def worst_case_magnitude(start_bound: int, operators: str, operand_max: int, n_steps: int) -> int:
    """An upper bound on ``|value|`` after ``n_steps`` operations from ``|start| <= start_bound``
    with operands in ``[1, operand_max]`` and the given operator symbols."""
    bound = start_bound
    for _ in range(n_steps):
        bound = max(bound + operand_max, bound * operand_max if "*" in operators else 0)
    return bound


def fits_digit_limit(magnitude: int) -> bool:
    """Whether every integer of absolute value ``<= magnitude`` has at most ``MAX_DIGITS`` digits."""
    return magnitude < 10**MAX_DIGITS


def check_shared_fields(task) -> None:
    """The checks of the fields both tasks have: seed, start and operand ranges, operators,
    long_answer, confidence_line (``ConfigError`` naming the first that is not allowed)."""
    check(is_int(task.seed), "seed", "an integer", task.seed)
    check_int_range("start_min", task.start_min, "start_max", task.start_max, None)
    check_int_range("operand_min", task.operand_min, "operand_max", task.operand_max, 1)
    check_operators(task.operators)
    check(isinstance(task.long_answer, bool), "long_answer", "a bool", task.long_answer)
    check(isinstance(task.confidence_line, bool), "confidence_line", "a bool", task.confidence_line)


def check_operators(operators: object) -> None:
    """``ConfigError`` unless ``operators`` is a non-empty string of distinct symbols from ``+-*``."""
    allowed = f"a non-empty string of distinct symbols from {OPERATOR_SYMBOLS!r}"
    valid = (
        isinstance(operators, str)
        and len(operators) > 0
        and set(operators) <= set(OPERATOR_SYMBOLS)
        and len(set(operators)) == len(operators)
    )
    check(valid, "operators", allowed, operators)


def check_int_range(low_name: str, low: object, high_name: str, high: object, minimum: int | None) -> None:
    """``ConfigError`` unless ``low`` and ``high`` are ints with ``minimum <= low <= high`` and
    both have at most ``MAX_DIGITS`` digits."""
    at_least = "" if minimum is None else f" >= {minimum}"
    check(is_int(low) and (minimum is None or low >= minimum), low_name, f"an integer{at_least}", low)
    check(is_int(high), high_name, "an integer", high)
    check(low <= high, low_name, f"<= {high_name}={high!r}", low)
    for name, value in ((low_name, low), (high_name, high)):
        check(fits_digit_limit(abs(value)), name, f"at most {MAX_DIGITS} digits", value)


def check_int_between(name: str, value: object, low: int, high: int) -> None:
    """``ConfigError`` unless ``value`` is an int in ``[low, high]``."""
    check(is_int(value) and low <= value <= high, name, f"an integer in [{low}, {high}]", value)
