"""SPRM: outcome pseudo-labels at step ends, the strict agreement mask (a tie at 0.5 agrees with
neither class), the released MetaStone-S1 class weights against a naive count (and the balanced
option), the geometric-mean score, and training through ``train_scorer(kind="sprm")``."""

import torch
from hypothesis import given
from hypothesis import strategies as st

from sandbox.prm.trajectory_score import trajectory_score
from sandbox.prm.discriminative import step_end_mask, step_scores, trajectory_scores
from sandbox.prm.sprm import agreement_mask, sprm_loss, sprm_targets, sprm_weights
from sandbox.testing.strategies import rollouts_batches
from toy_envs import make_task

TASK = make_task("arithmetic", n_steps=2)
PROBS = st.sampled_from([0.0, 0.05, 0.3, 0.4999, 0.5, 0.5001, 0.7, 0.95, 1.0])


@st.composite
def step_batches(draw, max_rows: int = 6, max_width: int = 8):
    """(probs, targets, where) [B, T]: predictions, 0/1 pseudo-labels, and which cells are steps."""
    rows, width = draw(st.integers(1, max_rows)), draw(st.integers(1, max_width))
    cells = rows * width
    probs = torch.tensor(draw(st.lists(PROBS, min_size=cells, max_size=cells))).view(rows, width)
    targets = torch.tensor(draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=cells, max_size=cells))).view(rows, width)
    where = torch.tensor(draw(st.lists(st.booleans(), min_size=cells, max_size=cells))).view(rows, width)
    return probs, targets, where


@given(batch=step_batches(), weighting=st.sampled_from(["released", "balanced"]))
def test_weight_is_positive_exactly_where_prediction_and_pseudo_label_strictly_agree(batch, weighting):
    probs, targets, where = batch
    weights = sprm_weights(probs, targets, where, weighting)
    agree = ((probs > 0.5) & (targets == 1)) | ((probs < 0.5) & (targets == 0))  # 0.5 agrees with neither
    assert (weights[~agree | ~where] == 0).all()
    assert (weights[where & agree] > 0).all()
    assert torch.equal(agreement_mask(probs, targets), agree)


def naive_released_weights(probs, targets, where) -> list[list[float]]:
    """MetaStone-S1's released weights, counted cell by cell: P = agreeing positives + 1,
    N = agreeing negatives + 1; positives 1.5 N / (P + N), negatives P / (P + N)."""
    rows, width = probs.shape
    cells = [(i, t) for i in range(rows) for t in range(width) if where[i, t]]
    agree = {c: (probs[c] > 0.5 and targets[c] == 1) or (probs[c] < 0.5 and targets[c] == 0) for c in cells}
    p = 1 + sum(1 for c in cells if agree[c] and targets[c] == 1)
    n = 1 + sum(1 for c in cells if agree[c] and targets[c] == 0)
    out = [[0.0] * width for _ in range(rows)]
    for c in cells:
        if agree[c]:
            out[c[0]][c[1]] = 1.5 * n / (p + n) if targets[c] == 1 else p / (p + n)
    return out


@given(batch=step_batches())
def test_released_class_weights_match_a_naive_count(batch):
    probs, targets, where = batch
    assert torch.allclose(sprm_weights(probs, targets, where), torch.tensor(naive_released_weights(probs, targets, where)))


def test_a_tie_at_one_half_trains_neither_way():
    """The earlier code counted a score of exactly 0.5 as agreeing with both classes."""
    probs, targets, where = torch.tensor([[0.5, 0.5]]), torch.tensor([[1.0, 0.0]]), torch.tensor([[True, True]])
    for weighting in ("released", "balanced"):
        assert (sprm_weights(probs, targets, where, weighting) == 0).all()


@given(batch=step_batches())
def test_balanced_class_weights_balance(batch):
    probs, targets, where = batch
    weights = sprm_weights(probs, targets, where, "balanced")
    positive, negative = weights[targets == 1].sum(), weights[targets == 0].sum()
    contributing = int((weights > 0).sum())
    if positive > 0 and negative > 0:
        assert torch.isclose(positive, negative)
        assert torch.isclose(positive + negative, torch.tensor(float(contributing)))  # mean weight 1
    else:  # one class only: plain weight 1 on it
        assert set(weights[weights > 0].tolist()) <= {1.0}


@given(scores=st.lists(st.floats(1e-6, 1.0), min_size=1, max_size=12))
def test_geometric_mean_score_lies_between_the_min_and_max_step_score(scores):
    score = trajectory_score(scores, "geo_mean")
    assert min(scores) - 1e-9 <= score <= max(scores) + 1e-9


@given(rollouts=rollouts_batches(TASK))
def test_every_step_end_carries_the_rows_outcome(rollouts):
    where, targets = sprm_targets(rollouts)
    assert torch.equal(where, step_end_mask(rollouts))
    for row in range(len(rollouts)):
        assert targets[row][where[row]].tolist() == [float(rollouts.verdicts[row].correct)] * int(where[row].sum())
        assert (targets[row][~where[row]] == 0).all()


def test_loss_ignores_disagreeing_and_tied_steps_and_is_zero_with_none_contributing():
    logits = torch.tensor([[2.0, -2.0, 0.0, -1.0]], requires_grad=True)
    targets = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    where = torch.tensor([[True, True, True, True]])
    loss, fraction = sprm_loss(logits, targets, where)
    loss.backward()
    assert logits.grad[0, 1] == 0 and logits.grad[0, 2] == 0  # disagrees; ties
    assert logits.grad[0, 0] != 0 and logits.grad[0, 3] != 0
    assert fraction == 2 / 4
    none, fraction = sprm_loss(torch.tensor([[2.0]], requires_grad=True), torch.tensor([[0.0]]), torch.tensor([[True]]))
    assert none.item() == 0 and fraction == 0


def test_sprm_trains_through_the_prm_trainer_and_scores_by_geometric_mean(warmstart_tiny):
    from sandbox.model.policy import TinyPolicy
    from sandbox.train.prm_train import PRMTrainConfig, sample_solutions, train_scorer

    model, task, _ = warmstart_tiny
    cfg = PRMTrainConfig(kind="sprm", n_problems=8, group_size=2, steps=3, batch_size=8)
    solutions = sample_solutions(TinyPolicy(model), task, cfg)
    scorer, info = train_scorer(model, solutions, None, cfg)
    assert info["prm/final_loss"] >= 0
    scores = step_scores(scorer, solutions)
    assert all(s != 0.5 for row in scores for s in row)  # a random head: no step ties at 0.5
    assert trajectory_scores(scorer, solutions, "geo_mean") == [trajectory_score(s, "geo_mean") for s in scores]
