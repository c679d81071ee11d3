"""Toy ProcessBench: first-error prediction, its scores, thresholds and the answer-check baseline."""

import random

from hypothesis import given
from hypothesis import strategies as st

from sandbox.eval.processbench import (
    ProcessBench,
    balanced_rows,
    build_processbench,
    choose_threshold,
    evaluate_answer_check,
    first_error,
    predict_first_error,
    processbench_scores,
)
from sandbox.rollout.rollouts import Rollouts
from toy_envs import make_task
from toy_envs.ops import apply_op, format_op

TRUTH = st.lists(st.one_of(st.none(), st.integers(0, 4)), min_size=1, max_size=30)


def brute_force_scores(predicted, truth):
    n_err = n_err_hit = n_corr = n_corr_hit = 0
    for p, t in zip(predicted, truth):
        if t is None:
            n_corr += 1
            n_corr_hit += p is None
        else:
            n_err += 1
            n_err_hit += p == t
    a = n_err_hit / n_err if n_err else 0.0
    b = n_corr_hit / n_corr if n_corr else 0.0
    return a, b, (0.0 if a + b == 0 else 2 * a * b / (a + b))


@given(truth=TRUTH, seed=st.integers(0, 10**6))
def test_scorer_agrees_with_a_brute_force_reference_on_random_predictions(truth, seed):
    rng = random.Random(seed)
    predicted = [rng.choice([None, 0, 1, 2, 3, 4]) for _ in truth]
    out = processbench_scores(predicted, truth)
    a, b, f1 = brute_force_scores(predicted, truth)
    assert (out["acc_err"], out["acc_corr"]) == (a, b)
    assert abs(out["f1"] - f1) < 1e-12


@given(truth=TRUTH, seed=st.integers(0, 10**6))
def test_chosen_threshold_is_optimal_over_a_brute_force_grid(truth, seed):
    rng = random.Random(seed)
    scores = [[rng.choice([0.1, 0.3, 0.5, 0.7, 0.9]) for _ in range(5)] for _ in truth]
    tau = choose_threshold(scores, truth)
    best = processbench_scores([predict_first_error(s, tau) for s in scores], truth)["f1"]
    for grid in [i / 20 for i in range(22)]:
        f1 = processbench_scores([predict_first_error(s, grid) for s in scores], truth)["f1"]
        assert f1 <= best + 1e-12


def test_prediction_is_the_first_step_below_the_threshold():
    assert predict_first_error([0.9, 0.4, 0.1], 0.5) == 1
    assert predict_first_error([0.9, 0.6], 0.5) is None
    assert predict_first_error([], 0.5) is None


def test_first_dead_end_can_come_before_the_first_invalid_step_on_tree_puzzles():
    task = make_task("tree", depth=3, branching=3, dead_end_fraction=0.6)
    for index in range(50):
        problem = task.problem(index)
        for op in problem.levels[0]:
            value = apply_op(problem.start, op)
            verdict = task.score(problem, f"{problem.start}{format_op(op)}={value}\n#x\n")
            if verdict.step_valid[0] and not verdict.step_value[0]:
                assert first_error(verdict, "dead_end") == 0
                assert first_error(verdict, "invalid") == 1
                return
    raise AssertionError("no valid dead-end first step found in 50 problems")


def test_balanced_rows_take_equal_numbers_of_each_class():
    truth = [None, 0, 1, None, 2, 2, None]
    rows = balanced_rows(truth, 10)
    assert sum(truth[i] is None for i in rows) == sum(truth[i] is not None for i in rows) == 3


def test_answer_check_baseline_uses_the_most_frequent_validation_position():
    task = make_task("arithmetic", n_steps=2)
    problems = [task.problem(i) for i in range(4)]
    gold = [task.gold_solution(p) for p in problems]
    wrong_first = ["1+1=3\n#3\n"] * 4
    val = Rollouts.from_texts(task, problems[:3], [wrong_first[0], wrong_first[1], gold[2]])
    test = Rollouts.from_texts(task, problems[3:] * 2, [gold[3], wrong_first[3]])
    bench = ProcessBench(val, [0, 0, None], test, [None, 0], "invalid")
    out = evaluate_answer_check(bench)
    assert out["position"] == 0 and out["f1"] == 1.0


def test_a_benchmark_too_small_to_balance_is_refused_naming_the_field(warmstart_tiny):
    import pytest

    from sandbox.model.policy import TinyPolicy
    from toy_envs.base import ConfigError

    model, task, _ = warmstart_tiny
    with pytest.raises(ConfigError, match="n_problems"):  # one solution per half: never both kinds
        build_processbench(TinyPolicy(model), task, n_problems=2, group_size=1)
