"""Learning test: the ThinkPRM-style judges (recipe tiny-thinkprm) learn to tell valid steps
from invalid ones, though not well enough to beat the answer check.

Measured on the toy ProcessBench of the 'tiny' policy (``reward-sandbox prm judge
--bench-problems 128``, seed 0; tutorials/guides/results.md): teacher F1 0.42-0.51 and student 0.37-0.44 over
N = 1..8 chains, the discriminative PRM (tiny-oracle) 0.46, the answer-check baseline 0.74.
So the project's target, ">= 10 F1 over the answer check", does not hold here and is not asserted. What
holds is that the judges' step scores carry signal that the untrained warm start's do not (it
writes no verification chain, so every step scores 0.5, AUROC 0.5): this test asserts the
step-score AUROC against the oracle's step validity on the benchmark's test half is at least
0.5 + MARGIN for both. Measured on this test's bench (128 problems, N = 2 chains) for bench and
chain seeds 0-4 on two builds of the cached models (this machine's AVX512 kernels /
``ATEN_CPU_CAPABILITY=default``): teacher 0.654 / 0.674 / 0.699 / 0.696 / 0.654 and 0.677 / 0.666 /
0.689 / 0.658 / 0.694, student 0.639 / 0.582 / 0.622 / 0.633 / 0.666 and 0.672 / 0.621 / 0.694 /
0.649 / 0.702 (the student, trained on the teacher chains that pass the process filter, is not
reliably better or worse than its teacher). Since 6 Dec 2026 the recipe runs its SFT batches in 4
length buckets (the same loss up to rounding); measured then on a 2-core AMD EPYC's own build /
its ``ATEN_CPU_CAPABILITY=default`` build: teacher 0.657 / 0.670 / 0.700 / 0.681 / 0.668 and 0.727 /
0.669 / 0.699 / 0.664 / 0.704, student 0.676 / 0.637 / 0.604 / 0.617 / 0.647 and 0.641 / 0.628 /
0.691 / 0.619 / 0.626. The suite checks seed 0 with MARGIN half the smallest effect of all (0.082),
rounded down.

RL with the variant ``thinkprm`` (the student's step scores as dense rewards, process-supervised GRPO)
from the 'tiny' warm start does not raise the judge's own score here, nor accuracy (presumably the
per-sample score from 2 chains is too noisy to climb; tutorials/guides/results.md). What the second test asserts is the
over-optimisation view: pushed hard (lr 2e-4 without warm-up, 10 steps of 8 problems x 4), the
policy drifts far from its warm start and the judge's logged score does not register it. Measured
for seeds 0-4 on two builds of the cached models (this machine's AVX512 kernels /
``ATEN_CPU_CAPABILITY=default``, whose warm starts differ: greedy 0.496 / 0.406): greedy held-out
accuracy (256 problems) falls by 0.422 / 0.437 / 0.394 / 0.441 / 0.355 and 0.363 / 0.332 / 0.328 /
0.363 / 0.297; ``prm/mean_score`` (mean of the last 3 logged steps minus the first 3) moves by 0.000
/ -0.007 / +0.003 / -0.006 / -0.001 and +0.024 / +0.005 / -0.010 / +0.016 / +0.001; with the 4-bucket
recipe on the AMD machine's two builds (greedy 0.496 / 0.406 at the start) falls of 0.391 / 0.398 /
0.422 / 0.414 / 0.438 and 0.332 / 0.328 / 0.328 / 0.270 / 0.293, score moves of +0.003 / +0.009 /
+0.001 / +0.003 / +0.006 and -0.010 / +0.004 / -0.007 / +0.018 / +0.022. Asserted: a fall
of at least ACCURACY_FALL (half the smallest measured) and a judge score within SCORE_BAND (about
twice the largest measured move). The logged oracle correctness of the rollouts, which this test
asserted before, is too noisy at 32 rollouts per step to carry a margin: its fall over the same
window was 0.04-0.25 over these seeds and machines (the standard error of a difference of two
windows of 96 rollouts is about 0.07). It does not show reward hacking specific to the judge: the
``random`` variant drifts down about as much (tutorials/guides/results.md).

On the test model (since 6 Dec 2026 the suite loads the fast copies on ``warmstart.TEST_MODEL``, 2
layers x 64, ``recipes.FAST_COPIES``; the figures above are of the copies on the 4 x 128 'tiny'
before), seeds 0-4, on a 2-core AMD EPYC's own build of the cached models / its
``ATEN_CPU_CAPABILITY=default`` build: the judges' copy 'tiny-thinkprm-fast' trains on 128 problems,
the teacher 240 and the student 160 SFT steps (at the recipe's 64 problems and 60 / 40 steps the
student's step AUROC was 0.38). Step AUROC: teacher 0.783 / 0.741 / 0.748 / 0.731 / 0.763 and 0.694
/ 0.670 / 0.679 / 0.711 / 0.681, student 0.694 / 0.676 / 0.711 / 0.680 / 0.694 and 0.646 / 0.655 /
0.677 / 0.682 / 0.675 (MARGIN 0.04 stays under half the smallest effect, 0.073). Drift under the
judge: greedy accuracy from 'tiny-fast' (0.566 / 0.539) falls by 0.468 / 0.382 / 0.406 / 0.265 /
0.320 and 0.305 / 0.254 / 0.305 / 0.312 / 0.187 while the judge's score moves by +0.000 / -0.001 /
-0.035 / +0.022 / +0.025 and -0.020 / -0.001 / -0.018 / -0.024 / -0.007; ACCURACY_FALL 0.09 (half
the smallest fall, rounded down), SCORE_BAND 0.07 (twice the largest move). With the judges trained
for 240 / 160 steps on 64 problems, the first build's score fell 0.11-0.14 with the drift: whether
the judge registers the drift depends on how it was trained.
"""

import copy

import pytest

from sandbox.eval.accuracy import evaluate_accuracy
from sandbox.eval.processbench import build_processbench
from sandbox.model.policy import TinyPolicy
from sandbox.prm.generative import JudgeConfig, judge_rollouts
from sandbox.train import recipes
from sandbox.train.rl import Trainer

from learning_settings import SEEDS, measured_rl_config

pytestmark = pytest.mark.slow

MARGIN = 0.04
ACCURACY_FALL = 0.09
"""Least fall of greedy held-out accuracy over the run; measured 0.270-0.441 (seeds 0-4, four builds)."""
SCORE_BAND = 0.07
"""Most change of the logged judge score (last 3 steps minus the first 3); measured at most 0.024."""


def auroc(scores: list[float], labels: list[bool]) -> float:
    """P(score of a random positive > score of a random negative), ties counted half."""
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    return sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))


@pytest.mark.parametrize("seed", SEEDS)  # the suite checks seed 0 (learning_settings.checked_seeds); seeds 0-4 measured above
@pytest.mark.parametrize("role", ["teacher", "student"])
def test_judge_step_scores_separate_valid_from_invalid_steps(warmstart_tiny, role, seed):
    model, task, _ = warmstart_tiny
    bench = build_processbench(TinyPolicy(model), task, 128, 4, seed=seed)
    judge = recipes.load("tiny-thinkprm" + (":teacher" if role == "teacher" else ""))
    scores = judge_rollouts(judge, bench.test, task, JudgeConfig(n_chains=2), seed=seed).steps
    flat = [s for row in scores for s in row]
    valid = [v for verdict in bench.test.verdicts for v in verdict.step_valid]
    value = auroc(flat, valid)
    assert value >= 0.5 + MARGIN, f"{role} seed {seed}: step AUROC {value:.3f}"


def drift_under_the_judge(model, task, seed: int, steps: int = 10, window: int = 3) -> tuple[float, float, float]:
    """(greedy accuracy before, after, change of the logged ``prm/mean_score``: mean of the last
    ``window`` steps minus the first ``window``) of a short thinkprm run on a copy of ``model``."""
    policy = TinyPolicy(copy.deepcopy(model))
    before = evaluate_accuracy(policy, task, policy.tokenizer, 256)["eval/accuracy"]
    cfg = measured_rl_config("thinkprm", seed=seed, steps=steps, problems_per_step=8, group_size=4, lr=2e-4,
                             warmup_steps=0, eval_problems=256)
    history = Trainer(cfg, task, policy).train()
    score = [h["prm/mean_score"] for h in history]
    return before, history[-1]["eval/accuracy"], (sum(score[-window:]) - sum(score[:window])) / window


@pytest.mark.parametrize("seed", SEEDS)
def test_rl_against_the_judge_drifts_the_policy_while_the_judge_score_stays_level(warmstart_tiny, seed):
    model, task, _ = warmstart_tiny
    before, after, d_score = drift_under_the_judge(model, task, seed=seed)
    assert before - after >= ACCURACY_FALL, f"greedy accuracy {before:.3f} -> {after:.3f}"
    assert abs(d_score) <= SCORE_BAND, f"judge score moved by {d_score:+.3f}"
