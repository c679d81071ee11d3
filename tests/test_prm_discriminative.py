"""Discriminative step scorer: targets at step ends, scores in step order, save/load round trip."""

import pytest
import torch
from hypothesis import given

from sandbox.model.model import ModelConfig, TinyLlama
from sandbox.model.tokenizer import CharTokenizer
from sandbox.prm.discriminative import StepScorer, load_scorer, prm_targets, save_scorer, step_end_mask, step_scores, trajectory_scores
from sandbox.prm.oracle_labels import oracle_labels
from sandbox.prm.orm import orm_targets
from sandbox.rollout.rollouts import Rollouts
from sandbox.testing.strategies import rollouts_batches
from toy_envs import make_task

TASK = make_task("arithmetic", n_steps=2)


def tiny_model() -> TinyLlama:
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=CharTokenizer().vocab_size, d_model=32, n_layers=1, n_heads=2, n_kv_heads=2, d_ff=64, max_seq_len=128)
    return TinyLlama(cfg)


@given(rollouts=rollouts_batches(TASK))
def test_targets_sit_at_step_ends_and_match_the_labels(rollouts):
    labels = oracle_labels(rollouts.verdicts)
    where, targets = prm_targets(rollouts, labels)
    assert (where <= rollouts.response_mask).all()
    for row in range(len(rollouts)):
        assert targets[row][where[row]].tolist() == labels[row]
        assert int(where[row].sum()) == rollouts.verdicts[row].n_steps
    where, targets = orm_targets(rollouts)
    assert (where.sum(1) == 1).all()
    assert targets[where].tolist() == rollouts.correct.tolist()


def test_a_fresh_head_scores_one_half_and_a_saved_scorer_scores_the_same(tmp_path):
    problems = [TASK.problem(i) for i in range(3)]
    rollouts = Rollouts.from_texts(TASK, problems, [TASK.gold_solution(p) for p in problems])
    scorer = StepScorer.from_model(tiny_model())
    assert all(s == 0.5 for row in step_scores(scorer, rollouts) for s in row)
    with torch.no_grad():
        scorer.head.weight.normal_()
        scorer.head.bias.fill_(0.3)
    save_scorer(tmp_path / "prm", scorer, {"note": 1})
    loaded, state = load_scorer(tmp_path / "prm")
    assert state["note"] == 1
    assert step_scores(loaded, rollouts) == step_scores(scorer, rollouts)
    assert len(trajectory_scores(loaded, rollouts, "geo_mean")) == 3
    assert [len(s) for s in step_scores(loaded, rollouts)] == [int(n) for n in step_end_mask(rollouts).sum(1)]


def test_label_count_mismatch_is_an_error():
    problem = TASK.problem(0)
    rollouts = Rollouts.from_texts(TASK, [problem], [TASK.gold_solution(problem)])
    with pytest.raises(ValueError, match="labels for"):
        prm_targets(rollouts, [[1.0]])
