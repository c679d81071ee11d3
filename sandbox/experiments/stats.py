"""Confidence intervals over seeds: Student's t, written out (no scipy).

    mean ± t(0.975, n − 1) · s / √n          s the sample standard deviation (n − 1)

    F_t(x; ν) = 1 − ½ · I_{ν/(ν+x²)}(ν/2, ½)      for x >= 0 (symmetric below 0)

with I the regularized incomplete beta function, evaluated by its continued fraction (modified
Lentz; Press et al., Numerical Recipes, §6.4), and the quantile found by bisection on F_t.
"""

from __future__ import annotations

import math


def incomplete_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b) for 0 <= x <= 1, a, b > 0."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x > (a + 1) / (a + b + 2):  # the fraction converges fast below this point: use the symmetry
        return 1.0 - incomplete_beta(1.0 - x, b, a)
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    f = d
    for m in range(1, 500):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            f *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return front * f / a


def t_cdf(x: float, df: float) -> float:
    """P(T <= x) for Student's t with ``df`` degrees of freedom."""
    tail = 0.5 * incomplete_beta(df / (df + x * x), df / 2, 0.5)
    return 1.0 - tail if x >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """x with P(T <= x) = p (0 < p < 1), to about 1e-12."""
    if not 0.0 < p < 1.0 or df <= 0:
        raise ValueError(f"t_quantile needs 0 < p < 1 and df > 0 (got p={p}, df={df})")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-13 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


def mean_ci(values: list[float], level: float = 0.95) -> dict:
    """{"n", "mean", "sd", "half_width", "ci": [lo, hi]} of ``values`` over seeds (t-interval);
    the interval is None for fewer than two values."""
    n = len(values)
    if n == 0:
        return {"n": 0, "mean": None, "sd": None, "half_width": None, "ci": None}
    mean = math.fsum(values) / n
    if n < 2:
        return {"n": 1, "mean": mean, "sd": None, "half_width": None, "ci": None}
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = t_quantile(0.5 + level / 2, n - 1) * sd / math.sqrt(n)
    return {"n": n, "mean": mean, "sd": sd, "half_width": half, "ci": [mean - half, mean + half]}


def interval(stats: dict | None, signed: bool = False) -> str:
    if not stats or stats["mean"] is None:
        return "n/a"
    mean = f"{stats['mean']:+.3f}" if signed else f"{stats['mean']:.3f}"
    return mean if stats["ci"] is None else f"{mean} [{stats['ci'][0]:+.3f}, {stats['ci'][1]:+.3f}]" if signed else \
        f"{mean} [{stats['ci'][0]:.3f}, {stats['ci'][1]:.3f}]"
