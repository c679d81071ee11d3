"""PPO's critic: values on the response from the prefix before each token, the value loss fits
the λ-returns, checkpoints round-trip with the optimizer."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from sandbox.model.model import ModelConfig, TinyLlama
from sandbox.model.policy import TinyPolicy
from sandbox.rewards.base import on_last_token
from sandbox.rewards.gae import gae
from sandbox.rewards.value_head import ValueHead, shift_right
from sandbox.rollout.rollouts import Rollouts
from sandbox.train.auxiliary_updates import AuxiliaryUpdates
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
    updates = AuxiliaryUpdates({"critic": critic})  # the trainer takes the critic's updates
    rollouts = some_rollouts()
    rewards = on_last_token(rollouts, rollouts.correct)
    first_error = None
    for step in range(5):
        inputs = critic.estimator_inputs(rollouts)
        advantages = gae(rewards, rollouts.response_mask, rollouts.group, rollouts.step_ids, lam=1.0, **inputs)
        metrics = updates.learn(rollouts, rewards, advantages, inputs, step)
        first_error = first_error if first_error is not None else metrics["critic/abs_error_before"]
    assert metrics["critic/abs_error_before"] < first_error


def test_save_and_load_restore_the_critic_and_its_optimizer(tmp_path):
    policy, rollouts = tiny_policy(), some_rollouts()
    rewards = on_last_token(rollouts, rollouts.correct)

    def one_update(critic, step):
        inputs = critic.estimator_inputs(rollouts)
        advantages = gae(rewards, rollouts.response_mask, rollouts.group, rollouts.step_ids, **inputs)
        updates[critic].learn(rollouts, rewards, advantages, inputs, step)

    critic, other = ValueHead(policy), ValueHead(policy)
    updates = {model: AuxiliaryUpdates({"critic": model}) for model in (critic, other)}
    one_update(critic, 0)
    updates[critic].companions()["auxiliary-critic"].save(tmp_path / "critic")
    updates[other].companions()["auxiliary-critic"].load(tmp_path / "critic")
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
        metrics = AuxiliaryUpdates({"critic": critic}).learn(rollouts, rewards, advantages, inputs, 0)
        assert metrics["critic/abs_error_before"] == pytest.approx(expected, rel=1e-5)


def test_the_trainer_takes_the_critics_update_as_a_hand_written_loop_would():
    """The update the critic asks for (``learn``), taken by the trainer's ``take_update``, gives the
    same weights, bit for bit, as the plain loop written out here: zero the gradients, backward,
    clip the global norm at 1, AdamW step, minibatch by minibatch."""
    import copy

    from sandbox.rewards.gae import value_targets
    from sandbox.rng import keyed_minibatches
    from sandbox.train.auxiliary_updates import auxiliary_optimizer, take_update

    rollouts = some_rollouts()
    rewards = on_last_token(rollouts, rollouts.correct)
    critic = ValueHead(tiny_policy(), head_lr=3e-2, epochs=2)
    naive = copy.deepcopy(critic)
    inputs = critic.estimator_inputs(rollouts)
    advantages = gae(rewards, rollouts.response_mask, rollouts.group, rollouts.step_ids, **inputs)
    metrics = take_update(critic.learn(rollouts, rewards, advantages, inputs, 3), auxiliary_optimizer(critic))

    optimizer = torch.optim.AdamW([{"params": naive.scorer.backbone.parameters(), "lr": naive.lr},
                                   {"params": naive.scorer.head.parameters(), "lr": naive.head_lr}], weight_decay=0.0)
    raw = gae(rewards, rollouts.response_mask, rollouts.group, rollouts.step_ids, values=inputs["values"], gamma=naive.gamma,
              lam=naive.lam, whiten=False)
    targets = value_targets(raw, inputs["values"], rollouts.response_mask)
    mask = rollouts.response_mask.float()
    losses = []
    naive.scorer.train()
    for epoch in range(naive.epochs):
        for rows in keyed_minibatches(len(rollouts), naive.minibatches, (naive.seed, "critic", 3, epoch)):
            values = shift_right(naive.scorer(rollouts.tokens[rows]).float())
            loss = ((values - targets[rows]) * mask[rows]).pow(2).sum() / mask[rows].sum().clamp(min=1)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(naive.scorer.parameters(), 1.0)
            optimizer.step()
            losses.append(loss.item())
    for a, b in zip(critic.scorer.parameters(), naive.scorer.parameters()):
        assert torch.equal(a, b)
    assert metrics["critic/value_loss"] == sum(losses) / len(losses)
    assert not critic.scorer.training  # back in eval mode


@given(rows=st.integers(1, 4), width=st.integers(1, 7), seed=st.integers(0, 2**16))
def test_shift_right_equals_a_naive_loop(rows, width, seed):
    """Property: position t of ``shift_right(x)`` is x[:, t − 1] and position 0 is 0, for any shape
    and values (a loop over positions as the oracle)."""
    x = torch.randn(rows, width, generator=torch.Generator().manual_seed(seed))
    expected = torch.zeros_like(x)
    for t in range(1, width):
        expected[:, t] = x[:, t - 1]
    assert torch.equal(shift_right(x), expected)
