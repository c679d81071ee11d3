"""The gold sampler and the ``gold-sft`` control: continued SFT through the RL code path."""

import copy

import torch

from sandbox.model.model import token_logprobs
from sandbox.model.policy import TinyPolicy
from sandbox.model.sampler import SamplingConfig
from sandbox.rewards.registry import VARIANTS, compute_advantages, compute_token_rewards, sample_rollouts
from sandbox.rewards.base import RewardContext
from sandbox.train.rl import RLConfig, Trainer
from sandbox.train.sft import sft_batch


def test_gold_rows_are_the_sft_rows_with_the_policys_logprobs_and_advantage_one(warmstart_tiny):
    model, task, _ = warmstart_tiny
    policy = TinyPolicy(model)
    variant = VARIANTS["gold-sft"]
    rollouts = sample_rollouts(variant, policy, task, [3, 7], 2, SamplingConfig(max_new_tokens=40), 0, 0)
    tokens, mask = sft_batch(task, policy.tokenizer, [3, 3, 7, 7])
    width = tokens.shape[1]
    assert torch.equal(rollouts.tokens[:, :width], tokens) and torch.equal(rollouts.response_mask[:, :width], mask)
    assert rollouts.group.tolist() == [3, 3, 7, 7] and rollouts.rollout_index.tolist() == [0, 1, 0, 1]
    assert all(v.correct and v.first_error is None for v in rollouts.verdicts)
    with torch.no_grad():
        expected = token_logprobs(model(tokens), tokens) * mask
    assert torch.allclose(rollouts.logprobs[:, :width], expected, atol=1e-5)
    ctx = RewardContext(task=task, seed=0, step=0, max_new_tokens=40, policy=policy)
    advantages = compute_advantages(variant, rollouts, compute_token_rewards(variant, rollouts, ctx), {})
    assert torch.equal(advantages, rollouts.response_mask.float())


def test_one_gold_sft_step_follows_the_sft_gradient(warmstart_tiny):
    model, task, _ = warmstart_tiny
    cfg = RLConfig(variant="gold-sft", steps=1, problems_per_step=6, group_size=3, minibatches=1, lr=1e-3, warmup_steps=0,
                   eval_problems=0, pass_problems=0, drift_every=0, progress=False)
    trainer = Trainer(cfg, task, TinyPolicy(copy.deepcopy(model)))
    history = trainer.train()
    assert history[0]["loss/clip_fraction"] == 0 and history[0]["loss/approx_kl"] < 1e-10  # ratio 1: on-policy
    # SFT's loss on the same 6 problems (each once), by hand
    sft = copy.deepcopy(model)
    tokens, mask = sft_batch(task, trainer.policy.tokenizer, range(6))
    loss = -(token_logprobs(sft(tokens), tokens) * mask).sum() / mask.sum()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(sft.parameters(), cfg.grad_clip)
    for p, q, w in zip(trainer.policy.module.parameters(), sft.parameters(), model.parameters()):
        assert not torch.equal(p, w)  # the step moved every tensor, along the SFT gradient:
        assert torch.allclose(p.grad, q.grad, atol=1e-7, rtol=1e-4), (p.grad - q.grad).abs().max()
