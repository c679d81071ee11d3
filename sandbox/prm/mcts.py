"""Monte-Carlo tree search over steps, and the step values it finds (AlphaLLM: "Toward
Self-Improvement of LLMs via Imagination, Searching, and Criticizing", Tian et al. 2024,
arXiv 2404.12253, section 4).

A node is a prefix of step lines (the root: the bare prompt); an option is one step line.
Simulation i of problem x, noise keyed by (seed, "mcts", x, i):

    select    from the root, while the node has had ``branches`` expansions, go to the child with
              the largest UCT(s, a) = Q(s, a) + c · sqrt(ln N(s) / N(s, a))
    expand    sample one continuation of the node's prefix from the policy; its first line is the
              child's step (a child with that step already there is visited again)
    evaluate  v = (1 − λ) · 1[prefix + continuation is correct] + λ · V(prefix + step)
              the continuation is the fast rollout, V an optional value critic (a trained PRM's
              score of the step); a child whose step ends the response (the answer line, or a
              line without newline) or reaches ``max_depth`` is terminal, and selecting a terminal
              node again re-scores it: v = 1[its text is correct]
    backup    N ← N + 1, W ← W + v on the child and every ancestor;  Q = W / N

After the simulations, Q of every visited node is the search's value of its last step: a process
label (soft Q, or hard 1[Q > 0] as Math-Shepherd's), and the paths to correct terminal nodes are
search-found solutions. Every simulation samples one continuation, so S simulations cost S samples,
like S Monte-Carlo completions.

Cut down from AlphaLLM's ηMCTS: options are single step lines with a fixed expansion width (no
importance-weighted expansion, no state merging); the critic is the fast rollout, optionally mixed
with a given PRM's score (AlphaLLM trains a value function, a PRM and an ORM for it); the tree is
searched once per problem, not re-rooted after each committed step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from sandbox.prm.mc_labels import Completer, CompletionRequest
from sandbox.rng import row_key
from toy_envs.base import check, is_int


@dataclass(frozen=True)
class MCTSConfig:
    simulations: int = 32
    """Simulations per problem (each samples one continuation)."""
    branches: int = 3
    """Expansions of a node before selection descends into its children (distinct children may be fewer)."""
    c_uct: float = 1.0
    """Exploration constant c of UCT."""
    critic_weight: float = 0.0
    """λ: weight of the value critic in a leaf's value (0: the fast rollout alone)."""
    max_depth: int = 12
    """Step lines after which a node is terminal."""

    def __post_init__(self) -> None:
        check(is_int(self.simulations) and self.simulations >= 1, "simulations", "an integer >= 1", self.simulations)
        check(is_int(self.branches) and self.branches >= 1, "branches", "an integer >= 1", self.branches)
        check(self.c_uct >= 0, "c_uct", ">= 0", self.c_uct)
        check(0 <= self.critic_weight <= 1, "critic_weight", "in [0, 1]", self.critic_weight)
        check(is_int(self.max_depth) and self.max_depth >= 1, "max_depth", "an integer >= 1", self.max_depth)


@dataclass
class Node:
    step: str
    """Its own step line ('' at the root)."""
    prefix: str
    """The response text from the root through its step."""
    parent: int
    """Index of the parent node (−1 at the root)."""
    depth: int
    children: dict[str, int] = field(default_factory=dict)
    """Step text -> child index, in the order the children were found."""
    expansions: int = 0
    visits: int = 0
    value_sum: float = 0.0
    terminal: bool = False

    @property
    def q(self) -> float:
        return self.value_sum / self.visits if self.visits else 0.0


@dataclass
class SearchTree:
    problem: object
    nodes: list[Node]
    samples: int = 0
    """Continuations sampled for this tree."""
    sampled_chars: int = 0
    """Characters of those continuations (tokens, with the character tokenizer)."""

    def path(self, index: int) -> list[int]:
        """Node indices from the root's first child to ``index``."""
        out = []
        while index > 0:
            out.append(index)
            index = self.nodes[index].parent
        return out[::-1]


def uct(parent: Node, child: Node, c: float) -> float:
    """Q(s, a) + c · sqrt(ln N(s) / N(s, a)); +inf for an unvisited child."""
    if child.visits == 0:
        return math.inf
    return child.q + c * math.sqrt(math.log(max(parent.visits, 1)) / child.visits)


def select(tree: SearchTree, cfg: MCTSConfig) -> int:
    """The node this simulation expands (or re-scores, if terminal): descend by UCT through fully
    expanded nodes; ties go to the earlier-found child."""
    index = 0
    while True:
        node = tree.nodes[index]
        if node.terminal or node.expansions < cfg.branches or not node.children:
            return index
        index = max(node.children.values(), key=lambda i: (uct(node, tree.nodes[i], cfg.c_uct), -i))


def first_line(text: str) -> str:
    """``text`` through its first newline (all of it when there is none)."""
    cut = text.find("\n")
    return text if cut < 0 else text[: cut + 1]


def add_child(tree: SearchTree, index: int, step: str, task, cfg: MCTSConfig) -> int:
    """The child of node ``index`` with ``step`` (made when new)."""
    node = tree.nodes[index]
    if step not in node.children:
        segments = task.segment(step)
        ends = not step.endswith("\n") or any(s.kind == "answer" for s in segments)
        tree.nodes.append(Node(step, node.prefix + step, index, node.depth + 1, terminal=ends or node.depth + 1 >= cfg.max_depth))
        node.children[step] = len(tree.nodes) - 1
    return node.children[step]


def backup(tree: SearchTree, index: int, value: float) -> None:
    while index >= 0:
        tree.nodes[index].visits += 1
        tree.nodes[index].value_sum += value
        index = tree.nodes[index].parent


def search(problems: list, task, completer: Completer, cfg: MCTSConfig, seed: int = 0,
           critic: Callable[[list, list[str]], list[float]] | None = None) -> list[SearchTree]:
    """One tree per problem (module docstring); simulation i of every tree is sampled in one batch.
    ``critic(problems, texts)`` gives V of each text's last step in [0, 1] (needed when λ > 0)."""
    check(cfg.critic_weight == 0 or critic is not None, "critic", "a value critic when critic_weight > 0", critic)
    trees = [SearchTree(p, [Node("", "", -1, 0)]) for p in problems]
    for i in range(cfg.simulations):
        chosen = [select(tree, cfg) for tree in trees]
        pending = [(t, index) for t, index in enumerate(chosen) if not trees[t].nodes[index].terminal]
        for t, index in enumerate(chosen):  # a terminal node is re-scored without sampling
            if trees[t].nodes[index].terminal:
                backup(trees[t], index, float(task.score(trees[t].problem, trees[t].nodes[index].prefix).correct))
        requests = [CompletionRequest(trees[t].problem, trees[t].nodes[index].prefix,
                                      row_key(seed, "mcts", trees[t].problem.index, i)) for t, index in pending]
        completions = completer(requests) if requests else []
        leaves = []
        for (t, index), completion in zip(pending, completions):
            tree = trees[t]
            tree.samples += 1
            tree.sampled_chars += len(completion)
            tree.nodes[index].expansions += 1
            child = add_child(tree, index, first_line(completion), task, cfg)
            full = tree.nodes[child].prefix if tree.nodes[child].terminal else tree.nodes[index].prefix + completion
            leaves.append((t, child, float(task.score(tree.problem, full).correct)))
        if cfg.critic_weight > 0 and leaves:
            values = critic([trees[t].problem for t, _, _ in leaves], [trees[t].nodes[c].prefix for t, c, _ in leaves])
            leaves = [(t, c, (1 - cfg.critic_weight) * r + cfg.critic_weight * v) for (t, c, r), v in zip(leaves, values)]
        for t, child, value in leaves:
            backup(trees[t], child, value)
    return trees


def labelled_solutions(tree: SearchTree, task) -> list[tuple[str, list[float]]]:
    """Each terminal node's text (a solution the search wrote) with Q of each of its steps, in step
    order, for the steps of the task's segmentation (a step's Q is that of the node it ends). A
    path ending in an empty step (the policy stopped at once) has a node without a line: it is
    left out, since its steps and its nodes do not pair up (it has no answer line, so it is never
    a right solution)."""
    out = []
    for index, node in enumerate(tree.nodes):
        if index == 0 or not node.terminal:
            continue
        qs = [tree.nodes[i].q for i in tree.path(index)]
        if len(qs) == len(task.segment(node.prefix)):
            out.append((node.prefix, qs))
    return out


def tree_graph(tree: SearchTree):
    """The tree as a ``networkx.DiGraph`` for ``sandbox.rollout.tree_view.draw_tree``: node attribute
    ``text`` = its step with Q and N; returns (graph, {node: Q}) (the colours)."""
    import networkx as nx

    graph = nx.DiGraph()
    for index, node in enumerate(tree.nodes):
        label = "prompt" if index == 0 else node.step.strip()
        graph.add_node(index, text=f"{label}\nQ={node.q:.2f} N={node.visits}")
        if node.parent >= 0:
            graph.add_edge(node.parent, index)
    return graph, {index: node.q for index, node in enumerate(tree.nodes)}
