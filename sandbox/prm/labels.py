"""Step labellers by name, and how well each agrees with the oracle.

    LABELLERS[name](verdicts, mc) -> labels[row][step] in [0, 1]

``mc`` is the per-row ``MCValues`` (``mc_labels.mc_values``), needed by every labeller except
``oracle-valid`` / ``oracle-value``. Agreement with an oracle target is measured per step
(label ≥ 0.5 vs the oracle's 0/1): accuracy, and recall of the oracle's bad and good steps, plus
how often the first step labelled bad is the oracle's first bad step.
"""

from __future__ import annotations

from sandbox.prm.mc_labels import MCValues, mc_hard_labels, mc_soft_labels
from sandbox.prm.oracle_labels import oracle_labels
from sandbox.prm.rpe_labels import rpe_labels
from sandbox.prm.stepwiser_labels import abs_q_labels, rel_effective_labels, rel_ratio_labels
from toy_envs.base import Verdict, check

LABELLERS = {
    "oracle-valid": lambda verdicts, mc: oracle_labels(verdicts, "valid"),
    "oracle-value": lambda verdicts, mc: oracle_labels(verdicts, "value"),
    "mc-hard": lambda verdicts, mc: [mc_hard_labels(v) for v in mc],
    "mc-soft": lambda verdicts, mc: [mc_soft_labels(v) for v in mc],
    "rpe": lambda verdicts, mc: [rpe_labels(v.prompt_value, list(v.step_values)) for v in mc],
    "abs-q": lambda verdicts, mc: [abs_q_labels(list(v.step_values)) for v in mc],
    "rel-ratio": lambda verdicts, mc: [rel_ratio_labels(v.prompt_value, list(v.step_values)) for v in mc],
    "rel-effective": lambda verdicts, mc: [rel_effective_labels(v.prompt_value, list(v.step_values)) for v in mc],
}
"""Labeller name -> ``labeller(verdicts, mc_values)``; the ``oracle-*`` ones ignore ``mc_values``."""

NEEDS_MC = tuple(name for name in LABELLERS if not name.startswith("oracle"))


def step_labels(name: str, verdicts: list[Verdict], mc: list[MCValues] | None = None) -> list[list[float]]:
    """The labels of labeller ``name``; ``ConfigError`` for an unknown name or missing MC values."""
    check(name in LABELLERS, "labels", f"one of {sorted(LABELLERS)}", name)
    check(name not in NEEDS_MC or mc is not None, "mc", f"MC values for labeller {name!r}", mc)
    return LABELLERS[name](verdicts, mc)


def first_bad(labels: list[float]) -> int | None:
    """Index of the first label < 0.5, or ``None``."""
    return next((t for t, y in enumerate(labels) if y < 0.5), None)


def agreement(labels: list[list[float]], reference: list[list[float]]) -> dict[str, float]:
    """Step accuracy, recall of bad and of good reference steps, and first-bad-step agreement."""
    pairs = [(y >= 0.5, r >= 0.5) for row, ref in zip(labels, reference) for y, r in zip(row, ref)]
    bad = [y for y, r in pairs if not r]
    good = [y for y, r in pairs if r]
    return {
        "step_accuracy": sum(y == r for y, r in pairs) / max(len(pairs), 1),
        "bad_recall": sum(not y for y in bad) / max(len(bad), 1),
        "good_recall": sum(good) / max(len(good), 1),
        "first_bad_match": sum(first_bad(a) == first_bad(b) for a, b in zip(labels, reference)) / max(len(labels), 1),
    }
