"""Tree view: sibling preferences on hand-built trees (an oracle by hand) and on sampled trees."""

from dataclasses import replace

import networkx as nx
import torch

from sandbox.rollout.tree_view import (
    draw_tree,
    format_sibling_preferences,
    sibling_preferences,
    subtree_means,
    tree_layout,
)
from sandbox.rollout.rollouts import Rollouts
from toy_envs import make_task

TASK = make_task("arithmetic", n_steps=2, operators="+-", start_max=50)


def hand_tree() -> nx.DiGraph:
    """root -> a -> {a1 (leaf 3), a2 -> {leaf 5, leaf 6}}, root -> b (leaf 2)."""
    g = nx.DiGraph()
    texts = {0: "", 1: "a\n", 2: "b\n", 3: "#1\n", 4: "c\n", 5: "#2\n", 6: "#3\n"}
    for node, text in texts.items():
        g.add_node(node, text=text, start=0, end=node)
    g.add_edges_from([(0, 1), (0, 2), (1, 3), (1, 4), (4, 5), (4, 6)])
    return g


def hand_rollouts(rewards: list[float]):
    problem = TASK.problem(0)
    rollouts = Rollouts.from_texts(TASK, [problem] * 4, ["x", "y", "z", "w"])
    graph = hand_tree()
    extras = {"tree": torch.zeros(4, dtype=torch.long), "tree_node": torch.tensor([3, 5, 6, 2]), "tree_graph": [graph] * 4}
    return replace(rollouts, extras={**rollouts.extras, **extras}), torch.tensor(rewards)


def test_subtree_means_average_the_leaves_below_each_node():
    means = subtree_means(hand_tree(), {3: 1.0, 5: 0.0, 6: 1.0, 2: 0.0})
    assert means[0] == (0.5, 4) and means[1] == (2 / 3, 3) and means[4] == (0.5, 2) and means[2] == (0.0, 1)


def test_every_branching_node_gets_its_children_ranked():
    rollouts, returns = hand_rollouts([1.0, 0.0, 1.0, 0.0])
    prefs = {p.node: p for p in sibling_preferences(rollouts, returns)}
    assert sorted(prefs) == [0, 1, 4]
    assert prefs[0].preferred == "a\n" and prefs[0].children[0][1:] == (2 / 3, 3)
    assert prefs[1].preferred == "#1\n" and abs(prefs[1].margin - 0.5) < 1e-9
    assert prefs[4].preferred == "#3\n" and prefs[4].prefix == "a\nc\n"
    text = format_sibling_preferences(list(prefs.values()))
    assert "prefers 'a\\n'" in text and "over 3 leaves" in text


def test_equal_children_are_a_tie():
    rollouts, returns = hand_rollouts([1.0, 1.0, 1.0, 1.0])
    assert all(p.preferred is None and p.margin == 0 for p in sibling_preferences(rollouts, returns))


def test_layout_puts_parents_over_their_children_and_leaves_apart():
    pos = tree_layout(hand_tree())
    assert pos[4][0] == (pos[5][0] + pos[6][0]) / 2 and pos[4][1] == pos[1][1] - 1
    leaf_x = [pos[n][0] for n in (3, 5, 6, 2)]
    assert len(set(leaf_x)) == 4


def test_draw_tree_draws_every_node():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    draw_tree(hand_tree(), {3: 1.0, 5: 0.0}, ax, title="t")
    assert len(ax.texts) == 7
    plt.close(fig)
