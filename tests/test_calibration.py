"""Calibration metrics against naive references, and the constant-confidence counter-example."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from sandbox.eval.calibration import (
    auroc,
    brier_score,
    calibration_metrics,
    calibration_summary,
    expected_calibration_error,
    plot_reliability,
    reliability,
)

# confidences on a coarse grid (many ties, many exact bin edges) or anywhere in [0, 1]
grid_confidence = st.integers(0, 20).map(lambda k: k / 20)
any_confidence = st.floats(0.0, 1.0, allow_nan=False)
samples = st.lists(st.tuples(st.one_of(grid_confidence, any_confidence), st.booleans()), min_size=1, max_size=60)


def naive_ece(pairs, n_bins):
    """ECE by looping over bins and rows; a row's bin is the last b with q >= b/M (so q = 1 falls
    in the last bin)."""
    bins = [max(b for b in range(n_bins) if q >= b / n_bins) for q, _ in pairs]
    total = 0.0
    for b in range(n_bins):
        members = [pair for pair, row_bin in zip(pairs, bins) if row_bin == b]
        if members:
            conf = sum(q for q, _ in members) / len(members)
            acc = sum(c for _, c in members) / len(members)
            total += len(members) / len(pairs) * abs(acc - conf)
    return total


def pairwise_auroc(pairs):
    """AUROC by counting every (right, wrong) pair: 1 if the right one is more confident, ½ on a tie."""
    right = [q for q, c in pairs if c]
    wrong = [q for q, c in pairs if not c]
    if not right or not wrong:
        return math.nan
    score = sum(1.0 if r > w else 0.5 if r == w else 0.0 for r in right for w in wrong)
    return score / (len(right) * len(wrong))


@given(samples, st.integers(1, 15))
def test_ece_matches_a_naive_loop(pairs, n_bins):
    q = [p[0] for p in pairs]
    c = [p[1] for p in pairs]
    assert expected_calibration_error(q, c, n_bins) == pytest.approx(naive_ece(pairs, n_bins), abs=1e-12)


@given(samples)
def test_auroc_matches_pairwise_counting(pairs):
    q = [p[0] for p in pairs]
    c = [p[1] for p in pairs]
    expected = pairwise_auroc(pairs)
    got = auroc(q, c)
    assert (math.isnan(got) and math.isnan(expected)) or got == pytest.approx(expected, abs=1e-12)


@given(samples)
def test_brier_and_reliability_are_consistent(pairs):
    q = torch.tensor([p[0] for p in pairs], dtype=torch.float64)
    c = torch.tensor([p[1] for p in pairs], dtype=torch.float64)
    assert brier_score(q, c) == pytest.approx(float(((q - c) ** 2).mean()), abs=1e-12)
    diagram = reliability(q, c)
    assert int(diagram.counts.sum()) == len(pairs)
    filled = diagram.counts > 0
    assert torch.isnan(diagram.accuracy[~filled]).all()
    lo, hi = diagram.edges[:-1][filled], diagram.edges[1:][filled]
    assert ((diagram.confidence[filled] >= lo - 1e-12) & (diagram.confidence[filled] <= hi + 1e-12)).all()
    assert 0.0 <= expected_calibration_error(q, c) <= 1.0


def test_constant_confidence_can_have_zero_ece_and_no_discrimination():
    """The accuracy stated for every answer is perfectly calibrated yet ranks nothing; a model
    that is sure of its right answers and unsure of its wrong ones has AUROC 1."""
    correct = [True] * 30 + [False] * 70
    constant = calibration_summary([0.3] * 100, correct)
    assert constant["calib/ece"] == pytest.approx(0.0, abs=1e-12)
    assert constant["calib/auroc"] == 0.5
    discriminating = calibration_summary([0.9] * 30 + [0.1] * 70, correct)
    assert discriminating["calib/auroc"] == 1.0
    assert discriminating["calib/ece"] == pytest.approx(0.3 * 0.1 + 0.7 * 0.1)
    assert discriminating["calib/brier"] < constant["calib/brier"]


def test_metrics_from_texts_use_the_rows_with_a_confidence_line():
    texts = ["1+2=3\n#3\nconf: 0.8\n", "#4\nconf: 0.2", "#4\n", "#4\nconf: 0.5\nmore\n"]
    out = calibration_metrics(texts, [True, False, True, False])
    assert out["calib/parsed_fraction"] == 0.5
    assert out["calib/accuracy"] == 0.5
    assert out["calib/brier"] == pytest.approx((0.2**2 + 0.2**2) / 2)
    assert out["calib/auroc"] == 1.0
    assert calibration_metrics(["#4\n"], [True]) == {"calib/parsed_fraction": 0.0}


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        brier_score([1.5], [True])
    with pytest.raises(ValueError, match="entries"):
        auroc([0.5, 0.5], [True])


def test_plot_reliability_draws_one_curve_per_diagram_and_the_diagonal():
    correct = [True] * 30 + [False] * 70
    diagrams = {"constant": reliability([0.3] * 100, correct), "spread": reliability([0.9] * 30 + [0.1] * 70, correct)}
    ax = plot_reliability(diagrams)
    assert len(ax.lines) == 3
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["calibrated", "constant", "spread"]
