"""Calibration of stated confidence: accuracy, ECE, Brier score, AUROC, reliability diagrams.

For N responses with confidence q_i ∈ [0, 1] and correctness c_i ∈ {0, 1}:

    accuracy = (1/N) Σ_i c_i
    Brier    = (1/N) Σ_i (q_i − c_i)²
    ECE      = Σ_b (n_b / N) · | acc_b − conf_b |          M equal-width bins over [0, 1]
    AUROC    = P(q_i > q_j | c_i = 1, c_j = 0) + ½ P(q_i = q_j | c_i = 1, c_j = 0)

Bins: bin b (0-based) holds q ∈ [b/M, (b+1)/M), the last bin also holds q = 1; acc_b and
conf_b are the mean correctness and mean confidence of the n_b responses in it, and empty bins
contribute nothing. ECE measures whether the stated numbers match frequencies; AUROC measures
whether confidence *ranks* right answers above wrong ones. They are different: a constant q
equal to the accuracy has ECE 0 but AUROC ½ (no discrimination). AUROC is the Mann–Whitney
statistic (ties count ½), NaN when all responses are right or all wrong.

``calibration_metrics(texts, correct)`` parses each response's confidence line
(``toy_envs.parsing.parse_confidence``) and computes the metrics over the responses that have
one; ``calib/parsed_fraction`` says how many did. Evaluation logs them for every task with
``confidence_line`` set (``sandbox.eval.accuracy.evaluate_accuracy``). ``plot_reliability``
draws reliability diagrams (accuracy per confidence bin against the diagonal).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from toy_envs.parsing import parse_confidence

if TYPE_CHECKING:  # matplotlib is imported where a diagram is drawn: every training process imports this module
    from matplotlib.axes import Axes

N_BINS = 10
"""Equal-width bins of the ECE and the reliability diagram."""


def _as_pair(confidence, correct) -> tuple[torch.Tensor, torch.Tensor]:
    q = torch.as_tensor(confidence, dtype=torch.float64).flatten()
    c = torch.as_tensor(correct, dtype=torch.float64).flatten()
    if q.shape != c.shape:
        raise ValueError(f"confidence has {q.numel()} entries, correct has {c.numel()}")
    if q.numel() and not bool(((q >= 0) & (q <= 1)).all()):
        raise ValueError("confidence values must lie in [0, 1]")
    return q, c


def bin_index(confidence, n_bins: int = N_BINS) -> torch.Tensor:
    """[N] long: the equal-width bin of each q (q = 1 goes to the last bin)."""
    q = torch.as_tensor(confidence, dtype=torch.float64)
    return (q * n_bins).floor().long().clamp(0, n_bins - 1)


@dataclass(frozen=True)
class Reliability:
    """A reliability diagram's data: per equal-width bin, its edges, count, mean confidence and
    accuracy (NaN for an empty bin)."""

    edges: torch.Tensor
    """[M + 1] bin edges 0, 1/M, …, 1."""
    counts: torch.Tensor
    """[M] responses per bin."""
    confidence: torch.Tensor
    """[M] mean stated confidence per bin."""
    accuracy: torch.Tensor
    """[M] fraction right per bin."""


def reliability(confidence, correct, n_bins: int = N_BINS) -> Reliability:
    """Per-bin counts, mean confidence and accuracy."""
    q, c = _as_pair(confidence, correct)
    b = bin_index(q, n_bins)
    counts = torch.bincount(b, minlength=n_bins).double()
    q_sum = torch.bincount(b, weights=q, minlength=n_bins)
    c_sum = torch.bincount(b, weights=c, minlength=n_bins)
    nan = torch.full((n_bins,), float("nan"), dtype=torch.float64)
    filled = counts > 0
    return Reliability(
        edges=torch.linspace(0, 1, n_bins + 1, dtype=torch.float64),
        counts=counts,
        confidence=torch.where(filled, q_sum / counts.clamp(min=1), nan),
        accuracy=torch.where(filled, c_sum / counts.clamp(min=1), nan),
    )


def expected_calibration_error(confidence, correct, n_bins: int = N_BINS) -> float:
    """Σ_b (n_b/N)|acc_b − conf_b| over equal-width bins; 0 for no responses."""
    diagram = reliability(confidence, correct, n_bins)
    n = diagram.counts.sum()
    if n == 0:
        return 0.0
    gap = (diagram.accuracy - diagram.confidence).abs().nan_to_num(0.0)
    return float((diagram.counts / n * gap).sum())


def brier_score(confidence, correct) -> float:
    """(1/N) Σ (q − c)²; 0 for no responses."""
    q, c = _as_pair(confidence, correct)
    return float(((q - c) ** 2).mean()) if q.numel() else 0.0


def auroc(confidence, correct) -> float:
    """The chance a random right response states a higher q than a random wrong one (ties ½),
    from average ranks (Mann–Whitney U); NaN without both classes."""
    q, c = _as_pair(confidence, correct)
    n_pos, n_neg = int(c.sum()), int((1 - c).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    values, inverse, counts = torch.unique(q, return_inverse=True, return_counts=True)
    first_rank = torch.cumsum(counts, 0) - counts + 1
    mean_rank = first_rank.double() + (counts.double() - 1) / 2
    pos_rank_sum = float(mean_rank[inverse][c == 1].sum())
    return (pos_rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def calibration_summary(confidence, correct, n_bins: int = N_BINS) -> dict:
    """``calib/accuracy``, ``calib/confidence_mean``, ``calib/ece``, ``calib/brier``, ``calib/auroc``."""
    q, c = _as_pair(confidence, correct)
    return {
        "calib/accuracy": float(c.mean()),
        "calib/confidence_mean": float(q.mean()),
        "calib/ece": expected_calibration_error(q, c, n_bins),
        "calib/brier": brier_score(q, c),
        "calib/auroc": auroc(q, c),
    }


def calibration_metrics(texts: Sequence[str], correct: Sequence[bool], n_bins: int = N_BINS) -> dict:
    """``calib/parsed_fraction`` and, over the responses whose confidence line parses,
    ``calibration_summary`` (only the fraction when none parses)."""
    stated = [(parse_confidence(text), bool(ok)) for text, ok in zip(texts, correct, strict=True)]
    pairs = [(q, ok) for q, ok in stated if q is not None]
    out = {"calib/parsed_fraction": len(pairs) / len(texts) if texts else 0.0}
    if pairs:
        out.update(calibration_summary([q for q, _ in pairs], [ok for _, ok in pairs], n_bins))
    return out


def plot_reliability(diagrams: Mapping[str, Reliability], ax: Axes | None = None, min_count: int = 1) -> Axes:
    """Reliability diagrams on one axes: for each named ``Reliability``, accuracy against mean
    confidence per bin (marker area ∝ bin count; bins with fewer than ``min_count`` responses
    left out), and the diagonal a calibrated model lies on."""
    if ax is None:
        from matplotlib.figure import Figure

        ax = Figure(figsize=(4.5, 4.5)).add_subplot()
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="calibrated")
    for name, diagram in diagrams.items():
        shown = diagram.counts >= max(1, min_count)
        sizes = 20 + 200 * diagram.counts[shown] / diagram.counts.sum().clamp(min=1)
        x, y = diagram.confidence[shown].tolist(), diagram.accuracy[shown].tolist()
        (line,) = ax.plot(x, y, linewidth=1, label=name)
        ax.scatter(x, y, s=sizes.tolist(), color=line.get_color(), alpha=0.7)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("stated confidence (bin mean)")
    ax.set_ylabel("accuracy in bin")
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    return ax
