"""Redundant step lines (toy_envs.repeats): padded demonstrations stay right and process-valid, the
verifier accepts repeats only when the task allows them, and a repeat inherits its line's verdict."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toy_envs import ConfigError, make_task
from toy_envs.parsing import parse_step_line
from toy_envs.repeats import essential_indices, repeat_flags, spread

FIELDS = dict(operators="+-", start_max=50)
INDICES = st.integers(0, 10_000)
CHANCES = st.sampled_from([0.1, 0.5, 0.9])
LENGTHS = st.integers(1, 4)


def step_lines(text: str) -> list[str]:
    return [line for line in text.splitlines(keepends=True) if not line.startswith("#")]


@given(INDICES, CHANCES, LENGTHS)
def test_a_padded_demonstration_is_right_valid_and_the_plain_one_plus_repeats(index, p, n_steps):
    padded, plain = make_task("arithmetic", n_steps=n_steps, repeat_lines=p, **FIELDS), make_task("arithmetic", n_steps=n_steps, **FIELDS)
    problem = padded.problem(index)
    assert problem == plain.problem(index)  # repeats change demonstrations, not problems
    text = padded.gold_solution(problem)
    verdict = padded.score(problem, text)
    assert verdict.correct and verdict.process_correct
    lines = tuple(parse_step_line(line) for line in step_lines(text))
    assert [lines[t] for t in essential_indices(lines)] == [parse_step_line(line) for line in step_lines(plain.gold_solution(problem))]
    if any(repeat_flags(lines)):  # the same text is a wrong step where repeats are not allowed
        assert not plain.score(problem, text).process_correct


@given(INDICES, LENGTHS, st.data())
def test_a_repeat_takes_the_verdict_of_the_line_it_repeats(index, n_steps, data):
    task = make_task("arithmetic", n_steps=n_steps, repeat_lines=0.5, **FIELDS)
    problem = task.problem(index)
    lines = step_lines(make_task("arithmetic", n_steps=n_steps, **FIELDS).gold_solution(problem))
    t = data.draw(st.integers(0, len(lines) - 1))
    wrong = data.draw(st.booleans())
    if wrong:  # line t states a wrong result (later lines then continue from a value never stated)
        lhs, rest = lines[t].split("=")
        lines[t] = f"{lhs}={int(rest) + 1}\n"
    text = "".join(lines[: t + 1] + [lines[t]] + lines[t + 1 :]) + "#0\n"
    verdict = task.score(problem, text)
    assert verdict.step_valid[t + 1] == verdict.step_valid[t] == (not wrong)
    assert verdict.step_value[t + 1] == verdict.step_value[t]


@given(st.lists(st.sampled_from(["1+2=3\n", "3+4=7\n", "x\n"]), max_size=8))
def test_spread_gives_every_line_the_entry_of_its_essential_line(texts):
    lines = tuple(parse_step_line(t) for t in texts)
    keep = essential_indices(lines)
    values = spread(keep, lines)  # each line gets the index of the essential line it belongs to
    assert len(values) == len(lines)
    for t, value in enumerate(values):
        assert value == max(k for k in keep if k <= t)
        assert all(lines[s] == lines[value] for s in range(value, t + 1))


@pytest.mark.parametrize("value", [-0.1, 1.0, "0.5", True])
def test_repeat_lines_outside_zero_one_is_refused(value):
    with pytest.raises(ConfigError, match="repeat_lines"):
        make_task("arithmetic", repeat_lines=value)
