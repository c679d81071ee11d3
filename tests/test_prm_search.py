"""Best-of-N reranking: an oracle reranker reaches pass@N, ties go to the earliest sample."""

import random

from hypothesis import given
from hypothesis import strategies as st

from sandbox.eval.prm_search import best_of_n, pass_at, rerank_accuracy
from sandbox.rollout.rollouts import Rollouts
from toy_envs import make_task

TASK = make_task("arithmetic", n_steps=2)


@given(correct=st.lists(st.lists(st.booleans(), min_size=4, max_size=4), min_size=1, max_size=10), n=st.integers(1, 4))
def test_an_oracle_reranker_reaches_pass_at_n_and_a_constant_one_picks_the_first(correct, n):
    oracle = [[float(c) for c in row] for row in correct]
    assert rerank_accuracy(correct, oracle, n) == pass_at(correct, n)
    constant = [[0.5] * 4 for _ in correct]
    assert rerank_accuracy(correct, constant, n) == sum(row[0] for row in correct) / len(correct)


@given(seed=st.integers(0, 10**6), n=st.integers(1, 4))
def test_reranked_accuracy_matches_a_brute_force_pick(seed, n):
    rng = random.Random(seed)
    correct = [[rng.random() < 0.4 for _ in range(4)] for _ in range(6)]
    scores = [[rng.choice([0.1, 0.5, 0.9]) for _ in range(4)] for _ in range(6)]
    expected = 0
    for row_c, row_s in zip(correct, scores):
        top = max(row_s[:n])
        expected += row_c[row_s.index(top)]  # index() finds the earliest maximum
    assert rerank_accuracy(correct, scores, n) == expected / 6


def test_best_of_n_on_rollouts_groups_rows_by_problem():
    problems = [TASK.problem(i) for i in range(2) for _ in range(2)]
    texts = ["#0\n", TASK.gold_solution(problems[0]), TASK.gold_solution(problems[2]), "#0\n"]
    rollouts = Rollouts.from_texts(TASK, problems, texts)
    out = best_of_n(rollouts, [0.1, 0.9, 0.2, 0.8], n_max=2, ns=[1, 2])
    assert out[1] == {"accuracy": 0.5, "pass": 0.5}
    assert out[2] == {"accuracy": 0.5, "pass": 1.0}
