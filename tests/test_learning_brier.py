"""Learning test: the Brier reward (RLCR) moves the stated confidence towards the accuracy.

One run of `brier` from the cached 'tiny-calib-fast' warm start (the fast-mode copy of 'tiny-calib':
'tiny' continued 120 steps on demonstrations that state q uniformly at random, ``recipes.FAST_COPIES``),
10 steps of 16 problems x 8 rollouts at lr 1.5e-4; calibration is measured on greedy responses
to 256 held-out problems before the first step and after the last (``calib/*``).

Measured for seeds 0-9 on two builds of the cached models, whose 'tiny-calib-fast' differ:
- this machine's AVX512 kernels: start ECE 0.215 at accuracy 0.355, mean stated confidence 0.141
  (underconfident); ECE falls by 0.124 / 0.145 / 0.079 / 0.061 / 0.078 / 0.059 / 0.144 / 0.110 /
  0.191 / 0.078, accuracy changes by -0.066 / -0.090 / -0.020 / +0.012 / -0.027 / -0.004 / -0.094
  / -0.051 / -0.133 / -0.055; the mean confidence rises to 0.19-0.21 in every seed, so part of
  each fall is the confidence moving towards the accuracy (all of it in seed 3, where accuracy
  rose) and part the accuracy falling towards the confidence;
- ``ATEN_CPU_CAPABILITY=default``: start ECE 0.435 at accuracy 0.270, mean confidence 0.555
  (overconfident); ECE falls by 0.265 / 0.212 / 0.288 / 0.370 / 0.366 / 0.365 / 0.186 / 0.315 /
  0.313 / 0.388, accuracy changes by +0.012 / -0.039 / +0.078 / -0.004 / +0.000 / -0.004 / +0.000
  / +0.051 / +0.051 / -0.023, the confidence falling to about 0.2 (0.01 in seeds 1 and 6).
Asserted on seed 0: ECE at least ECE_MARGIN lower (half the smallest fall, 0.059, rounded down)
and accuracy no more than ACCURACY_NOISE lower (1.5 times the largest fall, 0.133). The recipe
'tiny-calib' itself (continued from 'tiny-noisy', which computes better: ECE about 0.55-0.80 at
accuracy 0.55-0.82, its greedy answers saying ``conf: 0.0`` almost always) gave ECE falls of
0.101-0.411 over the same 5 seeds on the two builds; a copy continued from 'tiny-noisy-fast'
instead (its cheaper chain) gave 0.004-0.112 on the default build, too fragile to test.

The comparison with the *binary* reward run side by side from 'tiny-calib' (ECE 0.540 / 0.528 / 0.288 after 10
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

from learning_settings import SEEDS, measured_rl_config

pytestmark = pytest.mark.slow

ECE_MARGIN = 0.025
ACCURACY_NOISE = 0.2


@pytest.mark.parametrize("seed", SEEDS)  # the suite checks seed 0 (learning_settings.checked_seeds); seeds 0-9 measured above
def test_brier_reward_lowers_greedy_ece_from_the_warm_start_without_losing_accuracy(seed):
    model, task, _ = recipes.load("tiny-calib-fast")
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
