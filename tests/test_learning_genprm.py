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
"""

import pytest

from sandbox.eval.processbench import build_processbench
from sandbox.model.policy import TinyPolicy
from sandbox.prm.generative import JudgeConfig, judge_rollouts
from sandbox.prm.judge_recipes import load_judge

MARGIN = 0.05


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
