"""PRM reward sources: step scores on step-end tokens only; learned PRMs by checkpoint directory."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from sandbox.model.model import ModelConfig, TinyLlama
from sandbox.model.tokenizer import CharTokenizer
from sandbox.prm.discriminative import StepScorer, save_scorer, step_end_mask
from sandbox.prm.oracle_labels import oracle_labels
from sandbox.rewards.base import RewardContext
from sandbox.rewards.prm_reward import prm_learned, prm_oracle, step_rewards
from sandbox.testing.strategies import rollouts_batches
from toy_envs import ConfigError, make_task

TASK = make_task("arithmetic", n_steps=2)


@given(rollouts=rollouts_batches(TASK), mode=st.sampled_from(["score", "difference"]), target=st.sampled_from(["valid", "value"]))
def test_oracle_prm_reward_sits_only_on_step_end_tokens_of_the_response(rollouts, mode, target):
    rewards = prm_oracle(rollouts, RewardContext(task=TASK), target=target, mode=mode)
    ends = step_end_mask(rollouts)
    assert (ends <= rollouts.response_mask).all()
    assert (rewards[~ends] == 0).all()
    labels = oracle_labels(rollouts.verdicts, target)
    for row, row_labels in enumerate(labels):
        values = rewards[row][ends[row]].tolist()
        assert len(values) == len(row_labels)
        if mode == "score":
            assert values == row_labels
        elif row_labels:  # differences telescope to the last step's score
            assert abs(sum(values) - row_labels[-1]) < 1e-6


@given(rollouts=rollouts_batches(TASK), seed=st.integers(0, 1000))
def test_any_step_scores_are_placed_in_step_order(rollouts, seed):
    gen = torch.Generator().manual_seed(seed)
    ends = step_end_mask(rollouts)
    scores = [torch.rand(int(ends[row].sum()), generator=gen).tolist() for row in range(len(rollouts))]
    rewards = step_rewards(rollouts, scores)
    for row in range(len(rollouts)):
        assert torch.allclose(rewards[row][ends[row]], torch.tensor(scores[row], dtype=torch.float32))


def tiny_scorer() -> StepScorer:
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=CharTokenizer().vocab_size, d_model=32, n_layers=1, n_heads=2, n_kv_heads=2, d_ff=64, max_seq_len=128)
    scorer = StepScorer(TinyLlama(cfg))
    with torch.no_grad():
        scorer.head.weight.normal_()
    return scorer


@given(rollouts=rollouts_batches(TASK, max_groups=2, max_group_size=3))
def test_learned_prm_reward_from_a_checkpoint_directory_logs_its_mean_score(tmp_path_factory, rollouts):
    path = tmp_path_factory.mktemp("prm") / "ckpt"
    save_scorer(path, tiny_scorer(), {})
    ctx = RewardContext(task=TASK, extras={"prm": str(path)})
    rewards = prm_learned(rollouts, ctx, prm="ignored-when-the-context-names-one")
    ends = step_end_mask(rollouts)
    assert (rewards[~ends] == 0).all()
    assert ((rewards[ends] > 0) & (rewards[ends] < 1)).all()
    metrics = ctx.extras["metrics"]
    assert set(metrics) == {"prm/mean_score", "prm/oracle_correct", "prm/oracle_step_valid"}
    if ends.any():
        assert abs(metrics["prm/mean_score"] - rewards[ends].mean().item()) < 1e-5


def test_unknown_prm_or_mode_is_rejected():
    from sandbox.prm.recipes import load_prm

    with pytest.raises(ConfigError, match="prm"):
        load_prm("no-such-recipe")
    with pytest.raises(ConfigError, match="mode"):
        step_rewards(None, [], mode="sum")


def test_rl_with_a_learned_prm_named_by_the_config_logs_its_score_beside_the_oracle(tmp_path):
    from sandbox.model.policy import TinyPolicy
    from sandbox.prm.discriminative import save_scorer
    from sandbox.train.prm_train import PRMTrainConfig, train_prm
    from sandbox.train.rl import RLConfig, Trainer
    from sandbox.train.warmstart import load_warmstart

    torch.set_num_threads(1)
    model, task, _ = load_warmstart("tiny")
    scorer, _ = train_prm(TinyPolicy(model), task, PRMTrainConfig(n_problems=4, group_size=2, steps=2, batch_size=4))
    save_scorer(tmp_path / "prm", scorer, {})
    cfg = RLConfig(variant="prm-mc", prm=str(tmp_path / "prm"), steps=1, problems_per_step=2, group_size=2,
                   eval_every=0, eval_problems=4, pass_problems=0, progress=False)
    metrics = Trainer(cfg, task, TinyPolicy(model)).train()[-1]
    assert 0 < metrics["prm/mean_score"] < 1
    assert 0 <= metrics["prm/oracle_step_valid"] <= 1 and metrics["prm/oracle_correct"] == metrics["rollout/accuracy"]
