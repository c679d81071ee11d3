"""Drawing a tree puzzle's explicit tree with networkx + matplotlib (no pyplot, no graphviz)."""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from toy_envs.ops import Op, format_op
from toy_envs.parsing import parse_op_list, parse_step_line, split_lines
from toy_envs.tree_puzzle import TreeProblem, TreePuzzle, explicit_tree

LIVE_COLOUR = "#7cc47f"
DEAD_COLOUR = "#d0d0d0"
TARGET_COLOUR = "#ff8c00"
PATH_COLOUR = "#c62828"


def hierarchical_layout(tree: nx.DiGraph) -> dict[tuple[Op, ...], tuple[float, float]]:
    """x: leaves at 0, 1, 2, ... in offered order, a parent above the mean of its children;
    y: minus the level."""
    depth = max(level for _, level in tree.nodes(data="level"))
    leaves = [node for node, level in tree.nodes(data="level") if level == depth]
    x = {leaf: float(order) for order, leaf in enumerate(leaves)}
    for node in reversed(list(tree.nodes)):  # children were added after their parents
        if node not in x:
            children = list(tree.successors(node))
            x[node] = sum(x[child] for child in children) / len(children)
    return {node: (x[node], -float(level)) for node, level in tree.nodes(data="level")}


def path_ops(path: str | Sequence[str | Op]) -> tuple[Op, ...]:
    """The ops of a path given as op strings (``"*2"``), op pairs, or a response text whose
    step lines are read in order up to the first that does not parse."""
    if isinstance(path, str):
        ops = []
        for line in split_lines(path):
            parsed = parse_step_line(line)
            if parsed is None:
                break
            ops.append(parsed.op)
        return tuple(ops)
    ops = []
    for op in path:
        parsed = parse_op_list(op) if isinstance(op, str) else (tuple(op),)
        if parsed is None or len(parsed) != 1:
            break
        ops.append(parsed[0])
    return tuple(ops)


def path_nodes(tree: nx.DiGraph, ops: tuple[Op, ...]) -> list[tuple[Op, ...]]:
    """The tree nodes along ``ops`` from the root, stopping where ``ops`` leaves the tree."""
    nodes = [()]
    for op in ops:
        child = (*nodes[-1], op)
        if child not in tree:
            break
        nodes.append(child)
    return nodes


def draw_tree_puzzle(
    task: TreePuzzle,
    problem: TreeProblem,
    path: str | Sequence[str | Op] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Draw the explicit tree of ``problem``: node label = value, edge label = op, live nodes
    green and dead ends grey, target leaves ringed orange, and ``path`` (op strings, op pairs
    or a response text) in red. Draws on ``ax`` or on a new (pyplot-free) figure; returns it."""
    tree = explicit_tree(problem)
    positions = hierarchical_layout(tree)
    n_leaves = len(problem.levels[0]) ** len(problem.levels)
    if ax is None:
        ax = Figure(figsize=(max(6.0, 0.6 * n_leaves), 1.5 * (len(problem.levels) + 1))).add_subplot()
    on_path = path_nodes(tree, path_ops(path)) if path is not None else []
    path_edges = set(zip(on_path, on_path[1:]))
    depth = len(problem.levels)
    is_target = {
        node: data["level"] == depth and data["value"] == problem.target for node, data in tree.nodes(data=True)
    }
    nodes = list(tree.nodes)
    edges = list(tree.edges)
    nx.draw_networkx_edges(
        tree,
        positions,
        edgelist=edges,
        ax=ax,
        arrows=False,
        edge_color=[PATH_COLOUR if edge in path_edges else DEAD_COLOUR for edge in edges],
        width=[3.0 if edge in path_edges else 1.0 for edge in edges],
    )
    nx.draw_networkx_nodes(
        tree,
        positions,
        nodelist=nodes,
        ax=ax,
        node_size=max(60, 4000 // n_leaves),
        node_color=[LIVE_COLOUR if tree.nodes[node]["reachable"] else DEAD_COLOUR for node in nodes],
        edgecolors=[
            TARGET_COLOUR if is_target[node] else PATH_COLOUR if node in on_path else "white" for node in nodes
        ],
        linewidths=[3.0 if is_target[node] or node in on_path else 1.0 for node in nodes],
    )
    nx.draw_networkx_labels(
        tree, positions, labels={node: str(tree.nodes[node]["value"]) for node in nodes}, ax=ax, font_size=8
    )
    edge_labels = {(parent, child): format_op(op) for parent, child, op in tree.edges(data="op")}
    nx.draw_networkx_edge_labels(tree, positions, edge_labels=edge_labels, ax=ax, font_size=7)
    ax.set_title(task.prompt(problem).split("\n", 1)[0])
    ax.set_axis_off()
    return ax
