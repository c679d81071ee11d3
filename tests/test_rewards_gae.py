"""GAE: a naive backward-loop oracle (with and without the default batch whitening), its λ = 1
and λ = 0 limits, zero off the mask, the kit, and the critic's targets from the unwhitened Â."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from sandbox.rewards.gae import gae, value_targets
from sandbox.testing import check_advantage_estimator
from sandbox.testing.strategies import estimator_batches
from toy_envs.base import ConfigError

GAMMAS = st.sampled_from([0.0, 0.5, 0.9, 1.0])
LAMBDAS = st.sampled_from([0.0, 0.3, 0.95, 1.0])


def fake_values(mask: torch.Tensor, seed: int) -> torch.Tensor:
    """Arbitrary critic values everywhere (off-mask ones must be ignored)."""
    return torch.randn(mask.shape, generator=torch.Generator().manual_seed(seed))


def naive_gae(rewards, mask, values, gamma, lam) -> list[list[float]]:
    """Per row: the response tokens' δ_t, then A_t = Σ_k (γλ)^k δ_{t+k} summed term by term."""
    out = []
    for i in range(rewards.shape[0]):
        positions = [t for t in range(rewards.shape[1]) if mask[i, t]]
        r = [float(rewards[i, t]) for t in positions]
        v = [float(values[i, t]) for t in positions] + [0.0]
        delta = [r[k] + gamma * v[k + 1] - v[k] for k in range(len(r))]
        row = [0.0] * rewards.shape[1]
        for k, t in enumerate(positions):
            row[t] = sum((gamma * lam) ** j * delta[k + j] for j in range(len(r) - k))
        out.append(row)
    return out


@given(batch=estimator_batches(), gamma=GAMMAS, lam=LAMBDAS, seed=st.integers(0, 1000))
def test_gae_matches_the_naive_sum_of_discounted_td_errors(batch, gamma, lam, seed):
    values = fake_values(batch.mask, seed)
    adv = gae(batch.rewards, batch.mask, batch.group, batch.step_ids, values=values, gamma=gamma, lam=lam, whiten=False)
    expected = torch.tensor(naive_gae(batch.rewards, batch.mask, values, gamma, lam))
    assert torch.allclose(adv, expected.float(), atol=1e-4)
    assert (adv[~batch.mask] == 0).all()


@given(batch=estimator_batches(), seed=st.integers(0, 1000))
def test_lambda_one_gamma_one_is_return_to_go_minus_value(batch, seed):
    values = fake_values(batch.mask, seed)
    adv = gae(batch.rewards, batch.mask, batch.group, batch.step_ids, values=values, gamma=1.0, lam=1.0, whiten=False)
    masked = batch.rewards * batch.mask
    returns = masked.flip(1).cumsum(1).flip(1)
    assert torch.allclose(adv, torch.where(batch.mask, returns - values, 0.0), atol=1e-4)
    targets = value_targets(adv, values, batch.mask)
    assert torch.allclose(targets, torch.where(batch.mask, returns, 0.0), atol=1e-4)


@given(batch=estimator_batches(), gamma=GAMMAS, seed=st.integers(0, 1000))
def test_lambda_zero_is_the_one_step_td_error(batch, gamma, seed):
    values = fake_values(batch.mask, seed)
    adv = gae(batch.rewards, batch.mask, batch.group, batch.step_ids, values=values, gamma=gamma, lam=0.0, whiten=False)
    next_values = torch.nn.functional.pad(values[:, 1:] * batch.mask[:, 1:], (0, 1))
    delta = batch.rewards + gamma * next_values - values
    assert torch.allclose(adv, torch.where(batch.mask, delta, 0.0), atol=1e-4)


def naive_whiten(rows: list[list[float]], mask: torch.Tensor, eps: float = 1e-6) -> list[list[float]]:
    """Loops: (x − mean) / (unbiased std + eps) over the masked entries, 0 elsewhere."""
    xs = [x for i, row in enumerate(rows) for t, x in enumerate(row) if mask[i, t]]
    mean = sum(xs) / len(xs) if xs else 0.0
    std = (sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)) ** 0.5 if len(xs) > 1 else 0.0
    return [[(x - mean) / (std + eps) if mask[i, t] else 0.0 for t, x in enumerate(row)] for i, row in enumerate(rows)]


@given(batch=estimator_batches(), gamma=GAMMAS, lam=LAMBDAS, seed=st.integers(0, 1000))
def test_gae_is_whitened_over_the_batch_by_default(batch, gamma, lam, seed):
    """verl whitens GAE advantages over every response token of the batch (masked_whiten)."""
    values = fake_values(batch.mask, seed)
    adv = gae(batch.rewards, batch.mask, batch.group, batch.step_ids, values=values, gamma=gamma, lam=lam)
    expected = torch.tensor(naive_whiten(naive_gae(batch.rewards, batch.mask, values, gamma, lam), batch.mask))
    assert torch.allclose(adv, expected.float(), atol=1e-3, rtol=1e-4)


def test_gae_passes_the_kit_as_a_dense_estimator_with_and_without_values():
    def with_values(rewards, mask, group, step_ids, **options):  # values a fixed function of each row's tokens
        positions = torch.arange(mask.shape[1], dtype=torch.float32)
        return gae(rewards, mask, group, step_ids, values=torch.sin(positions)[None].expand(mask.shape) * mask, **options)

    check_advantage_estimator(gae, "dense", options={"gamma": 0.9, "lam": 0.5, "whiten": False})
    check_advantage_estimator(with_values, "dense", options={"gamma": 1.0, "lam": 0.95, "whiten": False})
    check_advantage_estimator(gae, "dense_whitened", options={"gamma": 0.9, "lam": 0.5})
    check_advantage_estimator(with_values, "dense_whitened", options={"gamma": 1.0, "lam": 0.95})


def test_bad_options_are_config_errors():
    rewards = torch.zeros(1, 3)
    mask = torch.ones(1, 3, dtype=torch.bool)
    with pytest.raises(ConfigError, match="lam"):
        gae(rewards, mask, torch.zeros(1), mask.long(), lam=1.5)
    with pytest.raises(ConfigError, match="values"):
        gae(rewards, mask, torch.zeros(1), mask.long(), values=torch.zeros(2, 3))
