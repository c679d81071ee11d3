"""Statistics over GRPO groups: rows that share a ``group`` id (one problem's G rollouts).

For a row i in group g with n_g rows and values x:

    mean_g = x_ref + (1/n_g) Σ_{j∈g} (x_j − x_ref)          x_ref = min_{j∈g} x_j
    std_g  = sqrt( Σ_{j∈g} (x_j − mean_g)² / (n_g − 1) )    unbiased; 0 when n_g = 1

The mean is computed on data shifted by the group's minimum (the "shifted data" form of the
mean), so a group whose values are all equal gets deviations x_i − mean_g that are exactly 0,
not rounding noise: noise divided by GRPO's (std + eps) would otherwise become a spurious
advantage. Sums run in float64. Group ids need not be contiguous or sorted. These are the group
baselines of GRPO ("DeepSeekMath", Shao et al. 2024, arXiv 2402.03300) and its relatives.
"""

from __future__ import annotations

import torch

from sandbox.rewards.base import FilterResult


def group_index(group: torch.Tensor) -> tuple[torch.Tensor, int]:
    """([B] each row's group renumbered 0..n−1, n the number of groups)."""
    _, index = torch.unique(group, return_inverse=True)
    return index, int(index.max()) + 1 if len(index) else 0


def per_group_sum(values: torch.Tensor, index: torch.Tensor, n_groups: int) -> torch.Tensor:
    """[n_groups] Σ of ``values`` over each group's rows."""
    return torch.zeros(n_groups, dtype=values.dtype, device=values.device).index_add_(0, index, values)


def per_group_extreme(values: torch.Tensor, index: torch.Tensor, n_groups: int, reduce: str) -> torch.Tensor:
    """[n_groups] the ``"amin"`` or ``"amax"`` of ``values`` over each group's rows."""
    out = torch.zeros(n_groups, dtype=values.dtype, device=values.device)
    return out.scatter_reduce_(0, index, values, reduce=reduce, include_self=False)


def group_sizes(group: torch.Tensor) -> torch.Tensor:
    """[B] n_g, the size of each row's group."""
    index, n = group_index(group)
    ones = torch.ones(len(group), dtype=torch.float64, device=group.device)
    return per_group_sum(ones, index, n)[index]


def group_mean(values: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
    """[B] float64 mean_g of each row's group, exactly x for a group whose values all equal x."""
    index, n = group_index(group)
    x = values.double()
    low = per_group_extreme(x, index, n, "amin")
    sizes = per_group_sum(torch.ones_like(x), index, n)
    return (low + per_group_sum(x - low[index], index, n) / sizes)[index]


def group_deviation(values: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
    """[B] float64 x_i − mean_g, exactly 0 for every row of a group of equal values."""
    return values.double() - group_mean(values, group)


def group_std(values: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
    """[B] float64 unbiased std_g of each row's group; 0 for a group of one row."""
    index, n = group_index(group)
    deviation = group_deviation(values, group)
    sizes = per_group_sum(torch.ones_like(deviation), index, n)
    squares = per_group_sum(deviation**2, index, n)
    variance = torch.where(sizes > 1, squares / (sizes - 1).clamp(min=1), torch.zeros_like(squares))
    return variance.sqrt()[index]


def group_filter_result(values: torch.Tensor, group: torch.Tensor, keep_group: torch.Tensor) -> FilterResult:
    """Broadcast a per-group decision to rows and count what was dropped.

    ``values`` [B] is the metric the filter looked at, ``keep_group`` [n_groups] bool is indexed
    by ``group_index``. ``info["collapsed"]`` maps a value v to the number of dropped groups whose
    rows all had metric v (dropped groups with differing values are not counted there).
    """
    index, n = group_index(group)
    x = values.double()
    low, high = per_group_extreme(x, index, n, "amin"), per_group_extreme(x, index, n, "amax")
    collapsed: dict[float, int] = {}
    for g in range(n):
        if not keep_group[g] and low[g] == high[g]:
            value = float(low[g])
            collapsed[value] = collapsed.get(value, 0) + 1
    info = {"groups": n, "kept_groups": int(keep_group.sum()), "collapsed": collapsed}
    return FilterResult(keep=keep_group[index], info=info)
