import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from sandbox.train.policy_loss import AGGREGATIONS, LossConfig, aggregate, policy_loss
from toy_envs.base import ConfigError

shapes = st.tuples(st.integers(1, 5), st.integers(1, 12))


def batch(shape, seed):
    g = torch.Generator().manual_seed(seed)
    b, t = shape
    mask = torch.rand(b, t, generator=g) > 0.3
    mask[:, 0] = True
    old = -torch.rand(b, t, generator=g) * 3
    new = (old + 0.3 * torch.randn(b, t, generator=g)).requires_grad_()
    adv = torch.randn(b, t, generator=g)
    return new, old, adv, mask.float()


@given(shapes, st.integers(0, 10**6), st.sampled_from(AGGREGATIONS))
def test_zero_advantages_give_zero_gradient(shape, seed, how):
    new, old, adv, mask = batch(shape, seed)
    loss, _ = policy_loss(new, old, torch.zeros_like(adv), mask, LossConfig(aggregation=how))
    loss.backward()
    assert torch.all(new.grad == 0)


@given(shapes, st.integers(0, 10**6), st.sampled_from(AGGREGATIONS), st.floats(0.0, 0.5), st.floats(0.0, 0.5))
def test_at_ratio_one_clipped_and_unclipped_objectives_agree(shape, seed, how, lo, hi):
    _, old, adv, mask = batch(shape, seed)
    new = old.clone().requires_grad_()
    cfg = LossConfig(aggregation=how, clip_low=lo, clip_high=hi)
    loss, metrics = policy_loss(new, old, adv, mask, cfg)
    plain = aggregate(-adv, mask, how, cfg.length_norm)  # the unclipped surrogate at ratio 1
    torch.testing.assert_close(loss, plain)
    loss.backward()
    torch.testing.assert_close(new.grad, torch.autograd.grad(aggregate(-adv * (new - old).exp(), mask, how, cfg.length_norm), new)[0])
    assert metrics["loss/clip_fraction"] == 0


@given(shapes, st.integers(0, 10**6), st.sampled_from(AGGREGATIONS))
def test_masked_positions_never_matter(shape, seed, how):
    new, old, adv, mask = batch(shape, seed)
    cfg = LossConfig(aggregation=how, kl_coef=0.1)
    ref = old - 0.2
    loss, _ = policy_loss(new, old, adv, mask, cfg, ref)
    scrambled = torch.where(mask.bool(), new.detach(), torch.randn_like(new) * 50).requires_grad_()
    noise = torch.randn_like(adv) * 100
    loss2, _ = policy_loss(scrambled, old, torch.where(mask.bool(), adv, noise), mask, cfg, torch.where(mask.bool(), ref, noise))
    torch.testing.assert_close(loss, loss2)
    loss2.backward()
    assert torch.all(scrambled.grad[~mask.bool()] == 0)


def test_clipping_caps_the_ratio_asymmetrically():
    old = torch.zeros(1, 2)
    new = torch.tensor([[0.5, -0.5]]).requires_grad_()  # ratios e^0.5 ≈ 1.65 and e^-0.5 ≈ 0.61
    adv = torch.tensor([[1.0, -1.0]])
    cfg = LossConfig(clip_low=0.2, clip_high=0.28, aggregation="token-mean")
    loss, metrics = policy_loss(new, old, adv, torch.ones(1, 2), cfg)
    torch.testing.assert_close(loss, torch.tensor(-(1.28 * 1.0) / 2 + (0.8 * 1.0) / 2))
    loss.backward()
    assert torch.all(new.grad == 0) and metrics["loss/clip_fraction"] == 1.0


def test_aggregations_match_their_formulas():
    values = torch.tensor([[1.0, 2.0, 3.0], [4.0, 0.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    assert aggregate(values, mask, "token-mean", 10).item() == pytest.approx(10 / 4)
    assert aggregate(values, mask, "seq-mean-token-mean", 10).item() == pytest.approx((2 + 4) / 2)
    assert aggregate(values, mask, "seq-mean-token-sum-norm", 10).item() == pytest.approx((6 / 10 + 4 / 10) / 2)


@pytest.mark.parametrize("log_ratio", [5.0, 50.0, 200.0])
def test_a_huge_ratio_with_negative_advantage_gives_a_bounded_loss_and_gradient(log_ratio):
    """Dual clip: with A < 0 the token loss is at most −A · C (C = 3) and its gradient is 0 there;
    the log-ratio clamp keeps ρ finite (e^200 overflows float32). Plain PPO-clip gave −A ρ here:
    e^5 ≈ 148, e^50 ≈ 5e21, inf."""
    old = torch.zeros(1, 2)
    new = torch.tensor([[log_ratio, 0.0]]).requires_grad_()
    adv = torch.tensor([[-2.0, 0.5]])
    cfg = LossConfig(aggregation="token-mean")
    loss, metrics = policy_loss(new, old, adv, torch.ones(1, 2), cfg)
    torch.testing.assert_close(loss, torch.tensor((2.0 * cfg.clip_ratio_c - 0.5) / 2))
    loss.backward()
    assert torch.isfinite(new.grad).all() and new.grad[0, 0] == 0
    assert metrics["loss/dual_clip_fraction"] == 0.5


def naive_token_loss(new: float, old: float, adv: float, lo: float, hi: float, c: float) -> float:
    """One token's dual-clip PPO loss, written out case by case."""
    ratio = math.exp(max(-20.0, min(20.0, new - old)))
    clipped = max(-adv * ratio, -adv * min(max(ratio, 1 - lo), 1 + hi))
    return min(clipped, -adv * c) if adv < 0 else clipped


@given(shapes, st.integers(0, 10**6), st.floats(0.0, 0.5), st.floats(0.0, 0.5), st.floats(1.5, 10.0), st.floats(0.1, 30.0))
def test_token_losses_match_a_naive_dual_clip_and_are_bounded_for_negative_advantages(shape, seed, lo, hi, c, spread):
    new, old, adv, mask = batch(shape, seed)
    new = old + spread * torch.randn(old.shape, generator=torch.Generator().manual_seed(seed))
    ones = torch.ones_like(mask)
    cfg = LossConfig(aggregation="token-mean", clip_low=lo, clip_high=hi, clip_ratio_c=c)
    b, t = shape
    for i in range(b):
        for j in range(t):
            one = lambda x: x[i : i + 1, j : j + 1]  # noqa: E731
            loss, _ = policy_loss(one(new), one(old), one(adv), one(ones), cfg)
            expected = naive_token_loss(float(one(new)), float(one(old)), float(one(adv)), lo, hi, c)
            assert loss.item() == pytest.approx(expected, rel=1e-4, abs=1e-5)
            if float(one(adv)) < 0:
                assert loss.item() <= -float(one(adv)) * c * (1 + 1e-6)


def test_clip_ratio_c_must_exceed_one():
    with pytest.raises(ConfigError, match="clip_ratio_c"):
        LossConfig(clip_ratio_c=1.0).validate()
