"""Task mixtures: a problem's length (chain operations, tree depth) drawn per problem from a stated distribution.

A mixture is written as a string of ``length:weight`` pairs, e.g. ``"1:0.33,2:0.33,3:0.33,4:0.005,5:0.005"``.
Lengths are distinct integers in the task's range; weights are non-negative numbers, at least one
positive, and are normalised by their sum (``"4:1,5:1"`` is half 4, half 5). The empty string means
no mixture: every problem has the config's fixed length.

Problem i of a split has length

    L_i = F^{-1}(u_i),    u_i uniform in [0, 1) keyed by (task, seed, split, index)

with F the cumulative distribution of the normalised weights in the written order. u_i comes from
its own keyed stream (``problem_rng`` of ``"<task>|length"``), not from the problem's stream, so the
rest of a problem (start value, ops) is drawn exactly as for a fixed-length config: problem i of a
mixture with L_i = k equals problem i of the same config with the fixed length k, and configs
without a mixture are unchanged.

The task field stays this string rather than a typed tuple of pairs, unlike the list-valued
fields of the run configs (``sandbox.config``): it is the one value a user writes
(``--task-n-steps-mix 4:1,5:1``), a task config is saved by value in every checkpoint's
``task_fields`` and in the cache key of every warm start built from it, and a pair list would need
its own flag grammar besides. It is parsed at the boundary, once per distinct string
(``parse_mixture_text`` is cached), into the typed ``Mixture`` that the draws use.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math

from toy_envs.base import ConfigError, check, problem_rng

Mixture = tuple[tuple[int, float], ...]
"""``((length, probability), ...)`` in the written order, probabilities summing to 1."""


def parse_mixture(field_name: str, spec: object, low: int, high: int) -> Mixture:
    """The mixture written in ``spec`` with probabilities normalised; ``ConfigError`` naming
    ``field_name`` unless it is a comma-separated list of ``length:weight`` pairs with distinct
    integer lengths in [low, high] and finite weights >= 0 that are not all zero."""
    check(isinstance(spec, str), field_name, allowed_mixtures(low, high), spec)
    return parse_mixture_text(field_name, spec, low, high)


def allowed_mixtures(low: int, high: int) -> str:
    return (
        f"'' or comma-separated length:weight pairs such as '1:0.5,2:0.49,3:0.01' "
        f"(distinct integer lengths in [{low}, {high}], weights >= 0, not all zero; normalised by their sum)"
    )


@functools.lru_cache(maxsize=64)
def parse_mixture_text(field_name: str, spec: str, low: int, high: int) -> Mixture:
    """``parse_mixture`` of a string (cached: a task parses its mixture once per problem)."""
    allowed = allowed_mixtures(low, high)
    pairs = []
    for item in spec.split(","):
        parts = item.strip().split(":")
        check(len(parts) == 2, field_name, allowed, spec)
        try:
            length, weight = int(parts[0]), float(parts[1])
        except ValueError:
            raise ConfigError(f"{field_name}={spec!r} is not allowed: {allowed}") from None
        check(low <= length <= high and math.isfinite(weight) and weight >= 0, field_name, allowed, spec)
        pairs.append((length, weight))
    lengths = [length for length, _ in pairs]
    total = sum(weight for _, weight in pairs)
    check(len(set(lengths)) == len(lengths) and total > 0, field_name, allowed, spec)
    return tuple((length, weight / total) for length, weight in pairs)


def mixture_lengths(mixture: Mixture) -> tuple[int, ...]:
    """The lengths that have a positive probability, ascending."""
    return tuple(sorted(length for length, probability in mixture if probability > 0))


def draw_length(mixture: Mixture, task_name: str, seed: int, split: str, index: int) -> int:
    """L_i = F^{-1}(u_i) (module docstring), a pure function of (task, seed, split, index)."""
    u = problem_rng(f"{task_name}|length", seed, split, index).random()
    cumulative = list(itertools.accumulate(probability for _, probability in mixture))
    at = min(bisect.bisect_right(cumulative, u), len(mixture) - 1)  # rounding can leave the last sum under 1
    while mixture[at][1] == 0:  # u fell on the boundary of a zero-weight length: the previous positive one
        at -= 1
    return mixture[at][0]
