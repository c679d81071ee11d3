"""Learning test: the Brier reward (RLCR) moves the stated confidence towards the accuracy.

One run of `brier` from the cached 'tiny-calib' warm start (its demonstrations state q uniformly
at random; its greedy answers say ``conf: 0.0`` almost always, so its ECE is about its accuracy),
10 steps of 16 problems x 8 rollouts at lr 1.5e-4; calibration is measured on greedy responses
to 256 held-out problems before the first step and after the last (``calib/*``).

Measured for seeds 0-4 on two builds of the cached models, whose 'tiny-calib' differ (this
machine's AVX512 kernels: ECE 0.803 at accuracy 0.816; ``ATEN_CPU_CAPABILITY=default``: ECE 0.546
at accuracy 0.555): ECE falls by 0.265 / 0.335 / 0.329 / 0.341 / 0.290 and 0.250 / 0.315 / 0.354 /
0.101 / 0.411; accuracy changes by +0.071 / +0.032 / +0.059 / +0.047 / +0.059 and -0.039 / -0.008 /
+0.035 / +0.007 / -0.098. Asserted on seed 0: ECE at least ECE_MARGIN lower (half the smallest
fall, 0.101) and accuracy no more than ACCURACY_NOISE lower (1.5 times the largest fall measured).

The comparison with the *binary* reward run side by side (ECE 0.540 / 0.528 / 0.288 after 10
steps of outcome-grpo, so brier is lower in every seed, by 0.03-0.18) is the figure
command in tutorials/guides/results.md; the suite compares with the warm start instead, because the binary reward has no
gradient on q (its q only drifts) and one run fits the test budget (about 14 s) where two did
not (about 31 s).

What does NOT hold here: AUROC above 0.5. Greedy confidence does not rank right above wrong
answers after 10 steps (0.49 / 0.47 / 0.48 for brier, 0.50 / 0.43 / 0.54 for binary) nor after
30 (0.49), so it is reported, not asserted. Greedy q is the mode of the policy's confidence
distribution; RL calibrates that distribution against the accuracy of temperature-1 samples
(lower than greedy), so the mean of q moves differently (tutorials/guides/results.md, 'Calibration (RLCR), measured').
"""

import pytest

from sandbox.model.policy import TinyPolicy
from sandbox.train import recipes
from sandbox.train.rl import Trainer

from learning_settings import measured_rl_config

pytestmark = pytest.mark.slow

ECE_MARGIN = 0.05
ACCURACY_NOISE = 0.15


@pytest.mark.parametrize("seed", [0])  # the suite checks one seed; seeds 1-4 measured above
def test_brier_reward_lowers_greedy_ece_from_the_warm_start_without_losing_accuracy(seed):
    model, task, _ = recipes.load("tiny-calib")
    cfg = measured_rl_config("brier", seed=seed, steps=10, lr=1.5e-4, eval_problems=256)
    trainer = Trainer(cfg, task, TinyPolicy(model))
    before = trainer.evaluate()
    after = trainer.train()[-1]
    report = {
        name: {k: round(v, 3) for k, v in m.items() if k.startswith(("calib/", "eval/accuracy"))}
        for name, m in (("warm start", before), ("brier", after))
    }
    assert after["calib/parsed_fraction"] >= 0.95, report
    assert before["calib/ece"] - after["calib/ece"] >= ECE_MARGIN, report
    assert after["eval/accuracy"] >= before["eval/accuracy"] - ACCURACY_NOISE, report
