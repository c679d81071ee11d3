"""Learning test: the Brier reward (RLCR) moves the stated confidence towards the accuracy; the
binary reward leaves it where SFT put it.

Both runs start from the cached 'tiny-calib' warm start (its demonstrations state q uniformly at
random; its greedy answers say ``conf: 0.0`` almost always, ECE 0.53 at accuracy 0.55) with the
same seed, 10 steps of 16 problems x 8 rollouts at lr 1.5e-4; calibration is measured on greedy
responses to 256 held-out problems (``calib/*`` from the trainer's final evaluation).

Measured (10 steps; binary -> brier): seed 0: ECE 0.540 -> 0.372, accuracy 0.695 -> 0.707;
seed 1: ECE 0.528 -> 0.348, accuracy 0.598 -> 0.656; seed 2: ECE 0.288 -> 0.260, accuracy
0.543 -> 0.566 (the binary run's q drifted up by itself in seed 2). Margin asserted, which holds
for all three seeds: ECE at least 0.02 lower, accuracy no more than 0.08 lower (about two
binomial standard errors of a difference at n = 256).

What does NOT hold here: AUROC above 0.5. Greedy confidence does not rank right above wrong
answers after 10 steps (0.49 / 0.47 / 0.48 for brier, 0.50 / 0.43 / 0.54 for binary) nor after
30 (0.49), so it is reported, not asserted. Nor is the ECE gap stable over long runs: the binary
reward never touches q, which random-walks; in seed 0 it drifted to ~0.9 by step 20 and landed
closer to the accuracy (ECE 0.25) than brier's q (0.37). Greedy q is the mode of the policy's
confidence distribution; RL calibrates that distribution against the accuracy of temperature-1
samples (lower than greedy), so the mean of q moves differently (README, 'Calibration (RLCR),
measured').

Time: about 31 s of CPU per seed (two 10-step runs, one thread), above the 15 s target. Smaller
settings were measured over seeds 0 / 1 / 2 and each breaks a claim in some seed: 6 steps
(eval on 128 or 256 problems) -- brier less accurate by 0.12-0.14 in seed 1; 6 steps at lr 3e-4
-- ECE gap 0.007 in seed 2; 10 steps of 16 x 4 rollouts -- binary ECE lower than brier's in seed
1 (gap -0.26). So the setting stays; the suite runs seed 0 only.
"""

import pytest

from sandbox.model.policy import TinyPolicy
from sandbox.train.rl import RLConfig, Trainer
from sandbox.train.warmstart import load_warmstart

ECE_MARGIN = 0.02
ACCURACY_NOISE = 0.08


def final_evaluation(variant: str, seed: int) -> dict:
    model, task, _ = load_warmstart("tiny-calib")
    cfg = RLConfig(
        variant=variant, seed=seed, steps=10, lr=1.5e-4, eval_every=0, eval_problems=256, pass_problems=0,
        progress=False,
    )
    return Trainer(cfg, task, TinyPolicy(model)).train()[-1]


@pytest.mark.parametrize("seed", [0])  # the suite checks one seed; seeds 1, 2 measured above (README)
def test_brier_reward_lowers_greedy_ece_versus_the_binary_reward_without_losing_accuracy(seed):
    brier = final_evaluation("brier", seed)
    binary = final_evaluation("outcome-grpo", seed)
    report = {
        name: {k: round(v, 3) for k, v in m.items() if k.startswith(("calib/", "eval/accuracy"))}
        for name, m in (("brier", brier), ("binary", binary))
    }
    assert brier["calib/parsed_fraction"] >= 0.95, report
    assert binary["calib/ece"] - brier["calib/ece"] >= ECE_MARGIN, report
    assert brier["eval/accuracy"] >= binary["eval/accuracy"] - ACCURACY_NOISE, report
