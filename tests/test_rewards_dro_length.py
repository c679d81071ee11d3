"""DRO's length term r_len = 1 − β·||y| − |ŷ||/|y| against hand-computed values."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from sandbox.rewards.base import RewardContext
from sandbox.rewards.dro_length import dro_length, length_reward
from sandbox.rollout.rollouts import Rollouts
from toy_envs import ConfigError, make_task

TASK = make_task("arithmetic", n_steps=2, operators="+-", start_max=50, long_answer=True)


def test_values_on_the_last_token():
    problem = TASK.problem(0)  # reference answer line "#19,22\n": 7 characters
    texts = ["17+2=19\n19+3=22\n#19,22\n", "17+2=19\n19+3=22\n#1,2\n", "17+2=19\n19+3=22\n", "#19,22,2222222\n"]
    rollouts = Rollouts.from_texts(TASK, [problem] * 4, texts)
    rewards = dro_length(rollouts, RewardContext(task=TASK), beta=0.5)
    got = rewards[torch.arange(4), rollouts.last_token].tolist()
    assert got == pytest.approx([1.0, 1 - 0.5 * 2 / 7, 1 - 0.5 * 7 / 7, 1 - 0.5 * 8 / 7])
    assert rewards.count_nonzero() == 4


@given(st.integers(1, 50), st.integers(0, 100), st.floats(0, 2))
def test_one_at_a_match_and_linear_in_the_relative_mismatch(reference, answer, beta):
    assert length_reward(reference, reference, beta) == 1.0
    assert length_reward(reference, answer, beta) == pytest.approx(1 - beta * abs(reference - answer) / reference)
    assert length_reward(reference, answer, beta) <= 1.0


def test_negative_beta_is_a_config_error():
    rollouts = Rollouts.from_texts(TASK, [TASK.problem(0)], ["#1\n"])
    with pytest.raises(ConfigError, match="beta"):
        dro_length(rollouts, RewardContext(task=TASK), beta=-1.0)
