"""Reference implementations of the standard advantage estimators, for the kit's oracle check.

    check_advantage_estimator(my_rloo, kind="rloo")      # structural checks + this module's RLOO

Each reference is written from its equation with plain Python loops over rows, groups and tokens
(``math.fsum`` for every sum, so totals are exact and equal totals are equal), independently of
``sandbox.rewards``: a user who declares which standard estimator theirs is gets an oracle
without writing one. Every reference has the ``AdvantageEstimator`` signature and returns
float64 advantages [B, T], 0 off the mask. R_i = Σ_t r_{i,t} m_{i,t} is row i's summed reward,
"group" the rows sharing a group id, std the sample (n − 1) std unless ``std="population"``.

    name          kit kind        A_{i,t} on response tokens                                options
    grpo          outcome_group   (R_i − mean_g) / (std_g + eps); 0 for n_g = 1 or equal R     eps, std
    dr_grpo       outcome_group   R_i − mean_g
    rloo          outcome_group   R_i − mean_{j≠i} R_j;  0 for n_g = 1
    tree_grpo     outcome_group   z-score within (group, tree) + z-score within group          eps, std, prompt_term
    rpp_baseline  batch_whitened  a_i = R_i − mean_g, whitened over all response tokens       eps
    return_to_go  dense           G_{i,t} = Σ_{t'≥t} γ^{t'−t} r m  − b_i, b_i = 0,            gamma, baseline,
                                  mean_g G_{j,start} or mean_{j≠i} G_{j,start} (own total     whiten, eps
                                  for n_g = 1); ``whiten=True``: whitened over all response
                                  tokens, and the kind is ``dense_whitened``
    process_grpo  dense_group     Σ_{step ends e ≥ t in row i} z_e, z over the group's ends   eps, std
                                  (a row's last response token always ends a step)

``REFERENCES`` maps each name to (kit kind, function, the keyword options it accepts, whether
it divides by a std). Where a std is nonzero but tiny, ``std + eps`` and other conventions
(``sqrt(var + eps)``, another eps) legitimately disagree by more than any tolerance, so the
oracle check skips rows whose reference used a std in (0, ``ILL_CONDITIONED_STD``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch

ILL_CONDITIONED_STD = 1e-2
"""Rows whose reference divided by a std in (0, this) are not compared (see the module docstring)."""


class Reference(NamedTuple):
    kind: str | Callable[[dict], str]
    """The kit kind whose structural invariants also apply (``estimator_checks.KINDS``), or a
    function of the reference's options giving it."""
    fn: Callable
    options: tuple[str, ...]
    """Keyword options the reference accepts (taken from the check's ``options`` when named alike)."""
    extras: tuple[str, ...] = ()
    """Tree keys it needs (``sandbox.testing.trees.TREE_EXTRAS``)."""


def row_lists(rewards: torch.Tensor, mask: torch.Tensor) -> list[list[tuple[int, float]]]:
    """Per row, its (position, reward) pairs on response tokens, left to right."""
    r, m = rewards.double().tolist(), mask.tolist()
    return [[(t, r[b][t]) for t in range(len(m[b])) if m[b][t]] for b in range(len(m))]


def totals(rewards: torch.Tensor, mask: torch.Tensor) -> list[float]:
    """[B] R_i, each an exactly rounded sum."""
    return [math.fsum(v for _, v in row) for row in row_lists(rewards, mask)]


def members(ids: list) -> dict:
    """id -> the rows carrying it, in row order."""
    out: dict = {}
    for row, key in enumerate(ids):
        out.setdefault(key, []).append(row)
    return out


def mean(values: list[float]) -> float:
    return math.fsum(values) / len(values)


def std(values: list[float], kind: str) -> float:
    """Sample (n − 1) or population std; 0 for fewer than two values."""
    if len(values) < 2:
        return 0.0
    mu = mean(values)
    squares = math.fsum((v - mu) ** 2 for v in values)
    return math.sqrt(squares / (len(values) - 1 if kind == "sample" else len(values)))


def zscores(values: list[float], eps: float, std_kind: str) -> tuple[list[float], float]:
    """(z-scores of ``values``, the std used); all 0 for one value or equal values."""
    if len(values) < 2 or all(v == values[0] for v in values):
        return [0.0] * len(values), 0.0
    mu, sigma = mean(values), std(values, std_kind)
    return [(v - mu) / (sigma + eps) for v in values], sigma


def broadcast(per_row: list[float], mask: torch.Tensor) -> torch.Tensor:
    """[B, T] float64: ``per_row[b]`` on row b's response tokens, 0 elsewhere."""
    out = torch.zeros(mask.shape, dtype=torch.float64)
    for b, value in enumerate(per_row):
        out[b][mask[b]] = value
    return out


class Result(NamedTuple):
    advantages: torch.Tensor
    """[B, T] float64."""
    comparable: torch.Tensor
    """[B] bool: rows whose reference value does not hinge on the eps convention."""


def all_rows(n: int) -> torch.Tensor:
    return torch.ones(n, dtype=torch.bool)


def grpo(rewards, mask, group, step_ids, eps: float = 1e-6, std: str = "sample") -> Result:
    R = totals(rewards, mask)
    adv, comparable = [0.0] * len(R), all_rows(len(R))
    for rows in members(group.tolist()).values():
        z, sigma = zscores([R[i] for i in rows], eps, std)
        for i, value in zip(rows, z):
            adv[i] = value
            comparable[i] = not 0 < sigma < ILL_CONDITIONED_STD
    return Result(broadcast(adv, mask), comparable)


def centred_totals(rewards, mask, group) -> list[float]:
    """Each row's total minus its group's mean total (exactly 0 for a group of equal totals)."""
    R = totals(rewards, mask)
    out = [0.0] * len(R)
    for rows in members(group.tolist()).values():
        values = [R[i] for i in rows]
        equal = all(v == values[0] for v in values)
        for i in rows:
            out[i] = 0.0 if equal else R[i] - mean(values)
    return out


def dr_grpo(rewards, mask, group, step_ids) -> Result:
    return Result(broadcast(centred_totals(rewards, mask, group), mask), all_rows(len(group)))


def rloo(rewards, mask, group, step_ids) -> Result:
    R = totals(rewards, mask)
    adv = [0.0] * len(R)
    for rows in members(group.tolist()).values():
        for i in rows:
            others = [R[j] for j in rows if j != i]
            equal = all(R[j] == R[i] for j in rows)
            adv[i] = 0.0 if not others or equal else R[i] - mean(others)
    return Result(broadcast(adv, mask), all_rows(len(R)))


def tree_grpo(rewards, mask, group, step_ids, tree, eps: float = 1e-6, std: str = "sample", prompt_term: bool = True) -> Result:
    R = totals(rewards, mask)
    adv, comparable = [0.0] * len(R), all_rows(len(R))
    units = [members(list(zip(group.tolist(), torch.as_tensor(tree).tolist())))]
    if prompt_term:
        units.append(members(group.tolist()))
    for unit in units:
        for rows in unit.values():
            z, sigma = zscores([R[i] for i in rows], eps, std)
            for i, value in zip(rows, z):
                adv[i] += value
                comparable[i] &= not 0 < sigma < ILL_CONDITIONED_STD
    return Result(broadcast(adv, mask), comparable)


def rpp_baseline(rewards, mask, group, step_ids, eps: float = 1e-6) -> Result:
    centred = centred_totals(rewards, mask, group)
    n = len(centred)
    tokens = [centred[b] for b in range(n) for _ in range(int(mask[b].sum()))]
    if not tokens:
        return Result(torch.zeros(mask.shape, dtype=torch.float64), all_rows(n))
    mu = mean(tokens)
    sigma = math.sqrt(math.fsum((v - mu) ** 2 for v in tokens) / (len(tokens) - 1)) if len(tokens) > 1 else 0.0
    adv = [(c - mu) / (sigma + eps) for c in centred]
    comparable = all_rows(n) if not 0 < sigma < ILL_CONDITIONED_STD else ~all_rows(n)
    return Result(broadcast(adv, mask), comparable)


def rewards_to_go(rewards, mask, gamma: float) -> list[dict[int, float]]:
    """Per row, position -> G_t = Σ_{t' ≥ t} γ^{t'−t} r_{t'} over its response tokens."""
    out = []
    for row in row_lists(rewards, mask):
        out.append({t: math.fsum(gamma ** (u - t) * v for u, v in row if u >= t) for t, _ in row})
    return out


def return_to_go(rewards, mask, group, step_ids, gamma: float = 1.0, baseline: str = "none", whiten: bool = False,
                 eps: float = 1e-6) -> Result:
    G = rewards_to_go(rewards, mask, gamma)
    starts = [g[min(g)] if g else 0.0 for g in G]
    base = [0.0] * len(G)
    if baseline == "group_mean":
        for rows in members(group.tolist()).values():
            values = [starts[i] for i in rows]
            equal = all(v == values[0] for v in values)
            for i in rows:
                base[i] = values[0] if equal else mean(values)
    elif baseline == "leave_one_out":
        base = list(starts)
        for rows in members(group.tolist()).values():
            for i in rows:
                others = [starts[j] for j in rows if j != i]
                if others and not all(starts[j] == starts[i] for j in rows):
                    base[i] = mean(others)
    out = dense(G, base, mask)
    if not whiten:
        return Result(out, all_rows(len(G)))
    tokens = [float(out[b, t]) for b in range(len(G)) for t in G[b]]
    if not tokens:
        return Result(out, all_rows(len(G)))
    mu = mean(tokens)
    sigma = math.sqrt(math.fsum((v - mu) ** 2 for v in tokens) / (len(tokens) - 1)) if len(tokens) > 1 else 0.0
    for b in range(len(G)):
        for t in G[b]:
            out[b, t] = (out[b, t] - mu) / (sigma + eps)
    comparable = all_rows(len(G)) if not 0 < sigma < ILL_CONDITIONED_STD else ~all_rows(len(G))
    return Result(out, comparable)


def dense(G: list[dict[int, float]], base: list[float], mask: torch.Tensor) -> torch.Tensor:
    out = torch.zeros(mask.shape, dtype=torch.float64)
    for b, to_go in enumerate(G):
        for t, value in to_go.items():
            out[b, t] = value - base[b]
    return out


def step_end_positions(mask: torch.Tensor, step_ids: torch.Tensor) -> list[list[int]]:
    """Per row, the response positions whose step id is ≥ 0 and whose next token is not in the
    same step (another step, off the response, or the end of the row), and the row's last
    response token whatever its step id (it ends the answer step, or the failed one)."""
    m, s = mask.tolist(), step_ids.tolist()
    ends = []
    for b in range(len(m)):
        width = len(m[b])
        last = lambda t: t + 1 == width or not m[b][t + 1]  # noqa: E731
        ends.append([
            t for t in range(width)
            if m[b][t] and (last(t) or (s[b][t] >= 0 and s[b][t + 1] != s[b][t]))
        ])
    return ends


def process_grpo(rewards, mask, group, step_ids, eps: float = 1e-6, std: str = "sample") -> Result:
    ends = step_end_positions(mask, step_ids)
    r = rewards.double().tolist()
    out = torch.zeros(mask.shape, dtype=torch.float64)
    comparable = all_rows(len(ends))
    for rows in members(group.tolist()).values():
        keys = [(b, t) for b in rows for t in ends[b]]
        z, sigma = zscores([r[b][t] for b, t in keys], eps, std)
        normalised = dict(zip(keys, z))
        for b in rows:
            comparable[b] = not 0 < sigma < ILL_CONDITIONED_STD
            for t in range(mask.shape[1]):
                if mask[b, t]:
                    out[b, t] = math.fsum(v for (row, u), v in normalised.items() if row == b and u >= t)
    return Result(out, comparable)


REFERENCES: dict[str, Reference] = {
    "grpo": Reference("outcome_group", grpo, ("eps", "std")),
    "dr_grpo": Reference("outcome_group", dr_grpo, ()),
    "rloo": Reference("outcome_group", rloo, ()),
    "tree_grpo": Reference("outcome_group", tree_grpo, ("eps", "std", "prompt_term"), ("tree",)),
    "rpp_baseline": Reference("batch_whitened", rpp_baseline, ("eps",)),
    "return_to_go": Reference(lambda options: "dense_whitened" if options.get("whiten") else "dense", return_to_go,
                              ("gamma", "baseline", "whiten", "eps")),
    "process_grpo": Reference("dense_group", process_grpo, ("eps", "std")),
}
"""Standard estimator name -> its reference (see the module docstring)."""
