"""Tree layout strategies: the structure a tree sampler puts in ``Rollouts.extras``."""

import networkx as nx
import torch
from hypothesis import given
from hypothesis import strategies as st

from sandbox.testing.strategies import group_layouts
from sandbox.testing.trees import TREE_EXTRAS, grow_tree, tree_graph, tree_layouts


@st.composite
def layouts(draw):
    group = draw(group_layouts())
    return torch.tensor(group), draw(tree_layouts(group))


@given(layouts())
def test_every_row_is_a_distinct_leaf_of_one_tree_of_its_group(case):
    group, layout = case
    owner = {}
    for row, (g, tree, node) in enumerate(zip(group.tolist(), layout.tree.tolist(), layout.node.tolist())):
        assert owner.setdefault(tree, g) == g  # a tree belongs to one group
        graph = tree_graph(layout.parents[tree])
        assert graph.nodes[node]["leaf"] and graph.out_degree(node) == 0
    pairs = list(zip(layout.tree.tolist(), layout.node.tolist()))
    assert len(set(pairs)) == len(pairs)


@given(layouts())
def test_each_tree_is_a_rooted_tree_whose_leaves_are_exactly_its_rows(case):
    group, layout = case
    for tree, parents in layout.parents.items():
        assert parents[0] == -1 and all(0 <= p < node for node, p in enumerate(parents) if node > 0)
        graph = tree_graph(parents)
        assert nx.is_arborescence(graph)
        leaves = {n for n in graph if graph.out_degree(n) == 0}
        assert leaves == set(layout.node[layout.tree == tree].tolist())


@given(st.data(), st.integers(1, 3))
def test_groups_have_between_one_and_max_trees_trees(data, max_trees):
    group = torch.tensor(data.draw(group_layouts()))
    layout = data.draw(tree_layouts(group, max_trees=max_trees))
    for g in set(group.tolist()):
        trees = set(layout.tree[group == g].tolist())
        assert 1 <= len(trees) <= min(max_trees, int((group == g).sum()))


@given(layouts(), st.data())
def test_extras_and_select_keep_rows_aligned(case, data):
    group, layout = case
    extras = layout.extras()
    assert set(extras) == set(TREE_EXTRAS)
    graphs = extras["tree_graph"]
    for row in range(len(group)):
        same = [r for r in range(len(group)) if layout.tree[r] == layout.tree[row]]
        assert all(graphs[r] is graphs[row] for r in same)  # one object per tree, like the sampler
    rows = data.draw(st.lists(st.integers(0, len(group) - 1), min_size=1, unique=True))
    sub = layout.select(rows)
    assert sub.tree.tolist() == [int(layout.tree[r]) for r in rows]
    assert set(sub.parents) == set(sub.tree.tolist())


def test_grow_tree_has_the_requested_leaves():
    import random

    for n in range(1, 7):
        parents, leaves = grow_tree(random.Random(n), n)
        graph = tree_graph(parents)
        assert sorted(leaves) == sorted(v for v in graph if graph.out_degree(v) == 0)
        assert len(leaves) == n
