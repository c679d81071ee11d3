"""Learning test: the Brier reward (RLCR) moves the stated confidence towards the accuracy.

One run of `brier` from the cached 'tiny-calib' warm start (its demonstrations state q uniformly
at random; its greedy answers say ``conf: 0.0`` almost always: ECE 0.529 at accuracy 0.551),
10 steps of 16 problems x 8 rollouts at lr 1.5e-4; calibration is measured on greedy responses
to 256 held-out problems before the first step and after the last (``calib/*``).

Measured (warm start -> brier after 10 steps): ECE 0.529 -> 0.372 / 0.348 / 0.260, accuracy
0.551 -> 0.707 / 0.656 / 0.566 for seeds 0 / 1 / 2. Margin asserted, which holds for all three:
ECE at least 0.10 lower, accuracy no more than 0.08 lower (about two binomial standard errors of
a difference at n = 256).

The comparison with the *binary* reward run side by side (ECE 0.540 / 0.528 / 0.288 after 10
steps of outcome-grpo, so brier is lower in every seed, by 0.03-0.18) is the README's figure
command; the suite compares with the warm start instead, because the binary reward has no
gradient on q (its q only drifts) and one run fits the test budget (about 14 s) where two did
not (about 31 s).

What does NOT hold here: AUROC above 0.5. Greedy confidence does not rank right above wrong
answers after 10 steps (0.49 / 0.47 / 0.48 for brier, 0.50 / 0.43 / 0.54 for binary) nor after
30 (0.49), so it is reported, not asserted. Greedy q is the mode of the policy's confidence
distribution; RL calibrates that distribution against the accuracy of temperature-1 samples
(lower than greedy), so the mean of q moves differently (README, 'Calibration (RLCR), measured').
"""

import pytest

from sandbox.model.policy import TinyPolicy
from sandbox.train.rl import LARGE_UPDATE, RLConfig, Trainer
from sandbox.train.warmstart import load_warmstart

ECE_MARGIN = 0.10
ACCURACY_NOISE = 0.08


@pytest.mark.parametrize("seed", [0])  # the suite checks one seed; seeds 1, 2 measured above (README)
def test_brier_reward_lowers_greedy_ece_from_the_warm_start_without_losing_accuracy(seed):
    model, task, _ = load_warmstart("tiny-calib")
    cfg = RLConfig(**{**LARGE_UPDATE, "lr": 1.5e-4}, variant="brier", seed=seed, steps=10, eval_every=0, eval_problems=256, pass_problems=0,
                   progress=False)
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
