"""PRM-guided inference: best-of-N reranked by a verifier's trajectory score.

For each held-out problem draw N_max solutions from the policy (keyed), and for every N ≤ N_max

    pick_N   = argmax_{j < N} score(solution_j)          (ties: the earliest sample)
    acc(N)   = mean over problems of 1[pick_N correct]
    pass(N)  = mean over problems of 1[some j < N correct]   (the ceiling a perfect reranker reaches)

"Let's Verify Step by Step" (Lightman et al. 2023, arXiv 2305.20050) and "Math-Shepherd" (Wang
et al. 2023, arXiv 2312.08935) rerank with a PRM's aggregated step scores this way. Step-level
beam search is not implemented here.
"""

from __future__ import annotations

from sandbox.eval.accuracy import default_max_new_tokens
from sandbox.model.sampler import SamplingConfig
from sandbox.rng import sample_stream
from sandbox.rollout.group_sampler import sample_groups
from sandbox.rollout.rollouts import Rollouts
from toy_envs.base import check



def rerank_accuracy(correct: list[list[bool]], scores: list[list[float]], n: int) -> float:
    """Accuracy of picking the best-scored of the first ``n`` samples of each problem."""
    picks = []
    for row_correct, row_scores in zip(correct, scores):
        best = max(range(n), key=lambda j: (row_scores[j], -j))
        picks.append(row_correct[best])
    return sum(picks) / len(picks)


def pass_at(correct: list[list[bool]], n: int) -> float:
    """Fraction of problems with a correct answer among the first ``n`` samples."""
    return sum(any(row[:n]) for row in correct) / len(correct)


def sample_candidates(policy, task, n_problems: int, n_max: int, seed: int = 0, temperature: float = 1.0) -> Rollouts:
    """``n_max`` samples of each of eval problems 0..n_problems−1, rows of a problem adjacent."""
    check(n_problems >= 1, "n_problems", "an integer >= 1", n_problems)
    check(n_max >= 1, "n_max", "an integer >= 1", n_max)
    sampling = SamplingConfig(max_new_tokens=default_max_new_tokens(task), temperature=temperature)
    return sample_groups(policy, task, list(range(n_problems)), n_max, sampling, seed, sample_stream("best_of_n"), split="eval")


def best_of_n(candidates: Rollouts, trajectory_scores: list[float], n_max: int, ns: list[int]) -> dict[int, dict[str, float]]:
    """Per N in ``ns``: reranked accuracy and pass@N of ``candidates`` (``n_max`` rows per problem)."""
    check(all(1 <= n <= n_max for n in ns), "ns", f"integers in [1, {n_max}]", ns)
    flags = [v.correct for v in candidates.verdicts]
    correct = [flags[i : i + n_max] for i in range(0, len(flags), n_max)]
    scores = [trajectory_scores[i : i + n_max] for i in range(0, len(flags), n_max)]
    return {n: {"accuracy": rerank_accuracy(correct, scores, n), "pass": pass_at(correct, n)} for n in ns}
