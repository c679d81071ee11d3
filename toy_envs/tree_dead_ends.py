"""The tree puzzle's dead-end measure, computed exactly from the implicit tree.

A node is *live* when the target is reachable at or below it, else a *dead end*. For step
t = 1..d take the live nodes of level t-1 (every node of the explicit tree counted) and the
fraction of their b children that are dead ends, pooled over those nodes; the knob's measure
(``TreePuzzle.dead_end_fraction``) is the mean of these d per-step fractions
(``step_dead_end_fractions``). Nodes of one level with the same value have the same subtree
(every node of a level offers the same ops), so the work is per distinct value.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from toy_envs.ops import Op, apply_op

if TYPE_CHECKING:
    from toy_envs.tree_puzzle import TreeProblem

Levels = tuple[tuple[Op, ...], ...]
"""``levels[t]``: the distinct ops offered at level t+1."""


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
