"""Learning test: the Brier reward (RLCR) moves the stated confidence towards the accuracy.

One run of `brier` from the cached 'tiny-calib-fast' warm start (the fast-mode copy of 'tiny-calib':
'tiny-fast' continued 240 steps on demonstrations that state q uniformly at random, ``recipes.FAST_COPIES``),
10 steps of 16 problems x 8 rollouts at lr 1.5e-4. Calibration is measured where the reward acts:
on temperature-1 samples (4 per problem, keyed apart from training) of 256 held-out problems, the
ECE of their stated confidence against their correctness, before the first step and after the last.

Measured for seeds 0-4 on a 2-core AMD EPYC (5 Dec 2026), on two builds of the cached models whose
'tiny-calib-fast' differ (its own kernels / ``ATEN_CPU_CAPABILITY=default``): sampled ECE 0.355 /
0.306 at sampled accuracy 0.248 / 0.371 and mean confidence 0.50 / 0.53 falls by 0.134 / 0.122 /
0.109 / 0.121 / 0.132 and 0.126 / 0.087 / 0.084 / 0.140 / 0.082; the mean confidence falls towards
the accuracy (to 0.05-0.20 / 0.30-0.39) while the sampled accuracy moves by -0.048..+0.010 /
-0.072..-0.036; 90-95% of the samples state a confidence that parses. Asserted on seed 0: sampled
ECE at least ECE_MARGIN lower (half the smallest fall, 0.082, rounded down), sampled accuracy no more
than ACCURACY_NOISE lower (twice the largest fall) and at least PARSED of the samples stating one.

Greedy calibration, which an earlier version of this test asserted, does not fall reliably: RL
calibrates the distribution it samples from, whose accuracy is below greedy's (0.25-0.37 against
0.36-0.56 here), and greedy q is that distribution's mode. On the machine the earlier version was
written on, greedy ECE fell by 0.059-0.191 / 0.186-0.388 over seeds 0-9 on two builds; on the AMD
machine by 0.135-0.264 on its own build but by 0.086 / 0.162 / -0.079 / 0.064 / 0.122 on the
default-kernel build, whose warm start is greedily 0.559 accurate at ECE 0.232 (and with the RL
defaults' SGD-like update at lr 1e-4 it rose in every seed there, by 0.05-0.19). The comparison with
the binary reward from 'tiny-calib' is the figure command in tutorials/guides/results.md
('Calibration (RLCR), measured'), which also reports that greedy confidence does not rank right
above wrong answers (AUROC about 0.5).

On the test model (since 6 Dec 2026 the suite loads the fast copies on ``warmstart.TEST_MODEL``, 2
layers x 64, ``recipes.FAST_COPIES``; the figures above are of the copies on the 4 x 128 'tiny'
before), seeds 0-4, on a 2-core AMD EPYC's own build of the cached models / its
``ATEN_CPU_CAPABILITY=default`` build: the copy 'tiny-calib-fast' (240 SFT steps from 'tiny-fast';
its confidence line parsed in 0.93 of the samples) starts at a sampled ECE of 0.291 / 0.224, which
the Brier reward lowers to 0.215 / 0.235 / 0.255 / 0.221 / 0.223 and 0.210 / 0.199 / 0.185 / 0.177 /
0.201 (falls 0.076 / 0.056 / 0.036 / 0.070 / 0.068 and 0.014 / 0.025 / 0.039 / 0.047 / 0.023),
accuracy 0.355 -> 0.307-0.388 and 0.495 -> 0.495-0.519. ECE_MARGIN 0.007, half the smallest fall.
"""

import pytest

from sandbox.eval.calibration import calibration_metrics
from sandbox.model.policy import TinyPolicy
from sandbox.model.sampler import SamplingConfig
from sandbox.rollout.group_sampler import sample_groups
from sandbox.train import recipes
from sandbox.train.rl import Trainer

from learning_settings import SEEDS, measured_rl_config

pytestmark = pytest.mark.slow

ECE_MARGIN = 0.007
ACCURACY_NOISE = 0.15
PARSED = 0.85
STEPS = 10


def sampled_calibration(policy, task) -> dict:
    """``calibration_metrics`` of 4 temperature-1 samples of each of 256 held-out problems."""
    rows = sample_groups(policy, task, list(range(256)), 4, SamplingConfig(max_new_tokens=40), 999, 0, split="eval")
    return {k: round(v, 3) for k, v in calibration_metrics(rows.texts, rows.correct.tolist()).items()}


@pytest.mark.parametrize("seed", SEEDS)  # the suite checks seed 0 (learning_settings.checked_seeds); seeds 0-4 measured above
def test_brier_reward_lowers_the_sampled_ece_from_the_warm_start_without_losing_accuracy(seed):
    model, task, _ = recipes.load("tiny-calib-fast")
    trainer = Trainer(measured_rl_config("brier", seed=seed, steps=STEPS, lr=1.5e-4, eval_problems=0), task, TinyPolicy(model))
    before = sampled_calibration(trainer.policy, task)
    for _ in range(STEPS):
        trainer.train_step()
    after = sampled_calibration(trainer.policy, task)
    report = {"warm start": before, "brier": after}
    assert after["calib/parsed_fraction"] >= PARSED, report
    assert before["calib/ece"] - after["calib/ece"] >= ECE_MARGIN, report
    assert after["calib/accuracy"] >= before["calib/accuracy"] - ACCURACY_NOISE, report
