"""Return-to-go with the leave-one-out baseline (``baseline="leave_one_out"``): a naive oracle (with and without PRIME's batch
whitening), outcome rewards reduce to RLOO, lone rows, and the kit."""

import torch
from hypothesis import given
from hypothesis import strategies as st

from sandbox.rewards.rloo import rloo
from sandbox.rewards.return_to_go import return_to_go
from sandbox.testing import check_advantage_estimator
from sandbox.testing.strategies import estimator_batches


def naive(rewards, mask, group, gamma) -> torch.Tensor:
    """Loops: each token's discounted reward-to-go minus the mean total return of the other rows."""
    rows, width = rewards.shape
    togo = [[sum(gamma ** (u - t) * float(rewards[i, u]) for u in range(t, width) if mask[i, u]) for t in range(width)] for i in range(rows)]
    totals = [togo[i][int(mask[i].int().argmax())] if mask[i].any() else 0.0 for i in range(rows)]
    out = torch.zeros(rows, width, dtype=torch.float64)
    for i in range(rows):
        others = [totals[j] for j in range(rows) if j != i and group[j] == group[i]]
        baseline = sum(others) / len(others) if others else totals[i]
        for t in range(width):
            if mask[i, t]:
                out[i, t] = togo[i][t] - baseline
    return out


def naive_whiten(values: torch.Tensor, mask: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Loops: (x − mean) / (unbiased std + eps) over the masked entries, 0 elsewhere."""
    xs = [float(values[i, t]) for i in range(values.shape[0]) for t in range(values.shape[1]) if mask[i, t]]
    mean = sum(xs) / len(xs) if xs else 0.0
    std = (sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)) ** 0.5 if len(xs) > 1 else 0.0
    out = torch.zeros(values.shape, dtype=torch.float64)
    for i in range(values.shape[0]):
        for t in range(values.shape[1]):
            if mask[i, t]:
                out[i, t] = (float(values[i, t]) - mean) / (std + eps)
    return out


@given(batch=estimator_batches(), gamma=st.sampled_from([1.0, 0.9, 0.5]))
def test_leave_one_out_matches_a_naive_loop(batch, gamma):
    adv = return_to_go(batch.rewards, batch.mask, batch.group, batch.step_ids, gamma=gamma, baseline="leave_one_out")
    assert torch.allclose(adv.double(), naive(batch.rewards, batch.mask, batch.group, gamma), atol=1e-4)


@given(batch=estimator_batches(), gamma=st.sampled_from([1.0, 0.9, 0.5]))
def test_leave_one_out_whitened_over_the_batch(batch, gamma):
    """PRIME's released code whitens the RLOO returns over every response token of the batch."""
    adv = return_to_go(batch.rewards, batch.mask, batch.group, batch.step_ids, gamma=gamma, baseline="leave_one_out", whiten=True)
    expected = naive_whiten(naive(batch.rewards, batch.mask, batch.group, gamma), batch.mask)
    assert torch.allclose(adv.double(), expected, atol=1e-3, rtol=1e-4)


@given(batch=estimator_batches(layouts=("last",)))
def test_outcome_rewards_give_rloo(batch):
    adv = return_to_go(batch.rewards, batch.mask, batch.group, batch.step_ids, baseline="leave_one_out")
    assert torch.allclose(adv, rloo(batch.rewards, batch.mask, batch.group, batch.step_ids), atol=1e-5)


def test_leave_one_out_passes_the_kit_whitened_and_as_a_dense_estimator_without_whitening():
    check_advantage_estimator(return_to_go, "dense_whitened", options={"baseline": "leave_one_out", "whiten": True})
    check_advantage_estimator(return_to_go, "dense", options={"baseline": "leave_one_out"})
    check_advantage_estimator(return_to_go, "dense", options={"gamma": 0.9, "baseline": "leave_one_out"})
