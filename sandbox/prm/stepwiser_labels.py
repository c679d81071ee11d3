"""StepWiser's three rules that turn Monte-Carlo Q-values into binary chunk labels.

With Q_i the MC success rate after step i (``mc_labels.mc_values``) and Q_0 that of the prompt:

    Abs-Q:          y_i = 1[Q_i > 0]
    Rel-Ratio:      y_i = 1[Q_i / Q_{i-1} > γ]                         (γ = 0.8 here; 0 if Q_{i-1} = 0)
    Rel-Effective:  y_i = 1[Q_i + α · A^μ_i > 0],  A^μ_i = Q^μ_i − Q^μ_{i-1},  Q^μ = 1 − (1 − Q)^n

Q^μ is the success rate of a best-of-n prover built from the policy, so A^μ is the progress a
step makes for that prover (the "effective reward" of Setlur et al. 2024, "Rewarding Progress",
arXiv 2410.08146). From "StepWiser: Stepwise Generative Judges for Wiser Reasoning" (Xiong et al.
2025, arXiv 2508.19229), section 3. The defaults γ = 0.8, α = 1, n = 4 are this sandbox's
choice. StepWiser segments its own "chunks of thought"; here a chunk is the task's step line.
"""

from __future__ import annotations

from toy_envs.base import check

DEFAULT_GAMMA = 0.8
DEFAULT_ALPHA = 1.0
DEFAULT_PROVER_N = 4


def abs_q_labels(step_values: list[float]) -> list[float]:
    """1[Q_i > 0] per step."""
    return [float(q > 0) for q in step_values]


def rel_ratio_labels(prompt_value: float, step_values: list[float], gamma: float = DEFAULT_GAMMA) -> list[float]:
    """1[Q_i / Q_{i-1} > γ] per step (0 where Q_{i-1} = 0)."""
    check(gamma >= 0, "gamma", ">= 0", gamma)
    previous = [prompt_value, *step_values[:-1]]
    return [float(before > 0 and q / before > gamma) for before, q in zip(previous, step_values)]


def prover_value(q: float, n: int) -> float:
    """Q^μ = 1 − (1 − Q)^n: the success rate of best-of-n completions."""
    return 1.0 - (1.0 - q) ** n


def rel_effective_labels(
    prompt_value: float, step_values: list[float], alpha: float = DEFAULT_ALPHA, n: int = DEFAULT_PROVER_N
) -> list[float]:
    """1[Q_i + α (Q^μ_i − Q^μ_{i-1}) > 0] per step."""
    check(alpha >= 0, "alpha", ">= 0", alpha)
    check(isinstance(n, int) and n >= 1, "n", "an integer >= 1", n)
    previous = [prompt_value, *step_values[:-1]]
    return [
        float(q + alpha * (prover_value(q, n) - prover_value(before, n)) > 0)
        for before, q in zip(previous, step_values)
    ]
