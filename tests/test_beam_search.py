"""Step-level beam search: a step is cut at its first newline, the search is keyed per problem,
and guided by the oracle's step validity it beats plain sampling (learning-style check)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.eval.beam_search import BeamSearchConfig, beam_search, beam_search_accuracy, cut_step
from sandbox.model.policy import TinyPolicy
from sandbox.prm.oracle_labels import oracle_labels
from toy_envs import make_task

TASK = make_task("arithmetic", n_steps=2)
LINES = st.sampled_from(["3+4=7", "7*2=14", "#14", "#1,2", "x", ""])


@given(prefix=st.lists(LINES, max_size=3).map(lambda ls: "".join(line + "\n" for line in ls)),
       sampled=st.lists(LINES, max_size=3).map("\n".join))
def test_a_step_ends_at_its_first_newline_and_finishes_on_the_answer_or_no_newline(prefix, sampled):
    text, finished = cut_step(prefix, sampled, TASK)
    assert text.startswith(prefix)
    step = text[len(prefix):]
    assert step.count("\n") <= 1 and sampled.startswith(step)
    if "\n" not in sampled:
        assert finished and step == sampled
    else:
        assert step.endswith("\n")
        assert finished == (TASK.segment(text)[-1].kind == "answer")


def oracle(rollouts):
    return oracle_labels(rollouts.verdicts, "valid")


def test_a_problem_gets_the_same_answer_whatever_else_is_searched(warmstart_tiny):
    model, task, _ = warmstart_tiny
    policy = TinyPolicy(model)
    problems = [task.problem(i, split="eval") for i in range(6)]
    cfg = BeamSearchConfig(beam_width=2, expansions=2, seed=3)
    together = beam_search(policy, task, problems, oracle, cfg)
    alone = [beam_search(policy, task, [p], oracle, cfg)[0] for p in problems[::2]]
    assert together[::2] == alone
    assert together == beam_search(policy, task, problems, oracle, cfg)


@pytest.mark.slow
def test_oracle_guided_beam_search_beats_plain_sampling(warmstart_tiny):
    # measured on `tiny`, 64 eval problems, seed 0: plain sampling 0.30, beam B=2 E=4 0.83
    model, task, _ = warmstart_tiny
    policy = TinyPolicy(model)
    problems = [task.problem(i, split="eval") for i in range(64)]
    plain = beam_search_accuracy(policy, task, problems, oracle, BeamSearchConfig(beam_width=1, expansions=1))
    guided = beam_search_accuracy(policy, task, problems, oracle, BeamSearchConfig(beam_width=2, expansions=4))
    assert guided >= plain + 0.3, (plain, guided)
