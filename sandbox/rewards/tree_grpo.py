"""Tree-GRPO's advantage: a leaf's reward z-scored within its tree and within its prompt.

    A_{i,t} = (R_i − mean_tree(R)) / (std_tree(R) + eps)  +  (R_i − mean_prompt(R)) / (std_prompt(R) + eps)

for every response token t of leaf i, with R_i = Σ_t r_{i,t} the leaf's summed reward, "tree"
the kept leaves of i's tree and "prompt" every kept leaf of i's problem (all its trees), std the
unbiased (n − 1) std as in ``grpo``. Leaves of one tree share prefixes, so the intra-tree term
compares siblings: it is an implicit step-level preference between the subtrees under each
branching node. ``prompt_term=False`` keeps the intra-tree term only (the ``tree-inner``
variant). A singleton tree or prompt has no baseline and contributes 0 (a lone leaf of a lone
tree gets A = 0); a tree whose leaves share one reward gets an intra-tree term of exactly 0.

Tree ids come from the tree sampler (``Rollouts.extras["tree"]``, passed by the registry because
``ESTIMATOR_EXTRAS`` declares it); a tree is identified by the pair (group, tree id), so ids only
need to be distinct within a group.

"Tree Search for LLM Agent Reinforcement Learning" (Ji, Ma, Wang, Chen, Chu, Wu 2025, arXiv
2509.21240): its intra-tree plus inter-tree group-relative advantage (the inter-tree group is
every tree of the prompt, the "prompt" term here).
"""

from __future__ import annotations

import torch

from sandbox.rewards.base import sequence_rewards
from sandbox.rewards.groups import group_deviation, group_std


def tree_grpo(
    rewards: torch.Tensor,
    mask: torch.Tensor,
    group: torch.Tensor,
    step_ids: torch.Tensor,
    tree: torch.Tensor,
    eps: float = 1e-6,
    prompt_term: bool = True,
) -> torch.Tensor:
    """[B, T] float32 intra-tree (+ intra-prompt) z-scored advantages on response tokens, 0 elsewhere."""
    returns = sequence_rewards(rewards, mask)
    tree_of_row = tree_index(group, torch.as_tensor(tree, device=group.device))
    advantage = group_deviation(returns, tree_of_row) / (group_std(returns, tree_of_row) + eps)
    if prompt_term:
        advantage = advantage + group_deviation(returns, group) / (group_std(returns, group) + eps)
    return (advantage[:, None] * mask).float()


def tree_index(group: torch.Tensor, tree: torch.Tensor) -> torch.Tensor:
    """[B] one id per distinct (group, tree) pair."""
    _, index = torch.unique(torch.stack((group.long(), tree.long()), dim=1), dim=0, return_inverse=True)
    return index
