"""What a rollout tree says step by step: sibling comparisons as step-level preferences.

At a branching node v with children c_1..c_k (the same prefix, different next steps), each child
subtree's mean leaf reward

    m(c) = mean { R_leaf : leaf kept under c }

ranks the next steps: c is preferred to c' iff m(c) > m(c'). This is the preference that
Tree-GRPO's intra-tree advantage implies without a process reward model ("Tree Search for LLM
Agent Reinforcement Learning", Ji et al. 2025, arXiv 2509.21240, shows that the intra-tree
objective is equivalent to step-level direct preference learning). ``sibling_preferences`` lists
them for every branching node of every tree in a batch from the tree sampler;
``format_sibling_preferences`` prints them, ``draw_tree`` draws one tree with matplotlib.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import torch

from sandbox.rollout.rollouts import Rollouts


@dataclass
class SiblingPreference:
    """The children of one branching node, ranked by their subtrees' mean leaf reward."""

    tree: int
    """The tree id (``Rollouts.extras["tree"]``)."""
    node: int
    """The branching node's id in its tree."""
    prefix: str
    """The response text up to the node (empty at the root)."""
    children: list[tuple[str, float, int]]
    """(the child's step text, its subtree's mean leaf reward, its kept leaves), best first."""

    @property
    def preferred(self) -> str | None:
        """The best child's step text, or None when the best two means tie."""
        if self.children[0][1] == self.children[1][1]:
            return None
        return self.children[0][0]

    @property
    def margin(self) -> float:
        """Best minus worst child mean."""
        return self.children[0][1] - self.children[-1][1]


def leaf_rewards(rollouts: Rollouts, returns: torch.Tensor) -> dict[int, dict[int, float]]:
    """tree id -> {leaf node id: the row's return} for the rows of ``rollouts``."""
    out: dict[int, dict[int, float]] = {}
    for row, (tree, node) in enumerate(zip(rollouts.extras["tree"].tolist(), rollouts.extras["tree_node"].tolist())):
        out.setdefault(tree, {})[node] = float(returns[row])
    return out


def subtree_means(graph: nx.DiGraph, rewards: dict[int, float]) -> dict[int, tuple[float, int]]:
    """node -> (mean reward of the rewarded leaves under it, their count); nodes without one omitted."""
    out = {}
    for node in graph:
        below = [rewards[n] for n in nx.descendants(graph, node) | {node} if n in rewards]
        if below:
            out[node] = (sum(below) / len(below), len(below))
    return out


def sibling_preferences(rollouts: Rollouts, returns: torch.Tensor) -> list[SiblingPreference]:
    """Every branching node (two or more children with kept leaves) of every tree, in tree order."""
    rewards = leaf_rewards(rollouts, returns)
    graphs = {}
    for tree, graph in zip(rollouts.extras["tree"].tolist(), rollouts.extras["tree_graph"]):
        graphs.setdefault(tree, graph)
    prefs = []
    for tree, graph in graphs.items():
        means = subtree_means(graph, rewards[tree])
        for node in sorted(graph):
            children = [c for c in graph.successors(node) if c in means]
            if len(children) < 2:
                continue
            ranked = sorted(children, key=lambda c: (-means[c][0], c))
            prefs.append(
                SiblingPreference(
                    tree=tree,
                    node=node,
                    prefix=prefix_text(graph, node),
                    children=[(graph.nodes[c]["text"], means[c][0], means[c][1]) for c in ranked],
                )
            )
    return prefs


def prefix_text(graph: nx.DiGraph, node: int) -> str:
    """The response text from the root to ``node``."""
    return "".join(graph.nodes[n]["text"] for n in nx.shortest_path(graph, tree_root(graph), node))


def tree_root(graph: nx.DiGraph) -> int:
    """The node without a parent."""
    return next(n for n in graph if graph.in_degree(n) == 0)


def format_sibling_preferences(prefs: list[SiblingPreference]) -> str:
    """One block per branching node: the prefix, then each child step with its mean and leaf count."""
    lines = []
    for p in prefs:
        verdict = "tie" if p.preferred is None else f"prefers {p.preferred!r}"
        lines.append(f"tree {p.tree}, after {p.prefix!r}: {verdict} (margin {p.margin:.2f})")
        for text, mean, count in p.children:
            lines.append(f"    {text!r:<16} mean reward {mean:.2f} over {count} {'leaves' if count > 1 else 'leaf'}")
    return "\n".join(lines)


def tree_layout(graph: nx.DiGraph) -> dict[int, tuple[float, float]]:
    """Positions for drawing: leaves spread left to right in depth-first order, a parent centred
    over its children, depth downwards."""
    root = tree_root(graph)
    pos: dict[int, tuple[float, float]] = {}
    next_x = [0.0]

    def place(node: int, depth: int) -> float:
        children = sorted(graph.successors(node))
        if not children:
            x = next_x[0]
            next_x[0] += 1.0
        else:
            xs = [place(child, depth + 1) for child in children]
            x = sum(xs) / len(xs)
        pos[node] = (x, -float(depth))
        return x

    place(root, 0)
    return pos


def draw_tree(graph: nx.DiGraph, rewards: dict[int, float], ax=None, title: str = ""):
    """Draw one rollout tree: each node a box sized to its step's text (so the label always fits),
    leaves coloured by reward (green = 1, red = 0 for a binary reward), edges top-down. Returns the axes."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    pos = tree_layout(graph)
    nx.draw_networkx_edges(graph, pos, ax=ax, arrows=False, edge_color="grey")
    for node in graph:
        colour = plt.cm.RdYlGn(0.15 + 0.7 * rewards[node]) if node in rewards else "lightgrey"  # light enough for black text
        label = graph.nodes[node]["text"].strip().replace("\n", " ") or "prompt"
        ax.text(*pos[node], label, fontsize=7, ha="center", va="center", zorder=3,
                bbox={"boxstyle": "round,pad=0.35", "facecolor": colour, "edgecolor": "black"})
    xs, ys = [x for x, _ in pos.values()], [y for _, y in pos.values()]
    ax.set_xlim(min(xs) - 0.7, max(xs) + 0.7)
    ax.set_ylim(min(ys) - 0.5, max(ys) + 0.5)
    ax.set_title(title)
    ax.axis("off")
    return ax
