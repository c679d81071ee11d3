"""The kit's shared machinery: its error, its hypothesis settings, its tables, its argument checks."""

import pytest
import torch
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from sandbox.rewards.grpo import grpo
from sandbox.rewards.outcome import outcome
from sandbox.rewards.variance_filter import variance_filter
from sandbox.testing import InvariantError, check_advantage_estimator, check_filter, check_reward_source
from sandbox.testing.invariants import first_invariant_error, fmt, kit_settings, render_rows
from sandbox.testing.strategies import TEXT_KINDS, response_text
from toy_envs import make_task
from toy_envs.parsing import parse_confidence
from toy_envs import ConfigError


def test_invariant_error_is_an_assertion_error_naming_the_invariant():
    error = InvariantError("finite", "no NaN", "found one", {"x": 1})
    assert isinstance(error, AssertionError)
    assert str(error).startswith("invariant 'finite' failed: no NaN\nfound one")
    assert error.invariant == "finite" and error.example == {"x": 1}


def test_kit_settings_inherit_the_profile_and_override_what_the_kit_needs():
    s = kit_settings(max_examples=7, derandomize=True, shrink=False)
    assert s.deadline is None and s.database is None and not s.report_multiple_bugs
    assert s.max_examples == 7 and s.derandomize
    assert Phase.shrink not in s.phases and Phase.explain not in s.phases
    assert Phase.shrink in kit_settings(None, None).phases
    assert kit_settings(None, None).max_examples == settings.default.max_examples


def test_first_invariant_error_digs_into_nested_groups():
    inner = InvariantError("deterministic", "d", "", None)
    group = ExceptionGroup("outer", [ValueError("x"), ExceptionGroup("inner", [inner])])
    assert first_invariant_error(group) is inner
    plain = ExceptionGroup("none", [ValueError("x")])
    assert first_invariant_error(plain) is plain


def test_rows_render_with_off_mask_entries_in_parentheses():
    mask = torch.tensor([[False, True, True]])
    text = render_rows(["row 0"], mask, {"rewards": torch.tensor([[2.0, 0.5, 1 / 3]]), "keep": torch.tensor([1.0])})
    assert "(2) 0.5 0.3333" in text and text.splitlines()[1].rstrip().endswith("1")
    assert fmt(float("nan")) == "nan" and fmt(3.0) == "3"


@pytest.mark.parametrize(
    "call",
    [
        lambda: check_advantage_estimator(grpo, "outcome"),
        lambda: check_advantage_estimator(grpo, extras=("parents",)),
        lambda: check_filter(variance_filter, "groups"),
        lambda: check_filter(variance_filter, "variance", metric="std"),
        lambda: check_reward_source(outcome, placement="first"),
        lambda: check_reward_source(outcome, locality="problem"),
        lambda: check_reward_source(outcome, bounds=(1, 0)),
        lambda: check_reward_source(outcome, bounds=(0, float("inf"))),
        lambda: check_reward_source(outcome, weights="no_such_parameter"),
        lambda: check_advantage_estimator(grpo, "grpo", reference_options={"gamma": 0.9}),
        lambda: check_advantage_estimator(grpo, "tree_grpo", extras=()),
    ],
)
def test_bad_arguments_are_config_errors_before_any_example(call):
    with pytest.raises(ConfigError):
        call()


def test_a_wrong_output_type_is_an_output_invariant_error():
    with pytest.raises(InvariantError, match="'output'"):
        check_advantage_estimator(lambda r, m, g, s: (r * m).sum(-1), max_examples=5, shrink=False)
    with pytest.raises(InvariantError, match="'output'"):
        check_reward_source(lambda rollouts, ctx: rollouts.correct, max_examples=5, shrink=False)
    with pytest.raises(InvariantError, match="'keep is a bool"):
        check_filter(lambda rollouts, rewards, ctx: rollouts.correct, max_examples=5, shrink=False)


def test_oracle_agreement_passes_for_the_same_function():
    check_advantage_estimator(grpo, oracle=grpo, max_examples=10)


CONFIDENCE_TASKS = [make_task("arithmetic", n_steps=2, confidence_line=True), make_task("tree", confidence_line=True)]


@given(st.data(), st.sampled_from(CONFIDENCE_TASKS), st.integers(0, 500), st.sampled_from(TEXT_KINDS))
def test_response_kinds_are_what_they_say_on_confidence_line_tasks(data, task, index, kind):
    problem = task.problem(index)
    text = response_text(data.draw, task, problem, kind)
    verdict = task.score(problem, text)
    if kind == "gold":
        assert verdict.correct
    if kind in ("wrong_answer", "no_answer"):
        assert not verdict.correct  # the gold answer line is replaced, not kept before the confidence line


def test_the_generator_states_confidences_other_than_the_demonstrations():
    task = CONFIDENCE_TASKS[0]
    seen = set()

    @settings(max_examples=60, derandomize=True, database=None)
    @given(st.data(), st.integers(0, 500), st.sampled_from(["gold", "wrong_answer"]))
    def draw(data, index, kind):
        text = response_text(data.draw, task, task.problem(index), kind)
        seen.add(text.split("conf: ")[-1].strip() if "conf: " in text else None)

    draw()
    stated = {parse_confidence("#1\nconf: " + q) for q in seen if q is not None}
    assert None in seen  # no confidence line at all
    assert len(stated - {None}) >= 5  # several in-range values beyond the demonstrations' 0.0-1.0 grid
    assert {q for q in seen if q is not None and parse_confidence("#1\nconf: " + q) is None}  # out of range or malformed
