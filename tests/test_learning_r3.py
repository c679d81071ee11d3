"""Learning test: the reverse curriculum's first stage teaches the policy to finish from its start
states (R3, Xi et al. 2024, arXiv 2402.05808; ``RLConfig.gold_prefix_steps``).

From the cached 'tiny' warm start on its own 2-step chains, outcome-grpo with every training prompt
carrying the first gold step (``gold_prefix_steps=1``, one stage for the whole run) for STEPS steps
at the learning tests' settings. The quantity is the sampled accuracy (4 samples at temperature 1,
keyed apart from training) from the same kind of start state on 128 held-out problems, before and
after, in the same run.

Measured for seeds 0-4 (this machine, under load): 0.367 before, 0.404 / 0.398 / 0.412 / 0.406 /
0.410 after (+0.031 to +0.045); from bare prompts the accuracy stayed at 0.27-0.28 (0.283 before)
in these 6 steps: the first stage's gain is at its own states. Asserted on seed 0: a rise of at
least MARGIN (half the smallest).
"""

import pytest

import toy_envs
from sandbox.model.policy import TinyPolicy
from sandbox.model.sampler import SamplingConfig
from sandbox.rollout.group_sampler import sample_groups
from sandbox.train import recipes
from sandbox.train.rl import Trainer
from toy_envs.gold_prefix import with_gold_prefix

from learning_settings import measured_rl_config

pytestmark = pytest.mark.slow

STEPS = 6
MARGIN = 0.015


def prefixed_accuracy(policy, task) -> float:
    rows = sample_groups(policy, with_gold_prefix(task, 1), list(range(128)), 4, SamplingConfig(max_new_tokens=48), 999, 0, split="eval")
    return float(rows.correct.mean())


@pytest.mark.parametrize("seed", [0])  # the suite checks one seed; seeds 1-4 measured above
def test_the_first_stage_raises_the_accuracy_from_its_start_states(seed):
    model, _, _ = recipes.load("tiny")
    task = toy_envs.make_task("arithmetic", n_steps=2, operators="+-", start_max=50)
    cfg = measured_rl_config("outcome-grpo", seed=seed, steps=STEPS, gold_prefix_steps=1, gold_prefix_stage=1000)
    trainer = Trainer(cfg, task, TinyPolicy(model))
    before = prefixed_accuracy(trainer.policy, task)
    for _ in range(STEPS):
        trainer.train_step()
    after = prefixed_accuracy(trainer.policy, task)
    assert after - before >= MARGIN, (before, after)
