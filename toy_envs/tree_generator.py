"""The tree-puzzle generator: ops per level and a target whose dead-end measure is closest
to the ``dead_end_fraction`` knob (the measure: ``toy_envs.tree_dead_ends``).

Problems are a pure function of (seed, split, index). The start value is
drawn, then ``GENERATION_TRIES`` candidate draws of every level's ops (fewer for big
trees, see ``NODE_BUDGET``); draw i is of kind ``i % 3``:

- *random*: b distinct random ops per level. Random trees rarely merge, so nearly every
  live node has one live child: measure about (b-1)/b.
- *tight lattice*: every level's ops add offsets base_t + delta * j for j = 0..b-1 (delta
  drawn in 1..3 per draw, base_t set per level by a random allowed op standing at a random
  j; offset o is the op ``+o``, ``-o`` or, for 0, ``*1``, and at the first level any
  allowed op taking start to start + o, ``*m`` included). Sums of different paths then
  coincide and many paths merge. When neither ``+`` nor ``-`` is allowed, the lattice is
  multiplicative instead: ops ``*g**j`` for min(b, #powers) consecutive j, g drawn among
  the bases in 2..``MAX_POWER_BASE`` with two or more powers in the operand range,
  random ops for the rest (no such base: the draw is random).
- *loose lattice*: the same with j a random b-subset of 0..b-1+extra (extra drawn in
  1..b; multiplicative: any powers), and each level random instead with probability
  ``LOOSE_RANDOM_LEVEL``; these give intermediate measures.

A lattice level that cannot be placed in ``LATTICE_ATTEMPTS`` tries (operand range,
operators) gets random ops. For every draw and every leaf value as target the measure is
computed exactly (``dead_end_counts``); the (draw, target) pair closest to the knob wins,
ties broken by the problem's rng, and the gold path is the first solution in offered
order. The target is a leaf value, so a solution always exists. A tight lattice with the
target in the middle of its range of sums gives the floor and targets toward the edges
give larger values, so the measure follows the knob over [floor, (b-1)/b]. Where a config
cannot build lattices (e.g. ``operators="*"`` with no base having two powers in the operand
range, or barely more distinct ops than b) the closest among the draws is taken, which
can stay near (b-1)/b whatever the knob. Cost at the defaults: about 2-3 ms per problem.
"""

from __future__ import annotations

import math
from itertools import product
from random import Random
from typing import TYPE_CHECKING

from toy_envs.ops import Op, apply_op, apply_ops
from toy_envs.tree_dead_ends import Levels, dead_end_counts, mean_dead_end_fraction

if TYPE_CHECKING:
    from toy_envs.tree_puzzle import TreePuzzle

GENERATION_TRIES = 24
"""Candidate op draws per problem at most; the generator keeps the (draw, target) pair whose
dead-end fraction is closest to the knob."""
NODE_BUDGET = 2000
"""Big trees get fewer draws: ``max(MIN_TRIES, min(GENERATION_TRIES, NODE_BUDGET // n))`` for a
tree of n non-root nodes (24 at the default depth 3, branching 3; 3 at depth 6, branching 5)."""
MIN_TRIES = 3
"""Draws per problem at least: one of each kind (random, tight lattice, loose lattice)."""
LATTICE_ATTEMPTS = 16
"""Tries at placing one level's ops on a lattice before that level falls back to random ops."""
LOOSE_RANDOM_LEVEL = 0.25
"""In a loose-lattice draw, the chance that a level gets random ops instead."""
MAX_POWER_BASE = 10
"""Largest base g of a multiplicative lattice (ops ``*g**j``)."""
RANDOM, TIGHT, LOOSE = range(3)
"""Kinds of op draw; draw i of a problem is of kind ``i % 3``."""


def draw_puzzle(puzzle: TreePuzzle, start: int, depth: int, rng: Random) -> tuple[Levels, int, float]:
    """(levels, target, achieved dead-end fraction) of one problem of ``depth`` levels from
    ``start``: the (draw, target) pair closest to the knob, ties broken by ``rng``."""
    n_nodes = sum(puzzle.branching**level for level in range(1, depth + 1))
    tries = max(MIN_TRIES, min(GENERATION_TRIES, NODE_BUDGET // n_nodes))
    closest: list[tuple[Levels, int, float]] = []
    closest_distance = math.inf
    for attempt in range(tries):
        levels = draw_levels(puzzle, start, attempt % 3, rng, depth)
        for target, counts in dead_end_counts(start, levels).items():
            fraction = mean_dead_end_fraction(counts, puzzle.branching)
            distance = round(abs(fraction - puzzle.dead_end_fraction), 9)
            if distance < closest_distance:
                closest, closest_distance = [], distance
            if distance == closest_distance:
                closest.append((levels, target, fraction))
    return rng.choice(closest)


def paths_reaching(start: int, levels: Levels, target: int) -> list[tuple[Op, ...]]:
    """Every op path (one op per level, in offered order) from ``start`` to ``target``."""
    return [path for path in product(*levels) if apply_ops(start, path) == target]


def draw_levels(puzzle: TreePuzzle, start: int, kind: int, rng: Random, depth: int) -> Levels:
    """One candidate draw of the ops of ``depth`` levels, of kind ``RANDOM``, ``TIGHT`` or ``LOOSE``."""
    if kind == RANDOM:
        return tuple(draw_level(puzzle, rng) for _ in range(depth))
    loose = kind == LOOSE
    additive = "+" in puzzle.operators or "-" in puzzle.operators
    bases = [] if additive else power_bases(puzzle)
    if not additive and not bases:
        return tuple(draw_level(puzzle, rng) for _ in range(depth))
    step = rng.randint(1, 3) if additive else rng.choice(bases)
    levels = []
    for level in range(depth):
        ops = None
        if not (loose and rng.random() < LOOSE_RANDOM_LEVEL):
            if additive:
                ops = additive_lattice_level(puzzle, start, level == 0, step, loose, rng)
            else:
                ops = power_lattice_level(puzzle, step, loose, rng)
        levels.append(ops if ops is not None else draw_level(puzzle, rng))
    return tuple(levels)


def draw_level(puzzle: TreePuzzle, rng: Random) -> tuple[Op, ...]:
    """``branching`` distinct random ops, in the order first drawn."""
    ops: dict[Op, None] = {}
    while len(ops) < puzzle.branching:
        ops[(rng.choice(puzzle.operators), rng.randint(puzzle.operand_min, puzzle.operand_max))] = None
    return tuple(ops)


def lattice_steps(puzzle: TreePuzzle, loose: bool, rng: Random) -> list[int]:
    """The multipliers j of one lattice level: 0..b-1, or (loose) a random b-subset of
    0..b-1+extra, extra drawn in 1..b."""
    if not loose:
        return list(range(puzzle.branching))
    return sorted(rng.sample(range(puzzle.branching + rng.randint(1, puzzle.branching)), puzzle.branching))


def additive_lattice_level(puzzle: TreePuzzle, start: int, root: bool, delta: int, loose: bool, rng: Random
) -> tuple[Op, ...] | None:
    """b distinct ops with offsets base + delta * j (j from ``lattice_steps``; the base set
    by a random op standing at a random j), shuffled; ``None`` when ``LATTICE_ATTEMPTS``
    tries leave some offset without an allowed op."""
    for _ in range(LATTICE_ATTEMPTS):
        steps = lattice_steps(puzzle, loose, rng)
        anchor = (rng.choice(puzzle.operators), rng.randint(puzzle.operand_min, puzzle.operand_max))
        if root:
            offset = apply_op(start, anchor) - start
        elif anchor[0] == "*":
            if anchor[1] != 1:
                continue
            offset = 0
        else:
            offset = anchor[1] if anchor[0] == "+" else -anchor[1]
        base = offset - delta * rng.choice(steps)
        ops = [op_for_offset(puzzle, start, base + delta * j, root, rng) for j in steps]
        if all(op is not None for op in ops):
            rng.shuffle(ops)
            return tuple(ops)
    return None


def op_for_offset(puzzle: TreePuzzle, start: int, offset: int, root: bool, rng: Random) -> Op | None:
    """An allowed op adding ``offset`` (at the root: taking ``start`` to start + offset, so
    ``*m`` qualifies too), picked by ``rng`` among those that do; ``None`` if none does."""
    low, high = puzzle.operand_min, puzzle.operand_max
    options: list[Op] = []
    if "+" in puzzle.operators and low <= offset <= high:
        options.append(("+", offset))
    if "-" in puzzle.operators and low <= -offset <= high:
        options.append(("-", -offset))
    if "*" in puzzle.operators:
        if root and start != 0:
            value = start + offset
            if value % start == 0 and low <= value // start <= high:
                options.append(("*", value // start))
        elif root and offset == 0:
            options.append(("*", rng.randint(low, high)))
        elif offset == 0 and low == 1:
            options.append(("*", 1))
    return rng.choice(options) if options else None


def power_bases(puzzle: TreePuzzle) -> list[int]:
    """Bases g in 2..``MAX_POWER_BASE`` with at least two powers of g in the operand range."""
    return [base for base in range(2, MAX_POWER_BASE + 1) if len(operand_powers(puzzle, base)) >= 2]


def operand_powers(puzzle: TreePuzzle, base: int) -> list[int]:
    """The powers of ``base`` in [operand_min, operand_max], ascending."""
    powers, power = [], 1
    while power <= puzzle.operand_max:
        if power >= puzzle.operand_min:
            powers.append(power)
        power *= base
    return powers


def power_lattice_level(puzzle: TreePuzzle, base: int, loose: bool, rng: Random) -> tuple[Op, ...]:
    """Ops ``*base**j`` for min(b, #powers) consecutive powers in the operand range (loose:
    any of them), random distinct ops for the rest, shuffled."""
    powers = operand_powers(puzzle, base)
    n = min(puzzle.branching, len(powers))
    if loose:
        chosen = rng.sample(powers, n)
    else:
        first = rng.randint(0, len(powers) - n)
        chosen = powers[first : first + n]
    ops: dict[Op, None] = {("*", power): None for power in chosen}
    while len(ops) < puzzle.branching:
        ops[(rng.choice(puzzle.operators), rng.randint(puzzle.operand_min, puzzle.operand_max))] = None
    shuffled = list(ops)
    rng.shuffle(shuffled)
    return tuple(shuffled)
