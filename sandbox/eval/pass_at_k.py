"""pass@k: the chance that at least one of k samples is right, estimated from n ≥ k samples.

    pass@k = E_problems[ 1 − C(n − c, k) / C(n, k) ]        (Chen et al. 2021, arXiv 2107.03374)

with c correct among n samples of a problem; the product form below avoids huge binomials.
The same estimator with c counting process-verified samples (answer right and every step valid,
``Verdict.process_correct``; Zhang, Neubig & Yue 2025, arXiv 2512.07783) gives process pass@k,
which a right answer reached through wrong steps does not raise.
"""

from __future__ import annotations

import torch

from sandbox.model.sampler import SamplingConfig
from sandbox.rng import sample_stream
from sandbox.rollout.group_sampler import sample_groups

SAMPLE_ROWS = 512
"""Rows sampled per call (whole problems): bounds the sampler's memory at large n."""


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with ``c`` correct of ``n`` samples."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    fail = 1.0
    for i in range(n - c + 1, n + 1):
        fail *= 1.0 - k / i
    return 1.0 - fail


def curve_ks(n: int) -> list[int]:
    """The k of a logged pass@k curve from n samples: every power of two below n, then n."""
    ks, k = [], 1
    while k < n:
        ks.append(k)
        k *= 2
    return ks + [n]


def mean_pass_at_k(n: int, counts: list[int], k: int) -> float:
    """pass@k averaged over problems with ``counts[i]`` correct of ``n`` samples each."""
    return sum(pass_at_k(n, c, k) for c in counts) / len(counts)


@torch.no_grad()
def sample_counts(policy, task, n: int, n_problems: int, sampling: SamplingConfig, seed: int) -> tuple[list[int], list[int], list[int]]:
    """Per eval-split problem 0..n_problems−1: (correct, process-correct) counts among n samples,
    and its length (``task.length``; 0 for a task without one). Sampled in chunks of whole
    problems; each row is keyed by (seed, ``sample_stream("pass@k")``, problem, rollout), so chunking
    changes nothing."""
    correct, process, lengths = [], [], []
    per_call = max(1, SAMPLE_ROWS // n)
    for lo in range(0, n_problems, per_call):
        indices = list(range(lo, min(n_problems, lo + per_call)))
        rollouts = sample_groups(policy, task, indices, n, sampling, seed, step=sample_stream("pass@k"), split="eval")
        for at in range(len(indices)):
            verdicts = [rollouts.verdicts[at * n + j] for j in range(n)]
            correct.append(sum(v.correct for v in verdicts))
            process.append(sum(v.process_correct for v in verdicts))
            lengths.append(task.length(rollouts.problems[at * n]) if hasattr(task, "length") else 0)
    return correct, process, lengths


def evaluate_pass_curve(policy, task, n: int, n_problems: int, sampling: SamplingConfig, seed: int) -> dict:
    """n samples of each eval-split problem 0..n_problems−1: ``eval/pass@k`` and
    ``eval/process_pass@k`` for every k of ``curve_ks(n)``, and per problem length L (tasks with
    ``length``) ``eval/pass@k@lenL`` and ``eval/process_pass@k@lenL`` for k = 1 and k = n."""
    return pass_curve_of_counts(n, *sample_counts(policy, task, n, n_problems, sampling, seed))


def pass_curve_of_counts(n: int, correct: list[int], process: list[int], lengths: list[int]) -> dict:
    """``evaluate_pass_curve``'s metrics from the per-problem counts of ``sample_counts``."""
    out = {}
    for k in curve_ks(n):
        out[f"eval/pass@{k}"] = mean_pass_at_k(n, correct, k)
        out[f"eval/process_pass@{k}"] = mean_pass_at_k(n, process, k)
    if any(lengths):  # a task with problem lengths (``sample_counts`` gives 0 without)
        for length in sorted(set(lengths)):
            at = [i for i, value in enumerate(lengths) if value == length]
            for k in sorted({1, n}):
                out[f"eval/pass@{k}@len{length}"] = mean_pass_at_k(n, [correct[i] for i in at], k)
                out[f"eval/process_pass@{k}@len{length}"] = mean_pass_at_k(n, [process[i] for i in at], k)
    return out
