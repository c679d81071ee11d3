"""Step labellers: oracle, Monte-Carlo (Math-Shepherd), RPE (GenPRM), StepWiser rules, agreement."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.prm.labels import LABELLERS, agreement, first_bad, step_labels
from sandbox.prm.mc_labels import MCValues, mc_hard_labels, mc_soft_labels, mc_values
from sandbox.prm.oracle_labels import oracle_labels
from sandbox.prm.rpe_labels import rpe_labels
from sandbox.prm.stepwiser_labels import abs_q_labels, prover_value, rel_effective_labels, rel_ratio_labels
from sandbox.rollout.rollouts import Rollouts
from sandbox.testing.strategies import rollouts_batches
from toy_envs import ConfigError, gold_intermediates, make_task
from toy_envs.ops import apply_op, format_op
from toy_envs.parsing import parse_step_line

TASK = make_task("arithmetic", n_steps=3)
Q_GRID = st.integers(0, 8).map(lambda k: k / 8)


def continue_correctly(request) -> str:
    """Finish the chain from the last stated result, every later step exact, then the answer."""
    problem = request.problem
    lines = request.prefix.splitlines()
    value = problem.start
    if lines:
        parsed = parse_step_line(lines[-1])
        value = parsed.result if parsed else None
    if value is None:
        return "#x\n"
    text = ""
    for op in problem.ops[len(lines):]:
        result = apply_op(value, op)
        text += f"{value}{format_op(op)}={result}\n"
        value = result
    return text + f"#{value}\n"


def coin_completer(requests):
    """Correct or wrong completions by a coin keyed on each request."""
    return [continue_correctly(r) if r.key % 3 else "#123456\n" for r in requests]


@st.composite
def chains_with_a_first_error(draw):
    """(problem, text, e): gold up to step e, a wrong result at e, later steps either continue
    validly from the stated (wrong) values or state another result that is not the gold one."""
    problem = TASK.problem(draw(st.integers(0, 500)))
    gold = gold_intermediates(problem)
    e = draw(st.integers(0, len(problem.ops) - 1))
    value, text = problem.start, ""
    for t, op in enumerate(problem.ops):
        result = apply_op(value, op)
        if t == e or (t > e and draw(st.booleans())):
            result = result + draw(st.integers(1, 9)) * draw(st.sampled_from([-1, 1]))
            if result == gold[t]:
                result += 20
        text += f"{value}{format_op(op)}={result}\n"
        value = result
    return problem, text + f"#{value}\n", e


@given(rollouts=rollouts_batches(TASK), k=st.integers(1, 4))
def test_mc_hard_at_least_soft_and_soft_positive_iff_hard(rollouts, k):
    for values in mc_values(rollouts, TASK, coin_completer, n_completions=k):
        hard, soft = mc_hard_labels(values), mc_soft_labels(values)
        assert all(h >= s for h, s in zip(hard, soft))
        assert all((s > 0) == (h == 1) for h, s in zip(hard, soft))
        assert all(0 <= s <= 1 for s in soft)


@given(case=chains_with_a_first_error(), k=st.integers(1, 3))
def test_mc_labels_with_an_exact_completer_are_zero_from_the_first_error_on(case, k):
    problem, text, e = case
    rollouts = Rollouts.from_texts(TASK, [problem], [text])
    (values,) = mc_values(rollouts, TASK, lambda reqs: [continue_correctly(r) for r in reqs], n_completions=k)
    assert values.prompt_value == 1.0
    assert rollouts.verdicts[0].first_error == e
    for labels in (mc_hard_labels(values), mc_soft_labels(values)):
        assert labels == [1.0] * e + [0.0] * (len(labels) - e)


def test_mc_values_are_the_answer_check_on_the_answer_step_and_keyed():
    problem = TASK.problem(3)
    texts = [TASK.gold_solution(problem), "1+1=2\n#5\n"]
    rollouts = Rollouts.from_texts(TASK, [problem, problem], texts)
    first = mc_values(rollouts, TASK, coin_completer, n_completions=4, seed=1)
    assert first == mc_values(rollouts, TASK, coin_completer, n_completions=4, seed=1)
    assert first[0].step_values[-1] == 1.0 and first[1].step_values[-1] == 0.0
    alone = mc_values(rollouts.select([1]), TASK, coin_completer, n_completions=4, seed=1)
    assert alone[0] == first[1]  # a row's estimates do not depend on the rest of the batch
    with pytest.raises(ConfigError, match="n_completions"):
        mc_values(rollouts, TASK, coin_completer, n_completions=0)


def naive_rpe(q0, qs, eps):
    out, dead = [], q0 == 0
    for t, q in enumerate(qs):
        before = q0 if t == 0 else qs[t - 1]
        dead = dead or before == 0
        out.append(0.0 if dead else (1.0 if q / before >= eps else 0.0))
    return out


@given(q0=Q_GRID, qs=st.lists(Q_GRID, min_size=1, max_size=6), scale=st.sampled_from([0.5, 0.25, 0.125]))
def test_rpe_is_scale_invariant_and_matches_the_naive_rule(q0, qs, scale):
    labels = rpe_labels(q0, qs)
    assert labels == rpe_labels(q0 * scale, [q * scale for q in qs])
    assert labels == naive_rpe(q0, qs, 0.8)
    first_zero = next((t for t, q in enumerate(qs) if q == 0), None)
    if q0 == 0:
        assert not any(labels)
    elif first_zero is not None:  # every step at or after the first zero estimate is 0
        assert not any(labels[first_zero:])


@pytest.mark.parametrize("eps", [0.8, 0.5, 0.3])
def test_rpe_threshold_is_exact_at_epsilon(eps):
    assert rpe_labels(1.0, [eps], eps) == [1.0]
    assert rpe_labels(1.0, [math.nextafter(eps, 0)], eps) == [0.0]
    assert rpe_labels(0.5, [0.5 * eps], eps) == [1.0]
    with pytest.raises(ConfigError, match="epsilon"):
        rpe_labels(1.0, [0.5], 0.0)


@given(q0=Q_GRID, qs=st.lists(Q_GRID, min_size=1, max_size=6), gamma=st.sampled_from([0.0, 0.5, 0.8, 1.0]),
       alpha=st.sampled_from([0.0, 0.5, 1.0, 3.0]), n=st.integers(1, 8))
def test_stepwiser_rules_match_their_formulas(q0, qs, gamma, alpha, n):
    previous = [q0] + qs[:-1]
    assert abs_q_labels(qs) == [1.0 if q > 0 else 0.0 for q in qs]
    ratio = []
    for before, q in zip(previous, qs):
        ratio.append(1.0 if before != 0 and q / before > gamma else 0.0)
    assert rel_ratio_labels(q0, qs, gamma) == ratio
    effective = []
    for before, q in zip(previous, qs):
        advantage = (1 - (1 - q) ** n) - (1 - (1 - before) ** n)
        effective.append(1.0 if q + alpha * advantage > 0 else 0.0)
    assert rel_effective_labels(q0, qs, alpha, n) == effective
    assert prover_value(0.0, n) == 0.0 and prover_value(1.0, n) == 1.0


@given(rollouts=rollouts_batches(TASK))
def test_oracle_labels_are_the_verdicts(rollouts):
    assert oracle_labels(rollouts.verdicts, "valid") == [[float(x) for x in v.step_valid] for v in rollouts.verdicts]
    assert oracle_labels(rollouts.verdicts, "value") == [[float(x) for x in v.step_value] for v in rollouts.verdicts]
    for labels, verdict in zip(oracle_labels(rollouts.verdicts), rollouts.verdicts):
        assert first_bad(labels) == verdict.first_error


def test_every_labeller_runs_and_unknown_or_unfed_ones_are_rejected():
    problem = TASK.problem(0)
    rollouts = Rollouts.from_texts(TASK, [problem], [TASK.gold_solution(problem)])
    mc = mc_values(rollouts, TASK, coin_completer, 2)
    for name in LABELLERS:
        labels = step_labels(name, rollouts.verdicts, mc)
        assert len(labels[0]) == rollouts.verdicts[0].n_steps
    with pytest.raises(ConfigError, match="labels"):
        step_labels("nope", rollouts.verdicts, mc)
    with pytest.raises(ConfigError, match="mc"):
        step_labels("rpe", rollouts.verdicts)
    assert step_labels("mc-soft", rollouts.verdicts, [MCValues(1.0, (0.5, 0.25, 0.0, 1.0))]) == [[0.5, 0.25, 0.0, 1.0]]


def test_agreement_counts_steps_by_hand():
    labels = [[1.0, 0.0, 0.0], [1.0, 1.0]]
    reference = [[1.0, 1.0, 0.0], [1.0, 0.0]]
    out = agreement(labels, reference)
    assert out["step_accuracy"] == 3 / 5
    assert out["bad_recall"] == 1 / 2  # reference bad steps: (0,2) caught, (1,1) missed
    assert out["good_recall"] == 2 / 3
    assert out["first_bad_match"] == 0.0
