"""The dense rubric term: the rubric score on the last response token, hackable by default."""

import torch
from hypothesis import given

from sandbox.rewards.base import RewardContext
from sandbox.rewards.rubric_checks import ALL_CHECKS, rubric_checks, rubric_score
from sandbox.rewards.rubric_dense import rubric_dense
from sandbox.rollout.rollouts import Rollouts
from sandbox.testing.strategies import rollouts_batches
from toy_envs import make_task

TASK = make_task("arithmetic", n_steps=2, operators="+-", start_max=50, long_answer=True)
CTX = RewardContext(task=TASK)


@given(rollouts_batches(TASK, max_groups=3, max_group_size=4))
def test_the_term_is_the_rubric_score_on_the_last_token_and_in_unit_range(rollouts):
    rewards = rubric_dense(rollouts, CTX, checks=ALL_CHECKS)
    rows = torch.arange(len(rollouts))
    expected = [rubric_score(rubric_checks(TASK, p, t)) for p, t in zip(rollouts.problems, rollouts.texts)]
    assert torch.allclose(rewards[rows, rollouts.last_token], torch.tensor(expected))
    assert rewards.count_nonzero() == sum(v > 0 for v in expected)
    assert ((rewards >= 0) & (rewards <= 1)).all()


def test_by_default_an_answer_only_guess_earns_as_much_as_the_right_reasoning():
    problem = TASK.problem(0)
    rollouts = Rollouts.from_texts(TASK, [problem] * 2, ["17+2=19\n19+3=22\n#19,22\n", "#1,2\n"])
    rewards = rubric_dense(rollouts, CTX)
    assert rewards.sum(-1).tolist() == [1.0, 1.0]
