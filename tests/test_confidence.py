"""Confidence lines: the grammar (never raises, no eval), demonstrations (uniform q keyed by
problem) and how the line sits in the tasks (answer step, rubric, correctness)."""

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toy_envs import ConfigError, make_task
from toy_envs.confidence import CONFIDENCE_LEVELS, demonstration_confidence
from toy_envs.parsing import format_confidence_line, parse_confidence

TASKS = [
    make_task("arithmetic", n_steps=2, operators="+-", start_max=50, confidence_line=True),
    make_task("tree", depth=2, branching=2, confidence_line=True),
]


@given(st.text(max_size=60))
def test_parsing_never_raises_and_returns_a_probability_or_none(text):
    q = parse_confidence(text)
    assert q is None or 0.0 <= q <= 1.0


@given(st.text(alphabet="conf: 0123456789.#\n-", max_size=40))
def test_parsing_grammar_like_text_never_raises(text):
    q = parse_confidence(text)
    assert q is None or 0.0 <= q <= 1.0


@given(st.integers(0, 1000), st.sampled_from(["#12\n", "3+4=7\n#7\n", "#-3"]))
def test_stated_q_round_trips(thousandths, answer):
    q = thousandths / 1000
    text = answer if answer.endswith("\n") else answer + "\n"
    assert parse_confidence(text + f"conf: {q:.3f}\n") == pytest.approx(q)
    assert parse_confidence(text + format_confidence_line(round(q, 1))) == pytest.approx(round(q, 1))


@pytest.mark.parametrize(
    "trailer, expected",
    [("conf: 0.7\n", 0.7), ("conf: 0.7", 0.7), ("conf: 1\n", 1.0), ("conf: 0\n", 0.0), ("conf: 1.000", 1.0),
     ("conf: 0.125\n", 0.125), ("conf: 1.5\n", None), ("conf: 0.1234\n", None), ("conf: .5\n", None),
     ("conf:0.5\n", None), ("conf: 0.5\n\n", None), ("conf: 0.5\n#3\n", None), ("", None), ("conf: -0.1\n", None),
     ("conf: 0.5 \n", None), ("Conf: 0.5\n", None), ("conf: 1e-1\n", None)],
)
def test_grammar_accepts_exactly_one_confidence_line_after_the_answer(trailer, expected):
    assert parse_confidence("1+2=3\n#3\n" + trailer) == expected


def test_no_answer_line_means_no_confidence():
    assert parse_confidence("1+2=3\nconf: 0.5\n") is None
    assert parse_confidence("") is None


def test_demonstrated_q_is_uniform_on_the_grid_and_keyed_by_problem():
    draws = [demonstration_confidence("arithmetic", 0, "train", i) for i in range(11000)]
    counts = Counter(draws)
    assert sorted(counts) == [k / CONFIDENCE_LEVELS for k in range(CONFIDENCE_LEVELS + 1)]
    assert all(abs(n - 1000) < 120 for n in counts.values()), counts  # ±3.8 σ of Binomial(11000, 1/11)
    assert draws[:50] == [demonstration_confidence("arithmetic", 0, "train", i) for i in range(50)]
    assert draws[:50] != [demonstration_confidence("arithmetic", 1, "train", i) for i in range(50)]


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.name)
def test_gold_ends_with_its_confidence_line_inside_the_answer_step(task):
    for index in range(20):
        problem = task.problem(index)
        gold = task.gold_solution(problem)
        q = demonstration_confidence(task.name, task.seed, "train", index)
        assert gold.endswith(format_confidence_line(q)) and parse_confidence(gold) == q
        steps = task.segment(gold)
        assert steps[-1].kind == "answer" and steps[-1].text.endswith(format_confidence_line(q))
        verdict = task.score(problem, gold)
        assert verdict.correct and verdict.parse_status == "ok" and verdict.first_error is None
        assert task.format_rubric(gold).well_formed
        bare = gold[: -len(format_confidence_line(q))]
        assert task.score(problem, bare).correct  # correctness ignores the confidence line
        assert not task.format_rubric(bare).well_formed
        assert not task.format_rubric(bare + "conf: 2\n").well_formed


@pytest.mark.parametrize("name", ["arithmetic", "tree"])
def test_plain_tasks_are_unchanged(name):
    task = make_task(name)
    gold = task.gold_solution(task.problem(0))
    assert parse_confidence(gold) is None
    assert task.format_rubric(gold).well_formed
    assert not task.format_rubric(gold + "conf: 0.5\n").well_formed


@pytest.mark.parametrize("name", ["arithmetic", "tree"])
def test_confidence_line_must_be_a_bool(name):
    with pytest.raises(ConfigError, match="confidence_line"):
        make_task(name, confidence_line=1)
