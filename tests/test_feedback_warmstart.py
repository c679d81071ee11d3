"""The feedback warm start's demonstrations (sandbox.train.feedback_warmstart)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.rewards.sdpo import QUOTE
from sandbox.train.feedback_warmstart import FEEDBACK_PRESETS, FeedbackDemonstrations
from toy_envs import ConfigError, make_task

TASK = make_task("arithmetic", **FEEDBACK_PRESETS["tiny-feedback"].task_fields)
LEVELS = ("indicative", "located", "corrective", "solution")


@given(st.integers(0, 10**6), st.integers(0, 3))
def test_a_demonstration_keeps_its_gold_target_and_quotes_feedback_after_the_plain_prompt(index, seed):
    demos = FeedbackDemonstrations(TASK, 0.5, LEVELS, seed)
    problem = demos.problem(index)
    assert demos.gold_solution(problem) == TASK.gold_solution(problem)
    prompt, plain = demos.prompt(problem), TASK.prompt(problem)
    assert prompt.startswith(plain) and prompt == demos.prompt(problem)  # keyed: the same every time
    quoted = prompt[len(plain):].splitlines()
    assert all(line.startswith(QUOTE) for line in quoted)
    text = "\n".join(line[len(QUOTE):] for line in quoted)
    if text and "wrong" not in text:  # the solution level quotes the gold solution
        assert text + "\n" == TASK.gold_solution(problem)


def test_the_fraction_and_the_levels_are_as_configured():
    demos = FeedbackDemonstrations(TASK, 0.5, LEVELS)
    texts = [demos.feedback_text(TASK.problem(i)) for i in range(2000)]
    with_feedback = [t for t in texts if t]
    assert 0.45 < len(with_feedback) / len(texts) < 0.55
    kinds = {"indicative": sum(t == "wrong" for t in with_feedback),
             "located": sum(t.startswith("step") and t.endswith("is wrong") for t in with_feedback),
             "corrective": sum(t.startswith("step") and ": " in t for t in with_feedback),
             "solution": sum("#" in t and "wrong" not in t for t in with_feedback)}
    assert all(count > 0.2 * len(with_feedback) for count in kinds.values()), kinds
    assert not any(FeedbackDemonstrations(TASK, 0.0, LEVELS).feedback_text(TASK.problem(i)) for i in range(200))


@given(st.integers(0, 10**6))
def test_error_feedback_describes_a_wrong_attempt_at_one_step(index):
    demos = FeedbackDemonstrations(TASK, 1.0, ("located",))
    problem = TASK.problem(index)
    text = demos.feedback_text(problem)
    step = int(text.split()[1])
    assert text == f"step {step} is wrong" and 1 <= step <= len(problem.ops)


def test_bad_settings_are_one_error_naming_the_field():
    with pytest.raises(ConfigError, match="feedback_fraction=1.5"):
        FeedbackDemonstrations(TASK, 1.5, LEVELS)
    with pytest.raises(ConfigError, match="level='hint'"):
        FeedbackDemonstrations(TASK, 0.5, ("hint",))


@given(st.integers(0, 10**6), st.integers(0, 3))
def test_with_a_feedback_task_the_feedback_rows_are_its_problems_and_the_plain_rows_the_presets(index, seed):
    """'tiny-critique': the keyed feedback fraction decides which task a problem index comes from;
    the prompt, target and feedback are that problem's, as the task of its own length gives them."""
    preset = FEEDBACK_PRESETS["tiny-critique"]
    long_task = preset.feedback_task()
    demos = FeedbackDemonstrations(TASK, preset.feedback_fraction, LEVELS, seed, long_task)
    for split in ("train", "eval"):
        problem = demos.problem(index, split=split)
        own = long_task if demos.carries_feedback(split, index) else TASK
        assert problem == own.problem(index, split=split) and len(problem.ops) == (3 if own is long_task else 2)
        assert demos.gold_solution(problem) == own.gold_solution(problem)
        assert (demos.prompt(problem) != own.prompt(problem)) == bool(demos.feedback_text(problem))
        if demos.feedback_text(problem) not in ("", "wrong") and "#" not in demos.feedback_text(problem):
            assert 1 <= int(demos.feedback_text(problem).split()[1]) <= 3


def test_a_feedback_task_of_another_kind_is_refused():
    with pytest.raises(ConfigError, match="feedback_task="):
        FeedbackDemonstrations(TASK, 0.5, LEVELS, 0, make_task("tree", depth=2))
