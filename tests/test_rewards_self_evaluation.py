"""The white-box self-evaluation reward (PCL): its table by hand, bounds, placement, and on a task
without post-completion evaluations."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from sandbox.rewards.base import RewardContext
from sandbox.rewards.registry import check_variant_task, get_variant
from sandbox.rewards.self_evaluation import consistency_reward, predicted_rewards, self_evaluation
from sandbox.rollout.rollouts import Rollouts
from toy_envs import ConfigError, make_task
from toy_envs.post_completion import inference_text

TASK = make_task("arithmetic", n_steps=2, operators="+-", start_max=50, post_completion=True)
NAN = float("nan")


@given(st.lists(st.tuples(st.booleans(), st.sampled_from([0.0, 1.0, NAN])), min_size=1, max_size=32))
def test_consistency_is_one_when_the_prediction_is_the_reward_and_zero_otherwise(rows):
    correct = torch.tensor([c for c, _ in rows])
    predicted = torch.tensor([r for _, r in rows])
    reward = consistency_reward(correct, predicted)
    for (c, r), value in zip(rows, reward.tolist()):
        assert value == (0.0 if r != r else float(r == float(c)))  # NaN: no evaluation scores 0


def test_source_places_the_reward_on_the_last_token_and_reads_each_row():
    problem = TASK.problem(3)
    plain = inference_text(TASK.gold_solution(problem))
    wrong = plain.replace("#", "#1")
    texts = [plain + "~\n1v,2v=1\n", plain + "~\n1v,2v=0\n", wrong + "~\n?x,2v=0\n", wrong + "~\n1v,2v=1", plain,
             wrong + "~\n=0\n", "garbage"]
    rollouts = Rollouts.from_texts(TASK, [problem] * len(texts), texts)
    rewards = self_evaluation(rollouts, RewardContext(task=TASK))
    rows = torch.arange(len(texts))
    assert (rewards.sum(-1) == rewards[rows, rollouts.last_token]).all()
    assert rewards.sum(-1).tolist() == pytest.approx([1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0])
    assert torch.isnan(predicted_rewards(texts)).tolist() == [False, False, False, False, True, False, True]


def test_the_pcl_variant_needs_a_post_completion_task():
    pcl = get_variant("pcl")
    check_variant_task(pcl, TASK)
    with pytest.raises(ConfigError, match="post_completion"):
        check_variant_task(pcl, make_task("arithmetic", n_steps=2))
