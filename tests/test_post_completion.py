"""Post-completion self-evaluation (PCL): the grammar (never raises, nothing evaluated), the
oracle's evaluation against an independent regex-and-arithmetic check, demonstrations, what
inference returns, and the task field's checks."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toy_envs import ConfigError, make_task
from toy_envs.post_completion import MARKER, evaluation_text, inference_text, parse_evaluation

TASK = make_task("arithmetic", n_steps=3, operators="+-*", start_max=50, post_completion=True)
PLAIN = make_task("arithmetic", n_steps=3, operators="+-*", start_max=50)


@given(st.text(max_size=60))
def test_parsing_never_raises(text):
    evaluation = parse_evaluation(text)
    assert evaluation is None or evaluation.predicted_reward in (0, 1)
    assert isinstance(inference_text(text), str)


@given(st.text(alphabet="#~vx=01\n+-*23", max_size=40))
def test_grammar_like_text_never_raises_and_inference_text_is_a_prefix(text):
    parse_evaluation(text)
    assert text.startswith(inference_text(text))


def independent_evaluation(problem, text: str) -> str:
    """The evaluation line worked out with regular expressions and Python integers: per step line
    ``a<op>b=c`` the value a<op>b (``?`` when the line is not of that form) and ``v`` iff a is the
    previous stated result (the start first), <op>b the problem's next operation and c that value;
    reward 1 iff the answer line states the gold answer."""
    lines = text.split("\n")
    answer_at = next((i for i, line in enumerate(lines) if line.startswith("#")), len(lines))
    items, previous = [], problem.start
    for t, line in enumerate(lines[:answer_at]):
        m = re.fullmatch(r"(-?\d+)([-+*])(\d+)=(-?\d+)", line)
        ok, value = False, "?"
        if m:
            a, op, b, c = int(m[1]), m[2], int(m[3]), int(m[4])
            exact = a + b if op == "+" else a - b if op == "-" else a * b
            value = str(exact)
            ok = t < len(problem.ops) and a == previous and (op, b) == problem.ops[t] and c == exact
        items.append(value + ("v" if ok else "x"))
        previous = int(m[4]) if m else None
    gold = problem.start
    for op, b in problem.ops:
        gold = gold + b if op == "+" else gold - b if op == "-" else gold * b
    right = answer_at < len(lines) and lines[answer_at] == f"#{gold}"
    return "~\n" + ",".join(items) + f"={int(right)}\n"


def mutated(text: str, data) -> str:
    """``text`` with one digit changed (or left alone)."""
    digits = [i for i, c in enumerate(text) if c.isdigit()]
    if not digits or not data.draw(st.booleans()):
        return text
    at = data.draw(st.sampled_from(digits))
    return text[:at] + str((int(text[at]) + data.draw(st.integers(1, 9))) % 10) + text[at + 1 :]


@given(st.integers(0, 10_000), st.data())
def test_the_oracles_evaluation_agrees_with_an_independent_check(index, data):
    problem = TASK.problem(index)
    attempt = mutated(inference_text(TASK.gold_solution(problem)), data)
    assert evaluation_text(TASK, problem, attempt) == independent_evaluation(problem, attempt)


@given(st.integers(0, 10_000))
def test_demonstrations_end_with_the_gold_evaluation_and_are_otherwise_the_plain_tasks(index):
    problem = TASK.problem(index)
    gold = TASK.gold_solution(problem)
    plain = PLAIN.gold_solution(PLAIN.problem(index))
    values = [int(line.split("=")[1]) for line in plain.splitlines()[:3]]
    assert gold == plain + "~\n" + ",".join(f"{v}v" for v in values) + "=1\n"
    assert inference_text(gold) == plain
    evaluation = parse_evaluation(gold)
    assert evaluation.step_verdicts == (True, True, True) and evaluation.predicted_reward == 1
    assert evaluation.recomputed == tuple(values)
    verdict = TASK.score(problem, gold)
    assert verdict.correct and verdict.process_correct and verdict.parse_status == "ok"
    assert TASK.format_rubric(gold).well_formed


def test_the_evaluation_is_not_part_of_correctness_but_of_the_format():
    problem = TASK.problem(5)
    gold = TASK.gold_solution(problem)
    plain = inference_text(gold)
    claims_wrong = plain + "~\n1x,?v,-3v=0\n"
    assert TASK.score(problem, claims_wrong).correct and TASK.format_rubric(claims_wrong).well_formed
    assert parse_evaluation(claims_wrong) == ((1, None, -3), (False, True, True), 0)
    for broken in (plain, plain + "~\n", plain + "~\n1v,2v=2\n", plain + "1v=1\n", plain + "~\n1v=1\nmore",
                   plain + "~\nvv=1\n", plain + "~\n1v2v=1\n"):
        assert TASK.score(problem, broken).correct
        assert not TASK.format_rubric(broken).well_formed, broken
    assert PLAIN.format_rubric(plain).well_formed and not PLAIN.format_rubric(gold).well_formed


def test_inference_stops_at_the_marker_after_the_answer_only():
    assert inference_text("1+2=3\n#3\n~\n3v=1\n") == "1+2=3\n#3\n"
    assert inference_text("1+2=3\n#3\n~") == "1+2=3\n#3\n"
    assert inference_text("~\n1+2=3\n#3\n") == "~\n1+2=3\n#3\n"  # a marker before the answer is no stop
    assert inference_text("1+2=3\n#3\n") == "1+2=3\n#3\n"
    assert MARKER == "~"


def test_bad_fields_are_one_clear_error():
    with pytest.raises(ConfigError, match="post_completion"):
        make_task("arithmetic", post_completion="yes")
    with pytest.raises(ConfigError, match="post_completion.*confidence_line"):
        make_task("arithmetic", post_completion=True, confidence_line=True)
