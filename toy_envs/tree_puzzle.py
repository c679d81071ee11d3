"""Tree-structured puzzles: reach a target from a start value by picking one op per level.

Prompt ``"5 -> 9\\nL1: +3 *2 -1\\nL2: +1 *3 -2\\nL3: ...\\n"``. Every node at level t offers
the same ops (those of ``L{t+1}``), so the tree is implicit: b^d root-to-leaf paths. A solution
writes one step line per level (``5*2=10``) and then the answer line: the op path
(``#*2,+1,-2``) or, in long-answer mode, every intermediate result (``#10,11,9``). A step can
be valid (an offered op, right arithmetic) and still a dead end: the target is no longer
reachable below it.

How many of the offered branches are dead ends is the ``dead_end_fraction`` knob; it is
measured along the way to a solution (see ``step_dead_end_fractions``) and the generator
builds problems whose measured value is as close to the knob as it can get (see
``TreePuzzle``).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, replace
from itertools import product
from random import Random
from typing import ClassVar

import networkx as nx

from toy_envs.base import Rubric, Step, Verdict, check, problem_rng
from toy_envs.confidence import demonstration_confidence_line
from toy_envs.mixture import draw_length, mixture_lengths, parse_mixture
from toy_envs.ops import (
    Op,
    apply_op,
    apply_ops,
    check_int_between,
    check_shared_fields,
    fits_digit_limit,
    format_op,
    format_ops,
    worst_case_magnitude,
)
from toy_envs.parsing import (
    StepLine,
    answer_line_content,
    first_error,
    format_rubric,
    parse_int_list,
    parse_op_list,
    parse_status,
    parse_step_line,
    segment_lines,
    split_steps,
    stated_before,
)

MAX_DEPTH = 6
MAX_BRANCHING = 5
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

Levels = tuple[tuple[Op, ...], ...]


@dataclass(frozen=True)
class TreeProblem:
    """One tree puzzle."""

    start: int
    """The root value."""
    levels: Levels
    """``levels[t]``: the distinct ops offered at level t+1 (prompt line ``L{t+1}``)."""
    target: int
    """The value to reach at a leaf; at least one leaf has it."""
    dead_end_fraction: float
    """The achieved value of the knob: the mean over the d steps of ``step_dead_end_fractions``
    (for the whole-tree fraction of dead nodes see ``tree_dead_end_fraction``)."""
    gold_path: tuple[Op, ...]
    """The first solution in the order the ops are offered."""
    index: int
    """The problem's index within its split."""
    split: str
    """``"train"`` or ``"eval"``."""


@dataclass(frozen=True)
class TreePuzzle:
    """The tree-puzzle task; the config is the task.

    **The dead-end knob.** A node is *live* when the target is reachable at or below it, else a
    *dead end*. For step t = 1..d take the live nodes of level t-1 (the states a solver can be
    in after t-1 steps without a mistake; every node of the explicit tree counted) and the
    fraction of their b children (offered ops) that are dead ends, pooled over those nodes;
    the measure is the mean of these d per-step fractions (``step_dead_end_fractions``), and
    the problem stores the achieved value as ``TreeProblem.dead_end_fraction``.

    Every live node has a live child, so the measure is at most (b-1)/b (2/3 at b = 3); knobs
    above give (b-1)/b. At the last step a live node's children have distinct values (up to
    coincidences such as v+a = v*m, or v = 0 with several ``*``), so nearly always exactly
    one is live: that step sits at (b-1)/b and the measure cannot reach 0. Its floor is about
    (0 + 2/9 + 2/3)/3 = 0.30 at depth 3, branching 3; (0 + 2/3)/2 = 1/3 at depth 2; (b-1)/b
    at depth 1. Knobs below the floor give about the floor.

    **Generation.** Problems are a pure function of (seed, split, index). The start value is
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

    name: ClassVar[str] = "tree"

    seed: int = 0
    """Seed of the problem stream; problems are a pure function of (seed, split, index)."""
    depth: int = 3
    """d, the number of levels (one step per level), in [1, 6]."""
    branching: int = 3
    """b, the number of distinct ops offered per level, in [2, 5]."""
    start_min: int = 1
    """Smallest start value."""
    start_max: int = 20
    """Largest start value."""
    operand_min: int = 1
    """Smallest operand, >= 1."""
    operand_max: int = 9
    """Largest operand."""
    operators: str = "+-*"
    """The operator symbols drawn from: a non-empty subset of ``+-*`` without repeats."""
    dead_end_fraction: float = 0.5
    """Wanted fraction of dead-end branches per step on the way to a solution, in [0, 1]; see
    the class docstring for the exact measure and the range it can reach."""
    long_answer: bool = False
    """The answer line lists every intermediate result instead of the op path."""
    confidence_line: bool = False
    """The response ends with a confidence line ``conf: <q>`` after the answer line (q in [0, 1],
    the stated chance the answer is right; demonstrations draw q uniformly per problem, see
    ``toy_envs.confidence``). It is part of the answer step; correctness ignores it."""
    depth_mix: str = ""
    """A mixture of depths, e.g. ``"1:0.5,2:0.49,3:0.01"``: each problem's depth is drawn from these
    depth:weight pairs (weights normalised by their sum), keyed by (seed, split, index); see
    ``toy_envs.mixture``. Empty: every problem has ``depth`` (which a mixture replaces)."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """``ConfigError`` naming the first field whose value is not allowed."""
        check_int_between("depth", self.depth, 1, MAX_DEPTH)
        if self.depth_mix != "":
            parse_mixture("depth_mix", self.depth_mix, 1, MAX_DEPTH)
        check_int_between("branching", self.branching, 2, MAX_BRANCHING)
        check_shared_fields(self)
        distinct_ops = len(self.operators) * (self.operand_max - self.operand_min + 1)
        check(
            self.branching <= distinct_ops,
            "branching",
            f"<= the {distinct_ops} distinct ops that operators and the operand range allow",
            self.branching,
        )
        fraction = self.dead_end_fraction
        check(
            isinstance(fraction, (int, float)) and not isinstance(fraction, bool) and 0 <= fraction <= 1,
            "dead_end_fraction",
            "a number in [0, 1]",
            fraction,
        )
        start_bound = max(abs(self.start_min), abs(self.start_max))
        worst = worst_case_magnitude(start_bound, self.operators, self.operand_max, max(self.lengths()))
        check(
            fits_digit_limit(worst),
            "operand_max",
            f"small enough that values keep few enough digits (worst case {worst})",
            self.operand_max,
        )

    def lengths(self) -> tuple[int, ...]:
        """The depths problems can have, ascending: ``(depth,)``, or those of the mixture."""
        if not self.depth_mix:
            return (self.depth,)
        return mixture_lengths(parse_mixture("depth_mix", self.depth_mix, 1, MAX_DEPTH))

    def length(self, problem: TreeProblem) -> int:
        """A problem's depth (its number of levels, one step each)."""
        return len(problem.levels)

    def at_length(self, length: int) -> TreePuzzle:
        """This config with every problem of depth ``length`` (no mixture)."""
        return replace(self, depth=length, depth_mix="")

    def problem(self, index: int, split: str = "train") -> TreeProblem:
        """Problem ``index`` of ``split``; the same for the same (seed, split, index)."""
        rng = problem_rng(self.name, self.seed, split, index)
        depth = self.depth
        if self.depth_mix:
            depth = draw_length(parse_mixture("depth_mix", self.depth_mix, 1, MAX_DEPTH), self.name, self.seed, split, index)
        start = rng.randint(self.start_min, self.start_max)
        n_nodes = sum(self.branching**level for level in range(1, depth + 1))
        tries = max(MIN_TRIES, min(GENERATION_TRIES, NODE_BUDGET // n_nodes))
        closest: list[tuple[Levels, int, float]] = []
        closest_distance = math.inf
        for attempt in range(tries):
            levels = self.draw_levels(start, attempt % 3, rng, depth)
            for target, counts in dead_end_counts(start, levels).items():
                fraction = mean_dead_end_fraction(counts, self.branching)
                distance = round(abs(fraction - self.dead_end_fraction), 9)
                if distance < closest_distance:
                    closest, closest_distance = [], distance
                if distance == closest_distance:
                    closest.append((levels, target, fraction))
        levels, target, fraction = rng.choice(closest)
        gold_path = paths_reaching(start, levels, target)[0]
        return TreeProblem(start, levels, target, fraction, gold_path, index, split)

    def draw_levels(self, start: int, kind: int, rng: Random, depth: int) -> Levels:
        """One candidate draw of the ops of ``depth`` levels, of kind ``RANDOM``, ``TIGHT`` or ``LOOSE``."""
        if kind == RANDOM:
            return tuple(self.draw_level(rng) for _ in range(depth))
        loose = kind == LOOSE
        additive = "+" in self.operators or "-" in self.operators
        bases = [] if additive else self.power_bases()
        if not additive and not bases:
            return tuple(self.draw_level(rng) for _ in range(depth))
        step = rng.randint(1, 3) if additive else rng.choice(bases)
        levels = []
        for level in range(depth):
            ops = None
            if not (loose and rng.random() < LOOSE_RANDOM_LEVEL):
                if additive:
                    ops = self.additive_lattice_level(start, level == 0, step, loose, rng)
                else:
                    ops = self.power_lattice_level(step, loose, rng)
            levels.append(ops if ops is not None else self.draw_level(rng))
        return tuple(levels)

    def draw_level(self, rng: Random) -> tuple[Op, ...]:
        """``branching`` distinct random ops, in the order first drawn."""
        ops: dict[Op, None] = {}
        while len(ops) < self.branching:
            ops[(rng.choice(self.operators), rng.randint(self.operand_min, self.operand_max))] = None
        return tuple(ops)

    def lattice_steps(self, loose: bool, rng: Random) -> list[int]:
        """The multipliers j of one lattice level: 0..b-1, or (loose) a random b-subset of
        0..b-1+extra, extra drawn in 1..b."""
        if not loose:
            return list(range(self.branching))
        return sorted(rng.sample(range(self.branching + rng.randint(1, self.branching)), self.branching))

    def additive_lattice_level(
        self, start: int, root: bool, delta: int, loose: bool, rng: Random
    ) -> tuple[Op, ...] | None:
        """b distinct ops with offsets base + delta * j (j from ``lattice_steps``; the base set
        by a random op standing at a random j), shuffled; ``None`` when ``LATTICE_ATTEMPTS``
        tries leave some offset without an allowed op."""
        for _ in range(LATTICE_ATTEMPTS):
            steps = self.lattice_steps(loose, rng)
            anchor = (rng.choice(self.operators), rng.randint(self.operand_min, self.operand_max))
            if root:
                offset = apply_op(start, anchor) - start
            elif anchor[0] == "*":
                if anchor[1] != 1:
                    continue
                offset = 0
            else:
                offset = anchor[1] if anchor[0] == "+" else -anchor[1]
            base = offset - delta * rng.choice(steps)
            ops = [self.op_for_offset(start, base + delta * j, root, rng) for j in steps]
            if all(op is not None for op in ops):
                rng.shuffle(ops)
                return tuple(ops)
        return None

    def op_for_offset(self, start: int, offset: int, root: bool, rng: Random) -> Op | None:
        """An allowed op adding ``offset`` (at the root: taking ``start`` to start + offset, so
        ``*m`` qualifies too), picked by ``rng`` among those that do; ``None`` if none does."""
        low, high = self.operand_min, self.operand_max
        options: list[Op] = []
        if "+" in self.operators and low <= offset <= high:
            options.append(("+", offset))
        if "-" in self.operators and low <= -offset <= high:
            options.append(("-", -offset))
        if "*" in self.operators:
            if root and start != 0:
                value = start + offset
                if value % start == 0 and low <= value // start <= high:
                    options.append(("*", value // start))
            elif root and offset == 0:
                options.append(("*", rng.randint(low, high)))
            elif offset == 0 and low == 1:
                options.append(("*", 1))
        return rng.choice(options) if options else None

    def power_bases(self) -> list[int]:
        """Bases g in 2..``MAX_POWER_BASE`` with at least two powers of g in the operand range."""
        return [base for base in range(2, MAX_POWER_BASE + 1) if len(self.powers(base)) >= 2]

    def powers(self, base: int) -> list[int]:
        """The powers of ``base`` in [operand_min, operand_max], ascending."""
        powers, power = [], 1
        while power <= self.operand_max:
            if power >= self.operand_min:
                powers.append(power)
            power *= base
        return powers

    def power_lattice_level(self, base: int, loose: bool, rng: Random) -> tuple[Op, ...]:
        """Ops ``*base**j`` for min(b, #powers) consecutive powers in the operand range (loose:
        any of them), random distinct ops for the rest, shuffled."""
        powers = self.powers(base)
        n = min(self.branching, len(powers))
        if loose:
            chosen = rng.sample(powers, n)
        else:
            first = rng.randint(0, len(powers) - n)
            chosen = powers[first : first + n]
        ops: dict[Op, None] = {("*", power): None for power in chosen}
        while len(ops) < self.branching:
            ops[(rng.choice(self.operators), rng.randint(self.operand_min, self.operand_max))] = None
        shuffled = list(ops)
        rng.shuffle(shuffled)
        return tuple(shuffled)

    def prompt(self, problem: TreeProblem) -> str:
        """``"<start> -> <target>\\nL1: <ops>\\n..."``."""
        header = f"{problem.start} -> {problem.target}\n"
        return header + "".join(
            f"L{level + 1}: {format_ops(ops, ' ')}\n" for level, ops in enumerate(problem.levels)
        )

    def gold_solution(self, problem: TreeProblem) -> str:
        """One step line per level along ``gold_path``, then the answer line."""
        values = path_values(problem.start, problem.gold_path)
        lines = [
            f"{lhs}{format_op(op)}={result}\n" for lhs, op, result in zip(values, problem.gold_path, values[1:])
        ]
        return "".join(lines) + "#" + self.format_answer(problem.gold_path, values[1:]) + "\n" + demonstration_confidence_line(self, problem)

    def format_answer(self, path: tuple[Op, ...], intermediates: tuple[int, ...]) -> str:
        """The answer line's content: the op path, or the intermediate results in long mode."""
        if self.long_answer:
            return ",".join(str(value) for value in intermediates)
        return format_ops(path, ",")

    def parse_answer(self, content: str) -> tuple[Op, ...] | tuple[int, ...] | None:
        """The answer line's content as an op path (int list in long mode), or ``None``."""
        return parse_int_list(content) if self.long_answer else parse_op_list(content)

    def segment(self, text: str) -> list[Step]:
        """Step lines, then the answer step; the spans partition ``text``."""
        return segment_lines(text, lambda content: self.parse_answer(content) is not None)

    def score(self, problem: TreeProblem, text: str) -> Verdict:
        """Correctness, parse status, per-step validity and oracle value, first error."""
        steps = self.segment(text)
        segmented = split_steps(steps)
        lines = tuple(parse_step_line(step.text) for step in segmented.step_lines)
        valid = [step_is_valid(problem, lines, t) for t in range(len(lines))]
        values = [step_value(problem, lines[t], t) for t in range(len(lines))]
        correct = False
        answer = None
        if segmented.answer is not None:
            answer = answer_line_content(segmented.answer.text)
            stated = self.parse_answer(answer)
            correct = stated is not None and (
                values_are_correct(problem, stated) if self.long_answer else path_is_correct(problem, stated)
            )
            valid.append(answer_is_valid(stated, lines, len(problem.levels), self.long_answer))
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

    def format_rubric(self, text: str) -> Rubric:
        """Every step line parses, nothing but whitespace after the answer line (one confidence
        line with ``confidence_line``), answer present."""
        return format_rubric(split_steps(self.segment(text)), self.confidence_line)


def path_values(start: int, path: tuple[Op, ...]) -> tuple[int, ...]:
    """The start value followed by the value after each op of ``path``."""
    values = [start]
    for op in path:
        values.append(apply_op(values[-1], op))
    return tuple(values)


def paths_reaching(start: int, levels: Levels, target: int) -> list[tuple[Op, ...]]:
    """Every op path (one op per level, in offered order) from ``start`` to ``target``."""
    return [path for path in product(*levels) if apply_ops(start, path) == target]


def solutions(problem: TreeProblem) -> list[tuple[Op, ...]]:
    """Every op path that solves ``problem``, in offered order."""
    return paths_reaching(problem.start, problem.levels, problem.target)


def target_reachable(value: int, levels: Levels, target: int) -> bool:
    """Whether some choice of one op from each of ``levels`` takes ``value`` to ``target``."""
    if not levels:
        return value == target
    return any(target_reachable(apply_op(value, op), levels[1:], target) for op in levels[0])


def live_node_counts(start: int, levels: Levels) -> Counter[int]:
    """For every leaf value T: how many non-root nodes of the explicit tree can reach T.

    Nodes at one level with the same value have the same subtree (every node of a level
    offers the same ops), so the work is per distinct value, weighted by its multiplicity.
    """
    multiplicities = value_multiplicities(start, levels)
    reachable = {value: frozenset([value]) for value in multiplicities[-1]}
    live: Counter[int] = Counter()
    for level in range(len(levels), 0, -1):
        for value, count in multiplicities[level].items():
            for leaf_value in reachable[value]:
                live[leaf_value] += count
        reachable = {
            value: frozenset().union(*(reachable[apply_op(value, op)] for op in levels[level - 1]))
            for value in multiplicities[level - 1]
        }
    return live


def value_multiplicities(start: int, levels: Levels) -> list[Counter[int]]:
    """Per level 0..d, how many nodes of the explicit tree hold each value."""
    multiplicities = [Counter({start: 1})]
    for ops in levels:
        below: Counter[int] = Counter()
        for value, count in multiplicities[-1].items():
            for op in ops:
                below[apply_op(value, op)] += count
        multiplicities.append(below)
    return multiplicities


def dead_end_counts(start: int, levels: Levels) -> dict[int, list[list[int]]]:
    """For every leaf value T as target: per level t = 0..d-1, ``[live, dead]``: how many nodes
    of level t can reach T (every node counted), and how many of their children cannot.

    Like ``live_node_counts`` the work is per distinct value at each level.
    """
    multiplicities = value_multiplicities(start, levels)
    depth, branching = len(levels), len(levels[0])
    counts = {value: [[0, 0] for _ in range(depth)] for value in multiplicities[-1]}
    reachable: dict[int, tuple[int, ...]] = {value: (value,) for value in multiplicities[-1]}
    for level in range(depth - 1, -1, -1):
        above: dict[int, tuple[int, ...]] = {}
        for value, count in multiplicities[level].items():
            live_children: dict[int, int] = {}
            for op in levels[level]:
                for target in reachable[apply_op(value, op)]:
                    live_children[target] = live_children.get(target, 0) + 1
            above[value] = tuple(live_children)
            for target, n_live in live_children.items():
                entry = counts[target][level]
                entry[0] += count
                entry[1] += count * (branching - n_live)
        reachable = above
    return counts


def mean_dead_end_fraction(counts: list[list[int]], branching: int) -> float:
    """The mean over levels of dead / (branching * live), from one target's ``dead_end_counts``."""
    return sum(dead / (branching * live) for live, dead in counts) / len(counts)


def step_dead_end_fractions(problem: TreeProblem) -> tuple[float, ...]:
    """Per step t = 1..d: among the children of the level-(t-1) nodes that can reach the target
    (every node counted), the fraction that cannot; their mean is the knob's measure."""
    counts = dead_end_counts(problem.start, problem.levels)[problem.target]
    branching = len(problem.levels[0])
    return tuple(dead / (branching * live) for live, dead in counts)


def tree_dead_end_fraction(problem: TreeProblem) -> float:
    """The fraction of all non-root nodes of the explicit tree from which the target is
    unreachable (not the knob's measure: a dead subtree counts in full)."""
    branching = len(problem.levels[0])
    n_nodes = sum(branching**level for level in range(1, len(problem.levels) + 1))
    return (n_nodes - live_node_counts(problem.start, problem.levels)[problem.target]) / n_nodes

def step_is_valid(problem: TreeProblem, lines: tuple[StepLine | None, ...], t: int) -> bool:
    """Line ``t`` parses, continues from the previous stated result, uses an op offered at
    level t+1 and states the right result."""
    line = lines[t]
    return (
        line is not None
        and t < len(problem.levels)
        and line.lhs == stated_before(problem.start, lines, t)
        and line.op in problem.levels[t]
        and line.result == apply_op(line.lhs, line.op)
    )


def step_value(problem: TreeProblem, line: StepLine | None, t: int) -> int:
    """The oracle: 1 iff the target is reachable from line ``t``'s stated result through
    levels t+2..d (the last level: the stated result is the target); 0 for an unparseable line
    or t >= d. Validity is not required: a valid step can be a dead end and vice versa."""
    if line is None or t >= len(problem.levels):
        return 0
    return int(target_reachable(line.result, problem.levels[t + 1 :], problem.target))


def answer_is_valid(
    stated: tuple[Op, ...] | tuple[int, ...] | None,
    lines: tuple[StepLine | None, ...],
    depth: int,
    long_answer: bool,
) -> bool:
    """Exactly d step lines, all parsed, precede the answer, and it lists their ops (long mode:
    their stated results) in order."""
    if len(lines) != depth or any(line is None for line in lines):
        return False
    return stated == tuple(line.result if long_answer else line.op for line in lines)


def path_is_correct(problem: TreeProblem, path: tuple[Op, ...]) -> bool:
    """One offered op per level, and applying them to the start gives the target."""
    return (
        len(path) == len(problem.levels)
        and all(op in ops for op, ops in zip(path, problem.levels))
        and apply_ops(problem.start, path) == problem.target
    )


def values_are_correct(problem: TreeProblem, values: tuple[int, ...]) -> bool:
    """One value per level, each obtained from the previous (the start first) by an op offered
    at that level, the last equal to the target."""
    previous = (problem.start, *values)
    return (
        len(values) == len(problem.levels)
        and all(
            any(apply_op(before, op) == after for op in ops)
            for before, after, ops in zip(previous, values, problem.levels)
        )
        and values[-1] == problem.target
    )


def explicit_tree(problem: TreeProblem) -> nx.DiGraph:
    """The whole tree: nodes keyed by op-path tuples (root ``()``) with ``value``, ``level`` and
    ``reachable`` (the target is reachable at or below the node); edges carry their ``op``."""
    tree = nx.DiGraph()
    tree.add_node((), value=problem.start, level=0)
    frontier = [()]
    for level, ops in enumerate(problem.levels, start=1):
        next_frontier = []
        for parent in frontier:
            for op in ops:
                child = (*parent, op)
                tree.add_node(child, value=apply_op(tree.nodes[parent]["value"], op), level=level)
                tree.add_edge(parent, child, op=op)
                next_frontier.append(child)
        frontier = next_frontier
    for node in reversed(list(tree.nodes)):  # children were added after their parents
        children = list(tree.successors(node))
        if children:
            tree.nodes[node]["reachable"] = any(tree.nodes[child]["reachable"] for child in children)
        else:
            tree.nodes[node]["reachable"] = tree.nodes[node]["value"] == problem.target
    return tree
