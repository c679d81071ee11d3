"""Trajectory scores from step scores s_1..s_n ∈ (0, 1).

    min:       min_t s_t                 (a chain is as good as its worst step)
    product:   Π_t s_t                   (probability every step is right, steps independent)
    geo_mean:  (Π_t s_t)^(1/n)           (product without the length penalty)
    last:      s_n                       (the score after the final step)

"Let's Verify Step by Step" (Lightman et al. 2023, arXiv 2305.20050) scores solutions by the
product; Math-Shepherd (Wang et al. 2023, arXiv 2312.08935) by the minimum; MetaStone's SPRM by
the geometric mean. A solution with no step gets 0.
"""

from __future__ import annotations

import math

from toy_envs.base import check

TRAJECTORY_SCORES = ("min", "product", "geo_mean", "last")
"""The ways step scores reduce to a trajectory score (not the policy loss's token reduction,
``RLConfig.aggregation``)."""


def trajectory_score(step_scores: list[float], how: str = "min") -> float:
    """One trajectory score from one solution's step scores."""
    check(how in TRAJECTORY_SCORES, "how", f"one of {TRAJECTORY_SCORES}", how)
    if not step_scores:
        return 0.0
    if how == "min":
        return min(step_scores)
    if how == "last":
        return step_scores[-1]
    if min(step_scores) <= 0:
        return 0.0
    log_sum = sum(math.log(s) for s in step_scores)
    return math.exp(log_sum if how == "product" else log_sum / len(step_scores))
