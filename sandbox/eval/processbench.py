"""A toy ProcessBench: can a step scorer find the first erroneous step of a policy's solution?

Benchmark: held-out (eval-split) *policy samples*, each with its oracle first-error index
(``first invalid step``, or on tree puzzles also ``first dead-end step``: the first step after
which no correct answer is reachable); erroneous and fully correct solutions balanced; split by
problem into a validation half (thresholds) and a test half (scores).

A step scorer predicts the first error as the first step whose score is below a threshold τ
(none below: "all correct"); τ is the one that maximises F1 on the validation half. Scores:

    acc_err  = fraction of erroneous solutions whose predicted index equals the oracle's
    acc_corr = fraction of correct solutions predicted "all correct"
    F1       = 2 · acc_err · acc_corr / (acc_err + acc_corr)

"ProcessBench: Identifying Process Errors in Mathematical Reasoning" (Zheng et al. 2024,
arXiv 2412.06559), section 3. The *answer-check* baseline uses the oracle's final-answer check
only: "all correct" when the answer is right, otherwise the most frequent first-error position
of the validation half.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from sandbox.eval.accuracy import default_max_new_tokens
from sandbox.model.sampler import SamplingConfig
from sandbox.rng import sample_stream
from sandbox.rollout.group_sampler import sample_groups
from sandbox.rollout.rollouts import Rollouts
from toy_envs.base import Verdict, check

ERROR_KINDS = ("invalid", "dead_end")


def first_error(verdict: Verdict, kind: str = "invalid") -> int | None:
    """The oracle's first invalid step (``kind="invalid"``) or first dead-end step (``"dead_end"``)."""
    check(kind in ERROR_KINDS, "error_kind", f"one of {ERROR_KINDS}", kind)
    if kind == "invalid":
        return verdict.first_error
    return next((t for t, value in enumerate(verdict.step_value) if not value), None)


def predict_first_error(scores: list[float], threshold: float) -> int | None:
    """The first step whose score is below ``threshold``; ``None`` if there is none."""
    return next((t for t, s in enumerate(scores) if s < threshold), None)


def processbench_scores(predicted: list[int | None], truth: list[int | None]) -> dict[str, float]:
    """Accuracy on erroneous solutions, on correct ones, and their harmonic mean."""
    err = [p == t for p, t in zip(predicted, truth) if t is not None]
    corr = [p is None for p, t in zip(predicted, truth) if t is None]
    acc_err = sum(err) / len(err) if err else 0.0
    acc_corr = sum(corr) / len(corr) if corr else 0.0
    f1 = 2 * acc_err * acc_corr / (acc_err + acc_corr) if acc_err + acc_corr > 0 else 0.0
    return {"acc_err": acc_err, "acc_corr": acc_corr, "f1": f1}


def candidate_thresholds(step_scores: list[list[float]]) -> list[float]:
    """Every threshold that changes a prediction: just above each distinct score, and 0."""
    values = sorted({s for row in step_scores for s in row})
    return [0.0] + [math.nextafter(v, math.inf) for v in values]


def choose_threshold(step_scores: list[list[float]], truth: list[int | None]) -> float:
    """The τ that maximises F1 (ties: the smallest τ)."""
    best, best_f1 = 0.0, -1.0
    for tau in candidate_thresholds(step_scores):
        f1 = processbench_scores([predict_first_error(s, tau) for s in step_scores], truth)["f1"]
        if f1 > best_f1:
            best, best_f1 = tau, f1
    return best


@dataclass
class ProcessBench:
    """Validation and test solutions with their oracle first-error indices."""

    val: Rollouts
    val_truth: list[int | None]
    test: Rollouts
    test_truth: list[int | None]
    error_kind: str


def balanced_rows(truth: list[int | None], per_class: int) -> list[int]:
    """The first ``per_class`` erroneous and first ``per_class`` correct rows (fewer if short), in order."""
    wrong = [i for i, t in enumerate(truth) if t is not None][:per_class]
    right = [i for i, t in enumerate(truth) if t is None][:per_class]
    n = min(len(wrong), len(right))
    return sorted(wrong[:n] + right[:n])


def build_processbench(
    policy, task, n_problems: int = 256, group_size: int = 4, error_kind: str = "invalid", seed: int = 0,
    temperature: float = 1.0,
) -> ProcessBench:
    """Sample ``group_size`` solutions of eval problems 0..n_problems−1; even problems → validation,
    odd → test; each half balanced between erroneous and correct solutions."""
    check(error_kind in ERROR_KINDS, "error_kind", f"one of {ERROR_KINDS}", error_kind)
    check(n_problems >= 2, "n_problems", "an integer >= 2", n_problems)
    sampling = SamplingConfig(max_new_tokens=default_max_new_tokens(task), temperature=temperature)
    rollouts = sample_groups(policy, task, list(range(n_problems)), group_size, sampling, seed, sample_stream("processbench"), split="eval")
    halves = []
    for parity in (0, 1):
        part = rollouts.select((rollouts.problem_index % 2 == parity))
        truth = [first_error(v, error_kind) for v in part.verdicts]
        rows = balanced_rows(truth, len(part))
        check(bool(rows), "n_problems", f"enough problems that each half has both erroneous and correct solutions "
              f"(the {'validation' if parity == 0 else 'test'} half has none of one kind)", n_problems)
        halves.append((part.select(rows), [truth[i] for i in rows]))
    return ProcessBench(halves[0][0], halves[0][1], halves[1][0], halves[1][1], error_kind)


def evaluate_scorer(score_fn, bench: ProcessBench) -> dict[str, float]:
    """``score_fn(rollouts) -> step scores``: τ from validation, scores on test."""
    tau = choose_threshold(score_fn(bench.val), bench.val_truth)
    predicted = [predict_first_error(s, tau) for s in score_fn(bench.test)]
    return {**processbench_scores(predicted, bench.test_truth), "threshold": tau}


def answer_check_predictions(rollouts: Rollouts, position: int) -> list[int | None]:
    """"All correct" when the final answer is right, else ``position``."""
    return [None if v.correct else position for v in rollouts.verdicts]


def evaluate_answer_check(bench: ProcessBench) -> dict[str, float]:
    """The answer-check baseline: the most frequent first-error position of validation."""
    counts = Counter(t for t in bench.val_truth if t is not None)
    position = min(counts, key=lambda p: (-counts[p], p)) if counts else 0
    return {**processbench_scores(answer_check_predictions(bench.test, position), bench.test_truth), "position": position}
