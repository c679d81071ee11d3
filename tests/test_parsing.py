from hypothesis import given
from hypothesis import strategies as st

from toy_envs.base import Step
from toy_envs.parsing import (
    StepLine,
    format_rubric,
    parse_int,
    parse_int_list,
    parse_op_list,
    parse_status,
    parse_step_line,
    segment_lines,
    split_lines,
    split_steps,
)

any_text = st.text(alphabet=st.characters(min_codepoint=9, max_codepoint=126), max_size=200)
"""Printable ASCII plus tabs and newlines."""
grammar_text = st.text(alphabet="0123456789+-*=#,\n -", max_size=120)
"""Text made of the grammar's own characters, so near-misses are common."""


def int_parses(content: str) -> bool:
    return parse_int(content) is not None


def assert_partition(text: str, steps: list[Step]) -> None:
    assert "".join(step.text for step in steps) == text
    offset = 0
    for index, step in enumerate(steps):
        assert step.index == index
        assert step.start == offset
        assert text[step.start : step.end] == step.text
        offset = step.end
    assert offset == len(text)


def test_step_line_examples():
    assert parse_step_line("3+4=7") == StepLine(3, "+", 4, 7)
    assert parse_step_line("-6*2=-12\n") == StepLine(-6, "*", 2, -12)
    assert parse_step_line("14-5=9").op == ("-", 5)


def test_step_line_rejects_near_misses():
    near_misses = ["", "3 + 4 = 7", "3+-4=-1", "3+4=", "+4=7", "3+4=7=7", "3/4=0", "3+4=7\n\n", "٣+4=7"]
    for line in [*near_misses, "1" * 19 + "+1=2"]:
        assert parse_step_line(line) is None, line


def test_list_examples():
    assert parse_int_list("7,14,-9") == (7, 14, -9)
    assert parse_int_list("5") == (5,)
    assert parse_op_list("*2,+3,-1") == (("*", 2), ("+", 3), ("-", 1))
    for bad in ["", "7,", ",7", "7,,8", "7 ,8", "a"]:
        assert parse_int_list(bad) is None, bad
    for bad in ["", "*2,", "2", "*-2", "x2", "*2 +3"]:
        assert parse_op_list(bad) is None, bad
    assert parse_int("-12") == -12
    assert parse_int("1-2") is None


def test_segment_examples():
    assert segment_lines("", int_parses) == []
    steps = segment_lines("3+4=7\n\nbad\n#7\ntrailer", int_parses)
    assert [(step.kind, step.parsed) for step in steps] == [
        ("step", True),
        ("step", False),
        ("step", False),
        ("answer", True),
    ]
    assert steps[-1].text == "#7\ntrailer"
    truncated = segment_lines("3+4=7\n7*2=1", int_parses)
    assert [(step.kind, step.parsed, step.text) for step in truncated] == [
        ("step", True, "3+4=7\n"),
        ("step", True, "7*2=1"),
    ]
    assert segment_lines("#x\n3+4=7\n", int_parses)[0].parsed is False


def test_split_lines_keeps_newlines():
    assert split_lines("a\n\nb") == ["a\n", "\n", "b"]
    assert split_lines("a\n") == ["a\n"]
    assert split_lines("") == []


def test_parse_status_precedence():
    def status(text):
        return parse_status(split_steps(segment_lines(text, int_parses)))

    assert status("3+4=7\n#7\n") == "ok"
    assert status("x\n#7\n") == "bad_step"
    assert status("x\n#seven\n") == "bad_answer"
    assert status("x\n") == "no_answer"
    assert status("") == "no_answer"


def test_rubric_checks_trailer():
    def rubric(text):
        return format_rubric(split_steps(segment_lines(text, int_parses)))

    assert rubric("3+4=7\n#7\n").score == 1
    assert rubric("3+4=7\n#7\n \n").well_formed
    assert not rubric("3+4=7\n#7\nmore").well_formed
    assert not rubric("3+4=7\n").answer_present
    assert not rubric("3+4 =7\n#7\n").well_formed


@given(st.one_of(any_text, grammar_text))
def test_segment_partitions_any_text(text):
    steps = segment_lines(text, int_parses)
    assert_partition(text, steps)
    kinds = [step.kind for step in steps]
    assert "answer" not in kinds[:-1]
    for step in steps:
        assert (step.kind == "answer") == step.text.startswith("#")
        assert step.kind == "answer" or step.text.count("\n") == (1 if step.text.endswith("\n") else 0)


@given(st.one_of(any_text, grammar_text))
def test_parsers_never_raise(text):
    for parse in (parse_step_line, parse_int, parse_int_list, parse_op_list):
        parse(text)


@given(st.integers(-(10**12), 10**12), st.sampled_from("+-*"), st.integers(0, 10**12), st.integers(-(10**12), 10**12))
def test_step_line_round_trip(lhs, symbol, operand, result):
    assert parse_step_line(f"{lhs}{symbol}{operand}={result}\n") == StepLine(lhs, symbol, operand, result)
