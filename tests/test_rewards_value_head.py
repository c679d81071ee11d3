"""PPO's critic: values on the response from the prefix before each token, the value loss fits
the λ-returns, checkpoints round-trip with the optimizer."""

import pytest
import torch

from sandbox.model.model import ModelConfig, TinyLlama
from sandbox.model.policy import TinyPolicy
from sandbox.rewards.base import on_last_token
from sandbox.rewards.gae import gae
from sandbox.rewards.value_head import ValueHead, shift_right
from sandbox.rollout.rollouts import Rollouts
from toy_envs import make_task

TASK = make_task("arithmetic", n_steps=2)


def tiny_policy() -> TinyPolicy:
    torch.manual_seed(0)
    return TinyPolicy(TinyLlama(ModelConfig(d_model=32, n_layers=1, n_heads=2, n_kv_heads=2, d_ff=64)))


def some_rollouts():
    problems = [TASK.problem(i) for i in range(6)]
    texts = [TASK.gold_solution(p) for p in problems[:3]] + ["1 + 1 = 3", "", "x"]
    return Rollouts.from_texts(TASK, problems, texts)


def test_shift_right_reads_the_prefix_before_each_token():
    assert shift_right(torch.tensor([[1.0, 2.0, 3.0]])).tolist() == [[0.0, 1.0, 2.0]]


def test_a_fresh_critic_gives_zero_values_on_the_response_only():
    critic = ValueHead(tiny_policy())
    rollouts = some_rollouts()
    values = critic.estimator_inputs(rollouts)["values"]
    assert values.shape == rollouts.tokens.shape and (values == 0).all()
    with torch.no_grad():
        critic.scorer.head.bias.fill_(0.5)
    values = critic.estimator_inputs(rollouts)["values"]
    assert (values[rollouts.response_mask] == 0.5).all() and (values[~rollouts.response_mask] == 0).all()


def test_the_value_loss_moves_values_towards_the_returns():
    critic = ValueHead(tiny_policy(), head_lr=3e-2, epochs=4)
    rollouts = some_rollouts()
    rewards = on_last_token(rollouts, rollouts.correct)
    first_error = None
    for step in range(5):
        inputs = critic.estimator_inputs(rollouts)
        advantages = gae(rewards, rollouts.response_mask, rollouts.group, rollouts.step_ids, lam=1.0, **inputs)
        metrics = critic.learn(rollouts, rewards, advantages, inputs, step)
        first_error = first_error if first_error is not None else metrics["critic/abs_error_before"]
    assert metrics["critic/abs_error_before"] < first_error


def test_save_and_load_restore_the_critic_and_its_optimizer(tmp_path):
    policy, rollouts = tiny_policy(), some_rollouts()
    rewards = on_last_token(rollouts, rollouts.correct)

    def one_update(critic, step):
        inputs = critic.estimator_inputs(rollouts)
        advantages = gae(rewards, rollouts.response_mask, rollouts.group, rollouts.step_ids, **inputs)
        critic.learn(rollouts, rewards, advantages, inputs, step)

    critic = ValueHead(policy)
    one_update(critic, 0)
    critic.save(tmp_path / "critic")
    other = ValueHead(policy)
    other.load(tmp_path / "critic")
    assert torch.equal(critic.estimator_inputs(rollouts)["values"], other.estimator_inputs(rollouts)["values"])
    one_update(critic, 1)
    one_update(other, 1)
    assert torch.equal(critic.estimator_inputs(rollouts)["values"], other.estimator_inputs(rollouts)["values"])


def test_the_critic_regresses_on_unwhitened_lambda_returns_whatever_advantages_the_policy_saw():
    """The policy's GAE advantages are whitened; the critic's targets are still Â + V (here, a fresh
    critic with V = 0 and γ = λ = 1: each token's reward-to-go), recomputed from the rewards."""
    rollouts = some_rollouts()
    rewards = on_last_token(rollouts, rollouts.correct)
    mask = rollouts.response_mask
    to_go = (rewards * mask).flip(1).cumsum(1).flip(1)
    expected = float((to_go.abs() * mask).sum() / mask.sum())
    for advantages in (gae(rewards, mask, rollouts.group, rollouts.step_ids), torch.zeros(rewards.shape)):
        critic = ValueHead(tiny_policy(), gamma=1.0, lam=1.0)
        inputs = critic.estimator_inputs(rollouts)
        metrics = critic.learn(rollouts, rewards, advantages, inputs, 0)
        assert metrics["critic/abs_error_before"] == pytest.approx(expected, rel=1e-5)
