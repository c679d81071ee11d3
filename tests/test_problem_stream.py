"""The RL problem stream: draws are the stream's indices in order less the excluded ones, the
filter screens each window once when the draw reaches it, and a saved state continues exactly."""

from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.train.problem_stream import ProblemStream
from toy_envs.base import ConfigError


@dataclass
class Screened:
    excluded: list[int]
    info: dict = field(default_factory=dict)


def dropping(multiple: int, calls: list):
    """A stand-in problem filter that excludes the multiples of ``multiple`` in each window."""

    def screen(window: list[int]) -> Screened:
        calls.append(list(window))
        dropped = [i for i in window if i % multiple == 0]
        return Screened(dropped, {"screened": len(window), "dropped": len(dropped)})

    return screen


class Task:
    pass


@given(sizes=st.lists(st.integers(1, 7), min_size=1, max_size=12), window=st.integers(1, 9), multiple=st.integers(2, 5))
def test_draws_are_the_stream_less_the_excluded_problems_in_order(sizes, window, multiple):
    calls = []
    stream = ProblemStream(Task(), True, window)
    drawn = [i for n in sizes for i in stream.draw(n, 0, dropping(multiple, calls))]
    naive = [i for i in range(10 * sum(sizes) + window) if i % multiple][: sum(sizes)]  # an independent oracle
    assert drawn == naive
    # each window screened once, back to back from 0, before any of its problems was drawn
    assert [w[0] for w in calls] == [k * window for k in range(len(calls))] and all(len(w) == window for w in calls)
    assert stream.screened_until == len(calls) * window > drawn[-1]
    assert stream.excluded == {i for w in calls for i in w if i % multiple == 0}


@given(sizes=st.lists(st.integers(1, 7), min_size=2, max_size=10), cut=st.integers(1, 9), window=st.integers(1, 9))
def test_a_stream_restored_from_its_state_continues_exactly(sizes, cut, window):
    cut = min(cut, len(sizes) - 1)
    straight = ProblemStream(Task(), True, window)
    expected = [straight.draw(n, 0, dropping(3, [])) for n in sizes]
    first = ProblemStream(Task(), True, window)
    head = [first.draw(n, 0, dropping(3, [])) for n in sizes[:cut]]
    resumed = ProblemStream(Task(), True, window)
    resumed.load_state(first.state())
    assert head + [resumed.draw(n, 0, dropping(3, [])) for n in sizes[cut:]] == expected


def test_without_a_filter_nothing_is_screened_and_the_log_is_taken_once():
    stream = ProblemStream(Task(), False, 4)
    assert stream.draw(5, 0, lambda window: pytest.fail("screened without a filter")) == [0, 1, 2, 3, 4]
    assert stream.take_log() == {} and stream.state() == {"next_problem": 5, "excluded_problems": [], "screened_until": 0}
    screened = ProblemStream(Task(), True, 4)
    screened.draw(2, 0, dropping(2, []))
    log = screened.take_log()
    assert log["problem_filter/dropped"] == 2 and log["problem_filter/excluded_total"] == 2 and "time/problem_filter_s" in log
    assert screened.take_log() == {}


def test_a_finite_task_that_runs_out_is_one_error_naming_task_size():
    task = Task()
    task.size = 6
    stream = ProblemStream(task, True, 4)
    with pytest.raises(ConfigError, match=r"^task_size=6 is not allowed: more than the 6 train problems read by step 3"):
        stream.draw(5, 3, dropping(2, []))
