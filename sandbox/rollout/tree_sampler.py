"""Tree sampler: M rollout trees per prompt whose branches share their prefixes' KV cache.

    for each prompt, for each of M trees:
        round 0:   one full rollout from the prompt             (the tree's first leaf)
        round r = 1..L:
            draw N nodes uniformly, with replacement, from root ∪ inner nodes
            from each drawn node v: copy the KV cache of v's prefix, decode a continuation
            to the end                                            (one new leaf per draw)
        keep K ≤ 1 + L·N leaves uniformly at random; prune branches left without a kept leaf

A node is a step boundary of a rollout (the task's segmentation, ``Rollouts.step_ids``): the
root is the end of the prompt, an inner node is the end of a step with steps after it, a leaf is
the end of a response. A continuation from node v is a fresh decode that starts after v's
prefix: the parent's cache rows for the prefix's first n − 1 positions are copied into the new
batch, only the prefix's last token is run through the model (its logits choose the first new
token), and decoding goes on with the keyed token choice every sampler shares
(``sandbox.model.sampler.decode``), so a row's behaviour log-probs are exactly what the loss
recomputes from its tokens. The shared tokens and their log-probs are copied from the parent,
so leaves that share a prefix share its tokens exactly. Each continuation gets the response
budget that is left after its prefix (``max_new_tokens`` − prefix response length): a leaf is
never longer than an independent rollout. Rows of a batch are decoded together to the largest
budget in it and a row is cut at its own budget afterwards; sampling is causal, so the kept
tokens are those a per-row budget would give (the decoded surplus is still counted as generated).

Randomness: the first rollout of tree m of problem p at RL step s is keyed by
(seed, s, p, m, round 0, draw 0), the j-th continuation of round r by (seed, s, p, m, r, j),
the r-th round's node draws by (seed, s, p, m, r) and the kept-leaf subset by (seed, s, p, m),
each with a distinct tag (``sandbox.rng``): a tree does not depend on what else is in the batch.
A continuation is keyed by its draw index j rather than by the node it starts from: nodes are
drawn with replacement, and a node drawn twice in a round must get two different continuations.

Group size: the trainer asks for ``group_size`` rows per problem; here they are the M·K kept
leaves, so ``group_size`` must be a multiple of ``trees`` and K = group_size / trees must be at
most 1 + rounds·branches (``ConfigError`` otherwise). Rows of one problem are adjacent, tree by
tree, kept leaves in the order they were sampled.

``Rollouts.extras`` gets, per row: ``tree`` (a tree id unique in the batch: problem·M + m),
``tree_node`` (the leaf's node id in its tree), ``tree_graph`` (the pruned tree, a networkx
``DiGraph`` shared by the rows of one tree; node attributes ``start``/``end`` = the node's
segment in response tokens, ``text``, ``leaf``), and ``generated_tokens`` (the tree's decoded
tokens, pruned leaves included, spread evenly over its kept rows: the sum over a batch is the
work the sampler did).

Tiny model only: the prefix cache is copied through ``TinyLlama``'s ``KVCache``; a Hugging Face
policy is refused with a ``ConfigError`` (its ``past_key_values`` layout differs per version).

"Tree Search for LLM Agent Reinforcement Learning"
(Ji, Ma, Wang, Chen, Chu, Wu 2025, arXiv 2509.21240): its tree-search rollout, with nodes that
are reasoning steps here where the paper's are agent turns (thought, action, observation).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from sandbox.model.model import TinyLlama
from sandbox.model.sampler import SamplingConfig, decode
from sandbox.rng import keyed_uniform, row_key
from sandbox.rollout.batching import evaluating
from sandbox.rollout.rollouts import Rollouts, response_step_ids
from toy_envs.base import check

if TYPE_CHECKING:
    import networkx as nx


@dataclass
class TreeCost:
    """What growing the trees of one call cost."""

    generated_tokens: int = 0
    """Tokens decoded (sampled), pruned leaves and budget surplus included."""
    prefill_tokens: int = 0
    """Tokens run through the model that were not sampled: prompts of first rollouts, and the last
    prefix token of every continuation."""
    reused_tokens: int = 0
    """Prefix positions whose keys/values were copied from a parent instead of recomputed."""
    seconds: float = 0.0
    """Wall-clock time of the whole call (decoding, cache copies, segmentation; verdicts are
    computed later, when read)."""
    sampled_leaves: int = 0
    """Leaves decoded, M·(1 + L·N) per problem."""
    kept_leaves: int = 0
    """Leaves returned, M·K per problem."""


@dataclass
class _Path:
    """One decoded root-to-leaf sequence of a tree."""

    response: list[int]
    logprobs: list[float]
    truncated: bool
    text: str = ""
    step_ids: list[int] = field(default_factory=list)
    cache: object = None
    """(KVCache of the batch it was decoded in, its row there, its left padding there)."""


def _networkx():
    """networkx, imported where a tree is grown: the trainer imports this module (the variant
    registry names its sampler) and most processes never grow a tree."""
    import networkx

    return networkx


@dataclass
class _Tree:
    problem: object
    prompt: list[int]
    keys: tuple
    """(step, problem index, tree index): the tree's part of every random key."""
    graph: nx.DiGraph = field(default_factory=lambda: _networkx().DiGraph())
    paths: list[_Path] = field(default_factory=list)
    leaves: list[int] = field(default_factory=list)
    """Leaf node id of each path."""
    owner: dict = field(default_factory=dict)
    """Node id -> index of the path that created it (whose tokens and cache hold its prefix)."""
    generated_tokens: int = 0

    def __post_init__(self) -> None:
        self.graph.graph.update(step=self.keys[0], problem=self.keys[1], tree=self.keys[2])


def leaves_per_tree(group_size: int, trees: int, rounds: int, branches: int) -> int:
    """K = group_size / trees, after checking the tree shape (``ConfigError`` naming the field)."""
    check(trees >= 1, "trees", "an integer >= 1", trees)
    check(rounds >= 0, "rounds", "an integer >= 0", rounds)
    check(branches >= 1, "branches", "an integer >= 1", branches)
    sampled = 1 + rounds * branches
    check(
        group_size >= trees and group_size % trees == 0 and group_size // trees <= sampled,
        "group_size",
        f"trees·K with 1 <= K <= 1 + rounds·branches = {sampled} kept leaves per tree (trees={trees})",
        group_size,
    )
    return group_size // trees


def sample_trees(
    policy, task, problem_indices, group_size, sampling: SamplingConfig, seed, step,
    trees: int = 2, rounds: int = 2, branches: int = 2,
) -> Rollouts:
    """``group_size`` = trees·K kept leaves of each problem (the ``SAMPLERS`` signature)."""
    return grow_trees(policy, task, problem_indices, group_size, sampling, seed, step, trees, rounds, branches)[0]


def grow_trees(
    policy, task, problem_indices, group_size, sampling: SamplingConfig, seed, step,
    trees: int = 2, rounds: int = 2, branches: int = 2, split: str = "train",
) -> tuple[Rollouts, TreeCost]:
    """The kept leaves as ``Rollouts`` and what growing the trees cost."""
    kept = leaves_per_tree(group_size, trees, rounds, branches)
    check(
        isinstance(policy.module, TinyLlama),
        "policy",
        "a TinyPolicy (tree sampling copies prefix KV caches through TinyLlama's cache)",
        type(policy.module).__name__,
    )
    sampling.validate()
    start = time.perf_counter()
    tok, model = policy.tokenizer, policy.module
    cost = TreeCost()
    forest = []
    for p in problem_indices:
        problem = task.problem(p, split=split)
        prompt = tok.encode(task.prompt(problem), bos=True)
        forest += [_Tree(problem, prompt, (step, p, m)) for m in range(trees)]
    with evaluating(model):
        first = [(tree, None, 0) for tree in forest]
        _grow(model, tok, task, sampling, seed, 0, first, cost)
        for r in range(1, rounds + 1):
            draws = [(tree, node, j) for tree in forest for j, node in enumerate(_draw_nodes(tree, seed, r, branches))]
            _grow(model, tok, task, sampling, seed, r, draws, cost)
    for tree in forest:
        _release_caches(tree)
    rows = []
    for t, tree in enumerate(forest):
        keep = _kept_paths(tree, seed, kept)
        graph = _pruned(tree.graph, [tree.leaves[i] for i in keep])
        share = tree.generated_tokens / kept
        rows += [(t, tree, i, graph, share) for i in keep]
    cost.sampled_leaves = sum(len(tree.paths) for tree in forest)
    cost.kept_leaves = len(rows)
    rollouts = _as_rollouts(task, rows, trees, kept, tok)
    cost.seconds = time.perf_counter() - start
    return rollouts, cost


def _draw_nodes(tree: _Tree, seed: int, round_: int, branches: int) -> list[int]:
    """``branches`` node ids drawn uniformly with replacement from root ∪ inner nodes."""
    candidates = sorted(n for n in tree.graph.nodes if tree.graph.out_degree(n) > 0)
    key = torch.tensor([row_key(seed, "tree-nodes", *tree.keys, round_)])
    u = keyed_uniform(key, 0, branches)[0]
    return [candidates[min(int(x * len(candidates)), len(candidates) - 1)] for x in u.tolist()]


def _kept_paths(tree: _Tree, seed: int, kept: int) -> list[int]:
    """Indices of the ``kept`` paths chosen uniformly without replacement, in sampling order."""
    key = torch.tensor([row_key(seed, "tree-keep", *tree.keys)])
    order = keyed_uniform(key, 0, len(tree.paths))[0].argsort()
    return sorted(order[:kept].tolist())


def _pruned(graph: nx.DiGraph, kept_leaves: list[int]) -> nx.DiGraph:
    """The subtree spanned by the root and the kept leaves (branches without one removed)."""
    nodes = set(kept_leaves)
    for leaf in kept_leaves:
        nodes |= _networkx().ancestors(graph, leaf)
    return graph.subgraph(nodes).copy()


def _grow(model, tok, task, sampling: SamplingConfig, seed: int, round_: int, draws, cost: TreeCost) -> None:
    """Decode one continuation per (tree, node, draw index) in ``draws`` (node None: a first
    rollout from the prompt) and add each as a new path of its tree, in batches that fit
    ``max_seq_len``."""
    jobs = []
    for tree, node, draw in draws:
        if node is None:
            end, owner = 0, None
        else:
            end, owner = tree.graph.nodes[node]["end"], tree.paths[tree.owner[node]]
        prefix = tree.prompt + ([] if owner is None else owner.response[:end])
        jobs.append((tree, node, end, owner, prefix, row_key(seed, "tree", *tree.keys, round_, draw)))
    for batch in _fitting_batches(jobs, sampling.max_new_tokens, model.cfg.max_seq_len):
        _decode_batch(model, tok, task, sampling, batch, cost)


def _fitting_batches(jobs, max_new_tokens: int, max_seq_len: int) -> list[list]:
    """Split jobs (sorted by prefix length) so that longest prefix + largest budget fits the model."""
    order = sorted(range(len(jobs)), key=lambda i: len(jobs[i][4]))
    batches, current, budget = [], [], 0
    for i in order:
        job = jobs[i]
        longest, need = len(job[4]), max(budget, max_new_tokens - job[2])
        if current and longest + need > max_seq_len:
            batches.append(current)
            current, need = [], max_new_tokens - job[2]
        if longest + need > max_seq_len:
            raise ValueError(
                f"max_new_tokens={max_new_tokens} plus a prefix of {longest} tokens exceeds the model's "
                f"max_seq_len={max_seq_len}"
            )
        current.append(job)
        budget = need
    if current:
        batches.append(current)
    return batches


def _decode_batch(model, tok, task, sampling: SamplingConfig, jobs, cost: TreeCost) -> None:
    prefixes = [job[4] for job in jobs]
    budgets = [sampling.max_new_tokens - job[2] for job in jobs]
    cfg = SamplingConfig(max_new_tokens=max(budgets), temperature=sampling.temperature, top_p=sampling.top_p)
    owners = [None if job[3] is None else job[3].cache for job in jobs]
    store = {}
    forward = _cached_forward(model, owners, cfg.max_new_tokens, store)
    keys = torch.tensor([job[5] for job in jobs], dtype=torch.int64)
    device = next(model.parameters()).device
    out = decode(forward, prefixes, cfg, keys, tok.eos_id, tok.pad_id, False, device)
    cost.generated_tokens += int(out.response_lens.sum())
    cost.prefill_tokens += sum(len(p) if o is None else 1 for p, o in zip(prefixes, owners))
    cost.reused_tokens += sum(0 if o is None else len(p) - 1 for p, o in zip(prefixes, owners))
    longest = max(len(p) for p in prefixes)
    n_special = len(getattr(tok, "specials", ()))
    for b, (tree, node, end, owner, prefix, _) in enumerate(jobs):
        n, length = len(prefix), int(out.response_lens[b])
        tree.generated_tokens += length
        new = out.tokens[b, n : n + length].tolist()[: budgets[b]]
        new_logp = out.logprobs[b, n : n + length].tolist()[: budgets[b]]
        shared = [] if owner is None else owner.response[:end]
        shared_logp = [] if owner is None else owner.logprobs[:end]
        path = _Path(shared + new, shared_logp + new_logp, new[-1] != tok.eos_id)
        path.cache = (store["cache"], b, longest - n)
        path.text = tok.decode(path.response)
        path.step_ids = response_step_ids(path.response, task.segment(path.text), [t >= n_special for t in path.response])
        _add_path(tree, node, end, path, tok)


def _cached_forward(model: TinyLlama, owners, max_new_tokens: int, store: dict):
    """The ``forward`` of ``sampler.decode`` for one batch of continuations.

    Prefill (slot 0): a row without an owner runs its whole prompt (causal, never onto left
    padding, as the plain sampler does); a row with one copies the owner's cache rows for the
    prefix's first n − 1 positions into its own left-aligned slots and runs only the last prefix
    token. Decode steps are the plain cached single-token pass.
    """
    fused = model.fused_weights()

    def forward(chunk, slot, positions, real):
        if slot == 0:
            batch, longest = chunk.shape
            cache = store["cache"] = model.new_cache(batch, longest + max_new_tokens)
            if owners[0] is None:  # a round is all first rollouts or all continuations
                causal = torch.ones(longest, longest, dtype=torch.bool, device=chunk.device).tril()
                eye = torch.eye(longest, dtype=torch.bool, device=chunk.device)
                mask = (causal[None] & real[:, None, :]) | eye
                return model(chunk, cache, 0, positions, mask[:, None], fused)[:, -1]
            pads = (~real).sum(-1).tolist()
            for b, (owner_cache, row, owner_pad) in enumerate(owners):
                n = longest - pads[b]
                for layer in range(model.cfg.n_layers):
                    cache.k[layer][b, :, pads[b] : longest - 1] = owner_cache.k[layer][row, :, owner_pad : owner_pad + n - 1]
                    cache.v[layer][b, :, pads[b] : longest - 1] = owner_cache.v[layer][row, :, owner_pad : owner_pad + n - 1]
            last = longest - 1
            return model(chunk[:, last:], cache, last, positions[:, last:], real[:, None, None, :], fused)[:, 0]
        return model(chunk, store["cache"], slot, positions, real[:, None, None, :], fused)[:, 0]

    return forward


def _add_path(tree: _Tree, node, end: int, path: _Path, tok) -> None:
    """Append ``path`` (branching at ``node`` after ``end`` response tokens) to the tree: one new
    node per step boundary after ``end``, then its leaf."""
    index = len(tree.paths)
    tree.paths.append(path)
    graph = tree.graph
    if node is None:
        node = graph.number_of_nodes()
        graph.add_node(node, start=0, end=0, text="", leaf=False)
        tree.owner[node] = index
    boundaries = [t for t in range(end + 1, len(path.response)) if path.step_ids[t] != path.step_ids[t - 1]]
    parent, start = node, end
    for stop in boundaries + [len(path.response)]:
        child = graph.number_of_nodes()
        text = tok.decode(path.response[start:stop])
        graph.add_node(child, start=start, end=stop, text=text, leaf=stop == len(path.response))
        tree.owner[child] = index
        graph.add_edge(parent, child)
        parent, start = child, stop
    tree.leaves.append(parent)


def _release_caches(tree: _Tree) -> None:
    for path in tree.paths:
        path.cache = None


def _as_rollouts(task, rows, trees: int, kept: int, tok) -> Rollouts:
    """Right-padded ``Rollouts`` of the kept paths, with the tree extras; the kept leaves'
    verdicts are computed when first read (pruned leaves are never scored)."""
    paths = [tree.paths[i] for _, tree, i, _, _ in rows]
    return Rollouts.from_texts(
        task, [tree.problem for _, tree, _, _, _ in rows], [path.text for path in paths], [path.truncated for path in paths],
        tokenizer=tok, responses=[path.response for path in paths], logprobs=[path.logprobs for path in paths],
        rollout_index=[r % (trees * kept) for r in range(len(rows))],
        extras={
            "tree": torch.tensor([tree.keys[1] * trees + tree.keys[2] for _, tree, _, _, _ in rows]),
            "tree_node": torch.tensor([tree.leaves[i] for _, tree, i, _, _ in rows]),
            "tree_graph": [graph for _, _, _, graph, _ in rows],
            "generated_tokens": torch.tensor([share for _, _, _, _, share in rows], dtype=torch.float64),
        },
    )
