"""Hypothesis strategies for rollout trees: which rows are leaves of which tree, and the trees.

A tree sampler (``sandbox.rollout.tree_sampler``) grows M trees per problem; each kept leaf is
one row, and ``Rollouts.extras`` carries per row

    tree        [B] long   the row's tree id, distinct across the batch
    tree_node   [B] long   the row's leaf node id within its tree
    tree_graph  list[B]    the tree (a networkx ``DiGraph``, edges parent -> child, node
                           attribute ``leaf``), one object shared by the rows of a tree

``tree_layouts(group)`` draws that structure for a given group layout, in the same form, so a
tree estimator (which reads ``tree``, e.g. ``sandbox.rewards.tree_grpo``) or anything reading
the graphs can be property-tested without a model. A tree is grown like the sampler grows
one: a first root-to-leaf path, then each further leaf branches off the root or an inner node
through zero or more new inner nodes. ``parents`` gives each tree as a parent array
(``parents[node]``, −1 for the root).
"""

from __future__ import annotations

import random
from typing import NamedTuple

import networkx as nx
import torch
from hypothesis import strategies as st

TREE_EXTRAS = ("tree", "tree_node", "tree_graph")
"""The ``Rollouts.extras`` keys a tree layout provides."""


class TreeLayout(NamedTuple):
    """The tree extras of a batch (see the module docstring)."""

    tree: torch.Tensor
    """[B] long tree id of each row, distinct across the batch."""
    node: torch.Tensor
    """[B] long the row's leaf node id within its tree."""
    parents: dict[int, list[int]]
    """Tree id -> parent array of that tree (index = node id, −1 for the root)."""

    def graphs(self) -> list[nx.DiGraph]:
        """Per row, its tree as a ``DiGraph`` (one object per tree, shared by its rows)."""
        built = {tree_id: tree_graph(parents) for tree_id, parents in self.parents.items()}
        return [built[t] for t in self.tree.tolist()]

    def extras(self) -> dict:
        """The layout as ``Rollouts.extras`` entries, keyed like the tree sampler's."""
        return {"tree": self.tree, "tree_node": self.node, "tree_graph": self.graphs()}

    def select(self, rows: list[int]) -> TreeLayout:
        """The layout of ``rows`` (in that order); trees left without a row are dropped."""
        index = torch.tensor(rows, dtype=torch.long)
        tree = self.tree[index]
        kept = set(tree.tolist())
        return TreeLayout(tree, self.node[index], {t: p for t, p in self.parents.items() if t in kept})


def tree_graph(parents: list[int]) -> nx.DiGraph:
    """The tree of a parent array: edges parent -> child, node attribute ``leaf``."""
    graph = nx.DiGraph()
    children = {p for p in parents if p >= 0}
    for node, parent in enumerate(parents):
        graph.add_node(node, leaf=node not in children)
        if parent >= 0:
            graph.add_edge(parent, node)
    return graph


def grow_tree(rng: random.Random, n_leaves: int, max_depth: int = 3) -> tuple[list[int], list[int]]:
    """(parent array, leaf node ids in growth order) of a random tree with ``n_leaves`` leaves."""
    parents = [-1]
    inner = [0]
    leaves = []
    for k in range(n_leaves):
        node = 0 if k == 0 else rng.choice(inner)
        for _ in range(rng.randint(1, max_depth) if k == 0 else rng.randint(0, max_depth - 1)):
            parents.append(node)
            node = len(parents) - 1
            inner.append(node)
        parents.append(node)
        leaves.append(len(parents) - 1)
    return parents, leaves


@st.composite
def tree_layouts(draw, group: torch.Tensor | list[int], max_trees: int = 3) -> TreeLayout:
    """Trees over the rows of each group: 1..``max_trees`` trees per group (never more than its
    rows), each row a distinct leaf of one tree of its group; tree ids distinct across the batch."""
    group = torch.as_tensor(group).tolist()
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    members: dict[int, list[int]] = {}
    for row, g in enumerate(group):
        members.setdefault(g, []).append(row)
    n_trees = {g: draw(st.integers(1, min(max_trees, len(rows)))) for g, rows in members.items()}
    ids = draw(st.lists(st.integers(0, 10**6), min_size=sum(n_trees.values()), max_size=sum(n_trees.values()), unique=True))
    tree = [0] * len(group)
    node = [0] * len(group)
    parents: dict[int, list[int]] = {}
    for g, rows in members.items():
        # every tree gets at least one row, the rest land anywhere in the group
        owners = list(range(n_trees[g])) + [rng.randrange(n_trees[g]) for _ in rows[n_trees[g] :]]
        rng.shuffle(owners)
        tree_ids = [ids.pop() for _ in range(n_trees[g])]
        for m, tree_id in enumerate(tree_ids):
            tree_rows = [row for row, owner in zip(rows, owners) if owner == m]
            parents[tree_id], leaves = grow_tree(rng, len(tree_rows))
            for row, leaf in zip(tree_rows, leaves):
                tree[row], node[row] = tree_id, leaf
    return TreeLayout(torch.tensor(tree, dtype=torch.long), torch.tensor(node, dtype=torch.long), parents)
