"""Learning test: the ThinkPRM-style judges (recipe tiny-thinkprm) learn to tell valid steps
from invalid ones, though not well enough to beat the answer check.

Measured on the toy ProcessBench of the 'tiny' policy (``reward-sandbox prm judge
--bench-problems 128``, seed 0; README): teacher F1 0.42-0.51 and student 0.37-0.44 over
N = 1..8 chains, the discriminative PRM (tiny-oracle) 0.46, the answer-check baseline 0.74.
So the issue's ">= 10 F1 over the answer check" does not hold here and is not asserted. What
holds is that the judges' step scores carry signal that the untrained warm start's do not (it
writes no verification chain, so every step scores 0.5, AUROC 0.5): this test asserts the
step-score AUROC against the oracle's step validity on the benchmark's test half is at least
0.5 + MARGIN for both. Measured on this test's bench (128 problems, N = 2 chains) for bench and
chain seeds 0 / 1 / 2: teacher 0.735 / 0.642 / 0.673, student 0.654 / 0.599 / 0.681 (the
student, trained on the 75 of 512 teacher chains that pass the process filter, is not reliably
better or worse than its teacher); the suite checks seed 0 with a margin the worst seed clears.

RL with the variant ``genprm`` (the student's step scores as dense rewards, process-supervised
GRPO) from the 'tiny' warm start does not raise the judge's own score here, nor accuracy (presumably
the per-sample score from 2 chains is too noisy to climb): on 128 fixed held-out samples its mean
is 0.442 before and 0.437-0.444 after 20 steps, as after 20 steps of the ``random`` variant. What
moves is the policy's drift, and the logged judge score does not register it: over 10 steps
(lr 5e-5, no warmup, 8 problems x 4), mean over the first 3 vs the last 3 steps of the logged
``prm/oracle_correct`` falls by 0.146 / 0.188 / 0.146 for seeds 0 / 1 / 2 while ``prm/mean_score``
moves by +0.008 / 0.000 / -0.005. The second test asserts this over-optimisation view on seed 0
(a fall of at least CORRECT_DROP, the judge score within SCORE_BAND). It does not show reward
hacking specific to the judge: the ``random`` variant drifts down about as much (README).
"""

import copy

import pytest

from sandbox.eval.processbench import build_processbench
from sandbox.model.policy import TinyPolicy
from sandbox.prm.generative import JudgeConfig, judge_rollouts
from sandbox.prm.judge_recipes import load_judge
from sandbox.train.rl import RLConfig, Trainer

MARGIN = 0.05
CORRECT_DROP = 0.07
"""Least fall of the logged oracle correctness (first 3 vs last 3 steps); measured 0.146-0.188."""
SCORE_BAND = 0.03
"""Most change of the logged judge score over the same steps; measured at most 0.008."""


def auroc(scores: list[float], labels: list[bool]) -> float:
    """P(score of a random positive > score of a random negative), ties counted half."""
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    return sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))


@pytest.mark.parametrize("role", ["teacher", "student"])
def test_judge_step_scores_separate_valid_from_invalid_steps(warmstart_tiny, role):
    model, task, _ = warmstart_tiny
    bench = build_processbench(TinyPolicy(model), task, 128, 4, seed=0)
    judge = load_judge("tiny-thinkprm" + (":teacher" if role == "teacher" else ""))
    scores = judge_rollouts(judge, bench.test, task, JudgeConfig(n_chains=2), seed=0).steps
    flat = [s for row in scores for s in row]
    valid = [v for verdict in bench.test.verdicts for v in verdict.step_valid]
    value = auroc(flat, valid)
    assert value >= 0.5 + MARGIN, f"{role} step AUROC {value:.3f}"


def judge_and_oracle_shift(model, task, seed: int, steps: int = 10, window: int = 3) -> tuple[float, float]:
    """(change of prm/mean_score, change of prm/oracle_correct), mean of the last ``window``
    logged steps minus the first ``window``, over a short genprm run on a copy of ``model``."""
    cfg = RLConfig(variant="genprm", seed=seed, steps=steps, problems_per_step=8, group_size=4, warmup_steps=0,
                   eval_every=0, eval_problems=0, pass_problems=0, progress=False)
    history = Trainer(cfg, task, TinyPolicy(copy.deepcopy(model))).train()
    shift = lambda key: (sum(h[key] for h in history[-window:]) - sum(h[key] for h in history[:window])) / window  # noqa: E731
    return shift("prm/mean_score"), shift("prm/oracle_correct")


def test_rl_against_the_judge_lowers_oracle_correctness_while_the_judge_score_stays_level(warmstart_tiny):
    model, task, _ = warmstart_tiny
    d_score, d_correct = judge_and_oracle_shift(model, task, seed=0)
    assert d_correct <= -CORRECT_DROP, f"oracle correctness moved by {d_correct:+.3f}"
    assert abs(d_score) <= SCORE_BAND, f"judge score moved by {d_score:+.3f}"
