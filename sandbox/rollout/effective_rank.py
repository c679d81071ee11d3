"""Effective rank of hidden states, its dynamics inside a response, and differences over a series.

    σ_1 ≥ … ≥ σ_r       the singular values of a matrix H [n, d]
    p_i = σ_i / Σ_j σ_j                       (singular values themselves, not their squares)
    erank(H) = exp(−Σ_i p_i log p_i)          with 0 · log 0 = 0; erank of the zero matrix := 0

Roy & Vetterli, "The effective rank: a measure of effective dimensionality" (EUSIPCO 2007). For a
nonzero H, 1 ≤ erank(H) ≤ rank(H) ≤ min(n, d): 1 iff rank 1, rank(H) iff the nonzero singular
values are equal. It does not change when H is scaled by c > 0, when its rows are permuted, or when
the hidden dimension is rotated (H → H Q, Q orthogonal).

"Beyond the Exploration-Exploitation Trade-off: A Hidden State Approach for LLM Reasoning in RLVR"
(Huang et al. 2025, arXiv 2509.23808) measures exploration by the effective rank (ER) of a
response's hidden states: H = the final-norm outputs (the input of the LM head) at the response's
tokens, **centred over the tokens** (H − mean_t H_t, as the authors' released code does before its
SVD), with p normalised by the sum of singular values as above (``response_effective_ranks``).
Its "Effective Rank Velocity / Acceleration" (ERV, ERA) are taken *inside a response*, over growing
prefixes of its tokens (``rank_dynamics``; the authors' code: prefix lengths s, 2s, …, ER_k of each
centred prefix, ERV the mean deviation of ER_k from the mean of the earlier ER_j, ERA the mean change
of that deviation). The trainer logs the batch mean of ER per training step and that series' first
and second differences over steps (``differences``), a related but different quantity: how the
representation's spread moves during training.
"""

from __future__ import annotations

import torch


def effective_rank_of_singular_values(singular_values: torch.Tensor) -> torch.Tensor:
    """erank from singular values [..., r] (any order, zeros allowed): [...] float64, 0 where all are 0."""
    s = singular_values.double().clamp(min=0)
    total = s.sum(-1, keepdim=True)
    p = s / total.clamp(min=torch.finfo(torch.float64).tiny)
    entropy = -torch.xlogy(p, p).sum(-1)
    return torch.where(total.squeeze(-1) > 0, entropy.exp(), torch.zeros_like(entropy))


def effective_rank(matrix: torch.Tensor) -> float:
    """erank of one matrix [n, d] as given (no centring), in float64."""
    if matrix.dim() != 2:
        raise ValueError(f"matrix: expected shape [n, d], got {tuple(matrix.shape)}")
    if matrix.numel() == 0:
        return 0.0
    return float(effective_rank_of_singular_values(torch.linalg.svdvals(matrix.double())))


def centred_rows(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[B, T, d] float64: each row's masked vectors minus their mean over the row's masked
    positions, 0 at unmasked ones. Zero rows do not change a matrix's nonzero singular values, so
    the padded batch has exactly each row's own singular values (plus zeros)."""
    m = mask.to(torch.float64)[..., None]
    h = hidden.double() * m
    mean = h.sum(1, keepdim=True) / m.sum(1, keepdim=True).clamp(min=1)
    return (h - mean) * m


def response_effective_ranks(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[B] float64: the paper's ER of each row, erank of its masked vectors centred over them.

    ``hidden`` [B, T, d] (e.g. response-token final hidden states), ``mask`` [B, T] bool. A row with
    fewer than two masked vectors centres to zero and gets 0."""
    if hidden.dim() != 3 or mask.shape != hidden.shape[:2]:
        raise ValueError(f"hidden [B, T, d] and mask [B, T] expected, got {tuple(hidden.shape)} and {tuple(mask.shape)}")
    if hidden.shape[0] == 0:
        return torch.zeros(0, dtype=torch.float64)
    return effective_rank_of_singular_values(torch.linalg.svdvals(centred_rows(hidden, mask)))


def differences(series: list[float]) -> tuple[list[float], list[float]]:
    """First and second differences of a series: d1[i] = s[i+1] − s[i], d2[i] = d1[i+1] − d1[i]
    (lengths n − 1 and n − 2, empty when too short)."""
    d1 = [b - a for a, b in zip(series, series[1:])]
    return d1, [b - a for a, b in zip(d1, d1[1:])]


def velocity_acceleration(series: list[float]) -> tuple[float, float]:
    """The paper's ERV and ERA of one series of ER values at growing prefixes ER_1 … ER_n:

        v_t = ER_t − mean(ER_1 … ER_{t−1})     t = 2 … n      (deviation from the history's mean)
        a_t = v_t − v_{t−1}                    t = 3 … n
        ERV = mean_t v_t,   ERA = mean_t a_t                   (0 when there is no term)

    For a linear series ER_t = α + βt, v_t = β t/2 and a_t = β/2 for every t."""
    velocity = [value - sum(series[:t]) / t for t, value in enumerate(series) if t >= 1]
    acceleration = [b - a for a, b in zip(velocity, velocity[1:])]
    mean = lambda xs: sum(xs) / len(xs) if xs else 0.0  # noqa: E731
    return mean(velocity), mean(acceleration)


def prefix_lengths(length: int, stride: int) -> list[int]:
    """The prefix lengths at which a response of ``length`` tokens is measured: stride, 2·stride, …
    and the full length when it is not a multiple (prefixes of at least 2 tokens only)."""
    if stride < 1:
        raise ValueError(f"stride={stride} is not allowed: an integer >= 1")
    lengths = list(range(stride, length + 1, stride))
    if length >= 1 and (not lengths or lengths[-1] != length):
        lengths.append(length)
    return [k for k in lengths if k >= 2]


def rank_dynamics(hidden: torch.Tensor, mask: torch.Tensor, stride: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row, the paper's (ERV, ERA) inside the response: ``velocity_acceleration`` of the ER of
    the row's centred first-k masked vectors at the ``prefix_lengths(length, stride)``; [B] float64 each.

    The masked vectors of a row must be contiguous (a response's tokens are)."""
    if hidden.dim() != 3 or mask.shape != hidden.shape[:2]:
        raise ValueError(f"hidden [B, T, d] and mask [B, T] expected, got {tuple(hidden.shape)} and {tuple(mask.shape)}")
    lengths = mask.sum(1).tolist()
    starts = mask.long().argmax(1).tolist()
    series: list[list[float]] = [[] for _ in lengths]
    checkpoints = sorted({k for n in lengths for k in prefix_lengths(int(n), stride)})
    for k in checkpoints:  # every row that reaches prefix length k, at once
        rows = [b for b, n in enumerate(lengths) if k in prefix_lengths(int(n), stride)]
        prefix = torch.stack([hidden[b, starts[b]:starts[b] + k] for b in rows])
        ranks = response_effective_ranks(prefix, torch.ones(prefix.shape[:2], dtype=torch.bool))
        for b, value in zip(rows, ranks.tolist()):
            series[b].append(value)
    pairs = [velocity_acceleration(s) for s in series]
    return (torch.tensor([p[0] for p in pairs], dtype=torch.float64), torch.tensor([p[1] for p in pairs], dtype=torch.float64))
