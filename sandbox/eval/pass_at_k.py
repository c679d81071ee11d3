"""pass@k: the chance that at least one of k samples is right, estimated from n ≥ k samples.

    pass@k = E_problems[ 1 − C(n − c, k) / C(n, k) ]        (Chen et al. 2021, arXiv 2107.03374)

with c correct among n samples of a problem; the product form below avoids huge binomials.
"""

from __future__ import annotations

import torch

from sandbox.model.sampler import SamplingConfig
from sandbox.rollout.group_sampler import sample_groups


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


@torch.no_grad()
def evaluate_pass_at_k(policy, task, k: int, n_problems: int, sampling: SamplingConfig, seed: int, n: int | None = None) -> float:
    """Mean pass@k over eval-split problems 0..n_problems−1 with n (default k) samples each."""
    n = n or k
    rollouts = sample_groups(policy, task, list(range(n_problems)), n, sampling, seed, step=-1, split="eval")
    correct = rollouts.correct.view(n_problems, n).sum(-1)
    return sum(pass_at_k(n, int(c), k) for c in correct) / n_problems
