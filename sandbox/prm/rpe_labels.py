"""Relative Progress Estimation (RPE) step labels.

    P_t = MC(s_t, a_t) / MC(s_t),        MC(s_t) = MC(s_{t-1}, a_{t-1}), MC(s_1) = MC from the prompt
    y_t = 1[P_t ≥ ε]   (ε = 0.8 by default),   and y_t = 0 for every step at or after the first
          state whose MC estimate is 0

From "GenPRM: Scaling Test-Time Compute of Process Reward Models via Generative Reasoning"
(Zhao et al. 2025, arXiv 2504.00891), section 3: a step is good when it keeps (most of) the
success probability of the state it started from, rather than when some completion of it
succeeds. MC values come from ``mc_labels.mc_values``. When the prompt's own estimate is 0,
P_1 is undefined and every step is labelled 0 (no progress can be measured from a state the
policy never solves). Only the ratio enters, so the labels are invariant to scaling all MC
values by the same positive factor.
"""

from __future__ import annotations

from toy_envs.base import check

DEFAULT_EPSILON = 0.8


def rpe_labels(prompt_value: float, step_values: list[float], epsilon: float = DEFAULT_EPSILON) -> list[float]:
    """Labels y_t for one solution from its prompt MC value and per-step MC values."""
    check(0 < epsilon, "epsilon", "> 0", epsilon)
    labels = []
    before = prompt_value
    for value in step_values:
        if before <= 0:  # at or after the first zero estimate
            labels.append(0.0)
        else:
            labels.append(float(value / before >= epsilon))
        before = value if before > 0 else 0.0
    return labels
