"""VERL's effective-rank advantage shaping: a bounded, sign-preserving bonus on GRPO's advantage."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from sandbox.rewards.effective_rank_grpo import effective_rank_grpo
from sandbox.rewards.grpo import grpo
from sandbox.rewards.registry import compute_advantages, get_variant
from sandbox.rollout.effective_rank import prefix_lengths, velocity_acceleration
from sandbox.testing.strategies import estimator_batches
from toy_envs.base import ConfigError


def hidden_for(batch, seed: int, d: int = 4) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.standard_normal((*batch.mask.shape, d))).float() * batch.mask[..., None]


def shaped(batch, hidden, **options):
    return effective_rank_grpo(batch.rewards, batch.mask, batch.group, batch.step_ids, hidden, **options)


def erank_oracle(rows: np.ndarray) -> float:
    rows = rows - rows.mean(0, keepdims=True)
    sigmas = [math.sqrt(max(float(e), 0.0)) for e in np.linalg.eigvalsh(rows @ rows.T)]
    total = sum(sigmas)
    return math.exp(-sum(s / total * math.log(s / total) for s in sigmas if s > 0)) if total > 0 else 0.0


def oracle(batch, hidden, stride=2, gain=2.0, weight=1.0, kappa=2.0, clip=5.0):
    """A per-row loop of the module docstring's equations."""
    stats = []
    for b in range(len(batch.mask)):
        idx = batch.mask[b].nonzero().flatten().tolist()
        rows = hidden[b, idx].double().numpy()
        series = [erank_oracle(rows[:k]) for k in prefix_lengths(len(idx), stride)]
        stats.append((erank_oracle(rows), *velocity_acceleration(series)))
    columns = list(zip(*stats))

    def deviation(values, i):
        m = sum(values) / len(values)
        return min(max((values[i] - m) / (abs(m) + 1e-8), -clip), clip)

    base = grpo(batch.rewards, batch.mask, batch.group, batch.step_ids)
    out = base.clone()
    for i in range(len(stats)):
        tau = 1 / (1 + math.exp(-gain * deviation(columns[2], i)))
        bonus = max(weight * (tau * math.tanh(deviation(columns[0], i)) + (1 - tau) * math.tanh(deviation(columns[1], i))), 0.0)
        out[i] = base[i] + torch.minimum(torch.tensor(bonus), base[i].abs() / kappa) * batch.mask[i]
    return out


@given(estimator_batches(max_response=8), st.integers(0, 2**31 - 1))
def test_matches_a_per_row_oracle(batch, seed):
    hidden = hidden_for(batch, seed)
    assert torch.allclose(shaped(batch, hidden), oracle(batch, hidden), atol=1e-5)


@given(estimator_batches(), st.integers(0, 2**31 - 1), st.floats(1.1, 10))
def test_bonus_is_bounded_nonnegative_and_keeps_the_sign(batch, seed, kappa):
    hidden = hidden_for(batch, seed)
    base = grpo(batch.rewards, batch.mask, batch.group, batch.step_ids)
    out = shaped(batch, hidden, kappa=kappa)
    bonus = out - base
    assert (bonus >= 0).all()
    assert (bonus <= base.abs() / kappa + 1e-6).all()
    assert (torch.sign(out) == torch.sign(base)).all()
    assert (out[~batch.mask] == 0).all()


@given(estimator_batches(), st.integers(0, 2**31 - 1), st.floats(0.01, 100))
def test_invariant_to_scaling_and_rotating_the_hidden_states(batch, seed, c):
    hidden = hidden_for(batch, seed)
    q, _ = torch.linalg.qr(torch.from_numpy(np.random.default_rng(seed + 1).standard_normal((4, 4))).float())
    out = shaped(batch, hidden)
    assert torch.allclose(shaped(batch, c * hidden), out, atol=1e-5)
    assert torch.allclose(shaped(batch, hidden @ q), out, atol=1e-5)


@given(estimator_batches(), st.integers(0, 2**31 - 1))
def test_rows_with_the_same_hidden_states_get_plain_grpo(batch, seed):
    width = batch.mask.shape[1]
    one = torch.from_numpy(np.random.default_rng(seed).standard_normal((width, 4))).float()
    hidden = torch.zeros(*batch.mask.shape, 4)
    for b in range(len(batch.mask)):  # every row: the same vectors at its response positions, in order
        idx = batch.mask[b].nonzero().flatten()
        hidden[b, idx] = one[: len(idx)]
    same_length = len(set(batch.mask.sum(1).tolist())) == 1
    if same_length:  # equal statistics: every deviation is 0, so is the bonus
        assert torch.equal(shaped(batch, hidden), grpo(batch.rewards, batch.mask, batch.group, batch.step_ids))


@given(estimator_batches(), st.integers(0, 2**31 - 1))
def test_last_placement_shapes_only_the_last_response_token(batch, seed):
    hidden = hidden_for(batch, seed)
    base = grpo(batch.rewards, batch.mask, batch.group, batch.step_ids)
    everywhere, last = shaped(batch, hidden), shaped(batch, hidden, on="last")
    lasts = batch.mask.long().cumsum(1).argmax(1)
    rows = torch.arange(len(lasts))
    assert torch.allclose(last[rows, lasts], everywhere[rows, lasts])
    others = batch.mask.clone()
    others[rows, lasts] = False
    assert torch.equal(last[others], base[others])


def test_the_variant_reads_the_hidden_states_the_trainer_hands_in():
    variant = get_variant("effective-rank-grpo")

    class Fake:
        extras = {}
        response_mask = torch.ones(2, 3, dtype=torch.bool)
        group = torch.tensor([0, 0])
        step_ids = torch.zeros(2, 3, dtype=torch.long)

    with pytest.raises(ValueError, match="hidden_states.*trainer"):
        compute_advantages(variant, Fake(), torch.zeros(2, 3))
    Fake.extras = {"hidden_states": torch.randn(2, 3, 4)}
    rewards = torch.tensor([[0, 0, 1.0], [0, 0, 0]])
    assert compute_advantages(variant, Fake(), rewards).shape == (2, 3)
    with pytest.raises(ConfigError, match="kappa"):
        effective_rank_grpo(rewards, Fake.response_mask, Fake.group, Fake.step_ids, Fake.extras["hidden_states"], kappa=1.0)
