"""Tree-GRPO's estimator: property tests and a naive-loop oracle."""

import math
import random
from dataclasses import replace

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from sandbox.rewards.registry import ESTIMATOR_EXTRAS, compute_advantages, get_variant
from sandbox.rewards.tree_grpo import tree_grpo
from sandbox.rollout.rollouts import Rollouts
from sandbox.testing.strategies import EstimatorBatch, estimator_batches
from toy_envs import make_task


@st.composite
def tree_batches(draw, max_trees: int = 3):
    """An estimator batch plus a tree id per row (0..max_trees−1, drawn per row inside each group)."""
    batch = draw(estimator_batches(layouts=("last",)))
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    tree = torch.tensor([rng.randrange(max_trees) for _ in range(len(batch.group))])
    return batch, tree


def advantages(batch: EstimatorBatch, tree, **options) -> torch.Tensor:
    return tree_grpo(batch.rewards, batch.mask, batch.group, batch.step_ids, tree, **options)


def row_value(adv: torch.Tensor, batch: EstimatorBatch) -> torch.Tensor:
    first = batch.mask.int().argmax(1)
    return adv[torch.arange(len(first)), first]


def naive_z(values: list[float], members: list[int], i: int, eps: float) -> float:
    """(x_i − mean) / (unbiased std + eps) over ``members`` with plain loops; 0 for one member."""
    if len(members) == 1:
        return 0.0
    mean = sum(values[j] for j in members) / len(members)
    std = math.sqrt(sum((values[j] - mean) ** 2 for j in members) / (len(members) - 1))
    return (values[i] - mean) / (std + eps)


def naive_tree_grpo(batch: EstimatorBatch, tree: torch.Tensor, eps: float, prompt_term: bool) -> list[float]:
    returns = [
        sum(float(batch.rewards[i, t]) for t in range(batch.mask.shape[1]) if batch.mask[i, t])
        for i in range(len(batch.group))
    ]
    group, tree = batch.group.tolist(), tree.tolist()
    out = []
    for i in range(len(group)):
        same_tree = [j for j in range(len(group)) if group[j] == group[i] and tree[j] == tree[i]]
        value = naive_z(returns, same_tree, i, eps)
        if prompt_term:
            value += naive_z(returns, [j for j in range(len(group)) if group[j] == group[i]], i, eps)
        out.append(value)
    return out


@given(tree_batches(), st.booleans())
def test_matches_a_naive_loop(case, prompt_term):
    batch, tree = case
    got = row_value(advantages(batch, tree, prompt_term=prompt_term), batch)
    want = torch.tensor(naive_tree_grpo(batch, tree, 1e-6, prompt_term))
    torch.testing.assert_close(got.double(), want.double(), atol=1e-4, rtol=1e-4)


@given(tree_batches())
def test_intra_tree_advantages_of_a_tree_sum_to_zero(case):
    batch, tree = case
    values = row_value(advantages(batch, tree, prompt_term=False), batch).double()
    for key in set(zip(batch.group.tolist(), tree.tolist())):
        rows = [i for i, k in enumerate(zip(batch.group.tolist(), tree.tolist())) if k == key]
        assert abs(float(values[rows].sum())) < 1e-3 * max(1, len(rows))


@given(tree_batches())
def test_a_tree_whose_leaves_share_one_reward_has_zero_intra_tree_term(case):
    batch, tree = case
    rewards = batch.rewards.clone()
    last = batch.mask.shape[1] - 1 - batch.mask.flip(1).int().argmax(1)
    for key in set(zip(batch.group.tolist(), tree.tolist())):
        rows = [i for i, k in enumerate(zip(batch.group.tolist(), tree.tolist())) if k == key]
        shared = rewards[rows[0], last[rows[0]]].item()
        for i in rows:
            rewards[i] = 0.0
            rewards[i, last[i]] = shared
    flat = EstimatorBatch(rewards, batch.mask, batch.group, batch.step_ids)
    assert (advantages(flat, tree, prompt_term=False) == 0).all()


@given(tree_batches(), st.data())
def test_permuting_leaves_within_a_tree_permutes_advantages(case, data):
    batch, tree = case
    order = list(range(len(tree)))
    keys = list(zip(batch.group.tolist(), tree.tolist()))
    for key in set(keys):
        rows = [i for i, k in enumerate(keys) if k == key]
        for slot, row in zip(rows, data.draw(st.permutations(rows))):
            order[slot] = row
    order = torch.tensor(order)
    permuted = EstimatorBatch(*(field[order] for field in batch))
    torch.testing.assert_close(advantages(permuted, tree[order]), advantages(batch, tree)[order])


@given(tree_batches(), st.booleans())
def test_advantages_are_zero_off_the_response(case, prompt_term):
    batch, tree = case
    assert (advantages(batch, tree, prompt_term=prompt_term)[~batch.mask] == 0).all()


@given(tree_batches())
def test_every_token_of_a_leaf_gets_its_leaf_advantage(case):
    batch, tree = case
    adv = advantages(batch, tree)
    value = row_value(adv, batch)
    assert torch.equal(adv, value[:, None] * batch.mask)


def test_a_lone_leaf_of_a_lone_tree_gets_zero():
    batch = EstimatorBatch(torch.tensor([[0.0, 3.0]]), torch.tensor([[False, True]]), torch.tensor([7]), torch.tensor([[-1, 0]]))
    assert (advantages(batch, torch.tensor([0])) == 0).all()


def test_tree_ids_are_read_within_a_group():
    """Two groups that reuse tree id 0 are two trees, not one."""
    rewards = torch.tensor([[1.0], [0.0], [5.0], [5.0]])
    batch = EstimatorBatch(rewards, torch.ones(4, 1, dtype=torch.bool), torch.tensor([0, 0, 1, 1]), torch.zeros(4, 1, dtype=torch.long))
    adv = advantages(batch, torch.zeros(4, dtype=torch.long), prompt_term=False)[:, 0]
    assert adv[0] > 0 > adv[1] and (adv[2:] == 0).all()


def test_the_registry_passes_tree_ids_from_rollouts_extras():
    task = make_task("arithmetic", n_steps=2, operators="+-", start_max=50)
    problem = task.problem(0)
    texts = [task.gold_solution(problem), "garbage", "also garbage", "more garbage"]
    rollouts = Rollouts.from_texts(task, [problem] * 4, texts)
    rewards = torch.zeros(rollouts.tokens.shape)
    rewards[torch.arange(4), rollouts.last_token] = torch.tensor([1.0, 0.0, 0.0, 0.0])
    variant = get_variant("tree-inner")
    assert ESTIMATOR_EXTRAS[variant.estimator] == ("tree",)
    with pytest.raises(ValueError, match="extras"):
        compute_advantages(variant, rollouts, rewards)
    tree = torch.tensor([0, 0, 1, 1])
    adv = compute_advantages(variant, replace(rollouts, extras={**rollouts.extras, "tree": tree}), rewards)
    want = tree_grpo(rewards, rollouts.response_mask, rollouts.group, rollouts.step_ids, tree, prompt_term=False)
    assert torch.equal(adv, want)
    assert adv[2].abs().sum() == 0 and adv[0].sum() > 0
