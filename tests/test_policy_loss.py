import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from sandbox.train.policy_loss import AGGREGATIONS, LossConfig, aggregate, policy_loss

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
