"""Search-found solutions as training rows: MCTS as the expert of an expert iteration (AlphaLLM's
self-improvement loop, Tian et al. 2024, arXiv 2404.12253: the policy is trained on the
trajectories its own search finds).

    per problem x at RL step s:  an MCTS tree (``sandbox.prm.mcts.search``), the current policy
                                 proposing and completing the steps, ``simulations`` continuations
                                 keyed by (seed, s, x)
    its G rows:                  the tree's finished solutions, the right ones first, each kind by
                                 Q of its last node (highest first), cycled when there are fewer
                                 than G; a tree that finished none gives its most visited path
    behaviour log-probs          the policy's own on those rows (one forward), so the first PPO
                                 pass has ratio 1
    extras["generated_tokens"]   the tree's sampled characters (tokens, with the character
                                 tokenizer) spread evenly over its rows

With the outcome reward and the return-to-go estimator (variant ``mcts-sft``) every token of a right
row has advantage 1 and every token of a wrong one 0: supervised training on the right solutions
the search found. Cut down: AlphaLLM's loop also trains its critics on the searched trees and
re-searches with the improved policy and critics in rounds; here the policy alone improves, step by
step, and the search's critic is the fast rollout.
"""

from __future__ import annotations

import torch

from sandbox.model.sampler import SamplingConfig
from sandbox.prm.mc_labels import PolicyCompleter
from sandbox.prm.mcts import MCTSConfig, SearchTree, search
from sandbox.rng import row_key
from sandbox.rollout.gold_sampler import with_behaviour_logprobs
from sandbox.rollout.rollouts import Rollouts
from toy_envs.base import check, is_int


def check_search_options(group_size: int, simulations: int = 16, branches: int = 3) -> None:
    """``ConfigError`` naming the option unless the tree's settings are allowed."""
    MCTSConfig(simulations=simulations, branches=branches)
    check(is_int(group_size) and group_size >= 1, "group_size", "an integer >= 1", group_size)


def ranked_solutions(tree: SearchTree, task) -> list[tuple[str, bool]]:
    """(text, finished) of the tree's finished solutions, right ones first, each kind by Q (highest
    first, then in the order found); the most visited path's unfinished text when none finished."""
    finished = [(task.score(tree.problem, node.prefix).correct, node.q, -i, node.prefix)
                for i, node in enumerate(tree.nodes) if i and node.terminal]
    if finished:
        return [(text, True) for *_, text in sorted(finished, reverse=True)]
    index = 0
    while tree.nodes[index].children:
        index = max(tree.nodes[index].children.values(), key=lambda c: (tree.nodes[c].visits, -c))
    return [(tree.nodes[index].prefix, False)]


@torch.no_grad()
def sample_search(policy, task, problem_indices: list[int], group_size: int, sampling: SamplingConfig, seed: int, step: int,
                  split: str = "train", simulations: int = 16, branches: int = 3) -> Rollouts:
    """``group_size`` search-found solutions of each problem, rows of one problem adjacent."""
    check_search_options(group_size, simulations, branches)
    problems = [task.problem(i, split=split) for i in problem_indices]
    completer = PolicyCompleter(policy, task, sampling)
    trees = search(problems, task, completer, MCTSConfig(simulations=simulations, branches=branches), row_key(seed, "search", step))
    rows, texts, cut, cost = [], [], [], []
    for tree in trees:
        ranked = ranked_solutions(tree, task)
        for j in range(group_size):
            text, finished = ranked[j % len(ranked)]
            rows.append(tree.problem), texts.append(text), cut.append(not finished and bool(text))
            cost.append(tree.sampled_chars / group_size)
    tok = policy.tokenizer
    rollouts = Rollouts.from_texts(task, rows, texts, cut, tokenizer=tok,
                                   rollout_index=[j for _ in trees for j in range(group_size)],
                                   extras={"generated_tokens": torch.tensor(cost, dtype=torch.float32)})
    return with_behaviour_logprobs(policy, rollouts, sampling.temperature)
