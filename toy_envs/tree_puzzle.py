"""Tree-structured puzzles: reach a target from a start value by picking one op per level.

Prompt ``"5 -> 9\\nL1: +3 *2 -1\\nL2: +1 *3 -2\\nL3: ...\\n"``. Every node at level t offers
the same ops (those of ``L{t+1}``), so the tree is implicit: b^d root-to-leaf paths. A solution
writes one step line per level (``5*2=10``) and then the answer line: the op path
(``#*2,+1,-2``) or, in long-answer mode, every intermediate result (``#10,11,9``). A step can
be valid (an offered op, right arithmetic) and still a dead end: the target is no longer
reachable below it.

How many of the offered branches are dead ends is the ``dead_end_fraction`` knob; it is
measured along the way to a solution (``toy_envs.tree_dead_ends``) and the generator
(``toy_envs.tree_generator``) builds problems whose measured value is as close to the knob as
it can get (see ``TreePuzzle``). This module is the task: config, prompt, gold solution and
the per-step oracle that ``toy_envs.step_task`` scores with.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar

from toy_envs.base import check, problem_rng
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
from toy_envs.parsing import StepLine, parse_int_list, parse_op_list, stated_before
from toy_envs.step_task import StepLineTask
from toy_envs.tree_dead_ends import Levels
from toy_envs.tree_generator import draw_puzzle, paths_reaching

if TYPE_CHECKING:
    import networkx as nx

MAX_DEPTH = 6
MAX_BRANCHING = 5


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
class TreePuzzle(StepLineTask):
    """The tree-puzzle task; the config is the task.

    **The dead-end knob.** A node is *live* when the target is reachable at or below it, else a
    *dead end*. For step t = 1..d take the live nodes of level t-1 (the states a solver can be
    in after t-1 steps without a mistake; every node of the explicit tree counted) and the
    fraction of their b children (offered ops) that are dead ends, pooled over those nodes;
    the measure is the mean of these d per-step fractions
    (``toy_envs.tree_dead_ends.step_dead_end_fractions``), and
    the problem stores the achieved value as ``TreeProblem.dead_end_fraction``.

    Every live node has a live child, so the measure is at most (b-1)/b (2/3 at b = 3); knobs
    above give (b-1)/b. At the last step a live node's children have distinct values (up to
    coincidences such as v+a = v*m, or v = 0 with several ``*``), so nearly always exactly
    one is live: that step sits at (b-1)/b and the measure cannot reach 0. Its floor is about
    (0 + 2/9 + 2/3)/3 = 0.30 at depth 3, branching 3; (0 + 2/3)/2 = 1/3 at depth 2; (b-1)/b
    at depth 1. Knobs below the floor give about the floor.

    **Generation** (``toy_envs.tree_generator``): problems are a pure function of (seed, split,
    index); candidate draws of every level's ops (random, tight and loose lattices, on which
    different paths merge), and for every draw and leaf value as target the measure is
    computed exactly; the (draw, target) pair closest to the knob wins. The target is a leaf
    value, so a solution always exists.
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
        levels, target, fraction = draw_puzzle(self, start, depth, rng)
        gold_path = paths_reaching(start, levels, target)[0]
        return TreeProblem(start, levels, target, fraction, gold_path, index, split)

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

    def lines_valid(self, problem: TreeProblem, lines: tuple[StepLine | None, ...]) -> list[bool]:
        """Per step line: ``step_is_valid``."""
        return [step_is_valid(problem, lines, t) for t in range(len(lines))]

    def line_values(self, problem: TreeProblem, lines: tuple[StepLine | None, ...]) -> list[int]:
        """Per step line: the oracle ``step_value`` (the target still reachable)."""
        return [step_value(problem, lines[t], t) for t in range(len(lines))]

    def answer_correct(self, problem: TreeProblem, stated: tuple[Op, ...] | tuple[int, ...]) -> bool:
        """A solving op path (long mode: the values along one)."""
        return values_are_correct(problem, stated) if self.long_answer else path_is_correct(problem, stated)

    def answer_of_lines(self, lines: tuple[StepLine, ...]) -> tuple[Op, ...] | tuple[int, ...]:
        """The answer the step lines state: their ops (long mode: their results), in order."""
        return tuple(line.result if self.long_answer else line.op for line in lines)


def path_values(start: int, path: tuple[Op, ...]) -> tuple[int, ...]:
    """The start value followed by the value after each op of ``path``."""
    values = [start]
    for op in path:
        values.append(apply_op(values[-1], op))
    return tuple(values)


def solutions(problem: TreeProblem) -> list[tuple[Op, ...]]:
    """Every op path that solves ``problem``, in offered order."""
    return paths_reaching(problem.start, problem.levels, problem.target)


def target_reachable(value: int, levels: Levels, target: int) -> bool:
    """Whether some choice of one op from each of ``levels`` takes ``value`` to ``target``."""
    if not levels:
        return value == target
    return any(target_reachable(apply_op(value, op), levels[1:], target) for op in levels[0])


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
    import networkx as nx  # here, not at the top: every process that makes a task imports this module

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
