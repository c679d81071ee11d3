import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toy_envs import TASKS, ArithmeticChain, ConfigError, make_task
from toy_envs.arithmetic import ArithmeticProblem, gold_intermediates
from toy_envs.ops import apply_op

any_text = st.text(alphabet=st.characters(min_codepoint=9, max_codepoint=126), max_size=200)
operator_sets = st.permutations("+-*").flatmap(lambda symbols: st.integers(1, 3).map(lambda n: "".join(symbols[:n])))
indices = st.integers(0, 10**6)


@st.composite
def chains(draw, modulus=st.one_of(st.none(), st.integers(2, 50))):
    start_min = draw(st.integers(-50, 50))
    operand_min = draw(st.integers(1, 9))
    return ArithmeticChain(
        seed=draw(st.integers(0, 1000)),
        n_steps=draw(st.integers(1, 6)),
        start_min=start_min,
        start_max=start_min + draw(st.integers(0, 100)),
        operand_min=operand_min,
        operand_max=operand_min + draw(st.integers(0, 9)),
        operators=draw(operator_sets),
        modulus=draw(modulus),
        long_answer=draw(st.booleans()),
    )


def step_lines(start, ops, results):
    """Step lines applying ``ops`` from ``start`` but stating ``results``."""
    lhs = (start, *results)
    return "".join(f"{a}{op}{operand}={b}\n" for a, (op, operand), b in zip(lhs, ops, results))


@given(chains(), indices)
def test_problem_is_deterministic(task, index):
    problem = task.problem(index)
    assert problem == task.problem(index)
    assert problem == dataclasses.replace(task).problem(index)
    assert len(problem.ops) == task.n_steps
    assert task.start_min <= problem.start <= task.start_max


def test_seeds_and_splits_differ():
    task, other_seed = ArithmeticChain(seed=0), ArithmeticChain(seed=1)
    assert [task.problem(i) for i in range(8)] != [other_seed.problem(i) for i in range(8)]
    train = [task.problem(i, "train") for i in range(8)]
    held_out = [task.problem(i, "eval") for i in range(8)]
    assert [(p.start, p.ops) for p in train] != [(p.start, p.ops) for p in held_out]


def test_bad_problem_keys_raise():
    task = ArithmeticChain()
    with pytest.raises(ConfigError, match="index"):
        task.problem(-1)
    with pytest.raises(ConfigError, match="split"):
        task.problem(0, "test")


def test_prompt_and_gold_format():
    problem = ArithmeticProblem(3, (("+", 4), ("*", 2), ("-", 5)), None, 0, "train")
    assert ArithmeticChain().prompt(problem) == "3 +4 *2 -5\n"
    assert ArithmeticChain().gold_solution(problem) == "3+4=7\n7*2=14\n14-5=9\n#9\n"
    assert ArithmeticChain(long_answer=True).gold_solution(problem).endswith("\n#7,14,9\n")
    with_modulus = ArithmeticProblem(3, (("+", 4),), 5, 0, "train")
    assert ArithmeticChain(modulus=5).prompt(with_modulus) == "3 +4 mod 5\n"
    assert ArithmeticChain(modulus=5).gold_solution(with_modulus) == "3+4=2\n#2\n"


@given(chains(), indices)
def test_gold_solution_is_perfect(task, index):
    problem = task.problem(index)
    text = task.gold_solution(problem)
    verdict = task.score(problem, text)
    assert verdict.correct
    assert verdict.parse_status == "ok"
    assert verdict.first_error is None
    assert len(verdict.steps) == task.n_steps + 1
    assert all(verdict.step_valid)
    assert all(value == 1 for value in verdict.step_value)
    assert task.format_rubric(text).score == 1
    intermediates = ",".join(map(str, gold_intermediates(problem)))
    assert verdict.answer == (intermediates if task.long_answer else intermediates.split(",")[-1])


@given(chains(modulus=st.none()), indices, st.data())
def test_corrupted_result_is_first_error_and_later_values_are_zero(task, index, data):
    problem = task.problem(index)
    gold = gold_intermediates(problem)
    wrong_at = data.draw(st.integers(0, task.n_steps - 1))
    delta = data.draw(st.integers(-20, 20).filter(bool))
    results = list(gold[:wrong_at]) + [gold[wrong_at] + delta]
    for op in problem.ops[wrong_at + 1 :]:  # continue validly from the wrong value
        results.append(apply_op(results[-1], op))
    text = step_lines(problem.start, problem.ops, results) + "#" + task.format_answer(tuple(results)) + "\n"
    verdict = task.score(problem, text)
    assert verdict.first_error == wrong_at
    assert verdict.step_valid == tuple(t != wrong_at for t in range(task.n_steps + 1))
    assert verdict.step_value == tuple(int(t < wrong_at) for t in range(task.n_steps + 1))
    assert not verdict.correct


@given(chains(modulus=st.none()), indices, st.data())
def test_corrupted_operand_is_first_error(task, index, data):
    problem = task.problem(index)
    wrong_at = data.draw(st.integers(0, task.n_steps - 1))
    symbol, operand = problem.ops[wrong_at]
    new_operand = data.draw(st.integers(0, 30).filter(lambda value: value != operand))
    lines = task.gold_solution(problem).split("\n")
    lhs = (problem.start, *gold_intermediates(problem))[wrong_at]
    lines[wrong_at] = f"{lhs}{symbol}{new_operand}={apply_op(lhs, (symbol, new_operand))}"
    verdict = task.score(problem, "\n".join(lines))
    assert verdict.first_error == wrong_at
    assert not verdict.step_valid[wrong_at]


def test_modulus_lets_a_wrong_value_merge_back():
    problem = ArithmeticProblem(3, (("+", 4), ("*", 2)), 4, 0, "train")  # gold 3, 2
    text = "3+4=1\n1*2=2\n#2\n"  # 1 is wrong (should be 3) but 1*2 = 3*2 mod 4
    short = ArithmeticChain(modulus=4).score(problem, text)
    assert short.step_valid == (False, True, True)
    assert short.step_value == (1, 1, 1)
    assert short.correct
    long = ArithmeticChain(modulus=4, long_answer=True).score(problem, "3+4=1\n1*2=2\n#1,2\n")
    assert long.step_value == (0, 1, 0)
    assert not long.correct


def test_answer_rules():
    task = ArithmeticChain()
    problem = ArithmeticProblem(3, (("+", 4), ("*", 2)), None, 0, "train")
    trailing = task.score(problem, "3+4=7\n7*2=14\n#14\nso 14")
    assert trailing.correct and trailing.answer == "14" and all(trailing.step_valid)
    assert not task.format_rubric("3+4=7\n7*2=14\n#14\nso 14").well_formed
    skipped = task.score(problem, "3+4=7\n#14\n")
    assert skipped.correct and skipped.step_valid == (True, False) and skipped.first_error == 1
    inconsistent = task.score(problem, "3+4=7\n7*2=14\n#15\n")
    assert not inconsistent.correct and inconsistent.step_valid == (True, True, False)
    extra = task.score(problem, "3+4=7\n7*2=14\n14+1=15\n#15\n")
    assert extra.step_valid == (True, True, False, False) and extra.step_value == (1, 1, 0, 0)
    unparsed = task.score(problem, "3+4=7\nseven times two\n14*1=14\n#14\n")
    assert unparsed.parse_status == "bad_step"
    assert unparsed.step_valid == (True, False, False, False)
    assert unparsed.step_value == (1, 0, 0, 1)
    assert task.score(problem, "3+4=7\n7*2=1").parse_status == "no_answer"
    assert task.score(problem, "3+4=7\n7*2=14\n#fourteen\n").parse_status == "bad_answer"
    empty = task.score(problem, "")
    assert empty.steps == () and not empty.correct and empty.first_error is None


@given(chains(), st.integers(0, 50), any_text)
def test_score_never_raises_on_any_text(task, index, text):
    verdict = task.score(task.problem(index), text)
    assert len(verdict.step_valid) == len(verdict.step_value) == len(verdict.steps)
    assert "".join(step.text for step in verdict.steps) == text
    task.format_rubric(text)


@given(chains(), st.integers(0, 50), st.data())
def test_score_never_raises_on_mutated_gold(task, index, data):
    problem = task.problem(index)
    text = task.gold_solution(problem)
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(text)))
        piece = data.draw(st.text(alphabet="0123456789+-*=#,\n ", max_size=3))
        cut = data.draw(st.integers(0, 3))
        text = text[:position] + piece + text[position + cut :]
    verdict = task.score(problem, text)
    assert "".join(step.text for step in verdict.steps) == text
    assert len(verdict.step_valid) == len(verdict.step_value) == len(verdict.steps)


BAD_FIELDS = [
    ("seed", 1.5),
    ("n_steps", 0),
    ("n_steps", 13),
    ("n_steps", "3"),
    ("start_min", 100),
    ("start_max", "9"),
    ("operand_min", 0),
    ("operand_min", 10),
    ("operand_max", 0.5),
    ("operators", ""),
    ("operators", "++"),
    ("operators", "+/"),
    ("operators", 3),
    ("modulus", 1),
    ("modulus", 2.0),
    ("long_answer", 1),
]


@pytest.mark.parametrize(("field", "value"), BAD_FIELDS)
def test_bad_field_raises(field, value):
    with pytest.raises(ConfigError, match=field):
        ArithmeticChain(**{field: value})


def test_intermediates_must_fit_the_grammar():
    with pytest.raises(ConfigError, match="n_steps"):
        ArithmeticChain(n_steps=12, operand_max=99)
    ArithmeticChain(n_steps=12, operand_max=99, modulus=1000)


def test_make_task():
    assert TASKS["arithmetic"] is ArithmeticChain
    assert make_task("arithmetic", n_steps=2) == ArithmeticChain(n_steps=2)
    with pytest.raises(ConfigError, match="task.*arithmetic.*tree"):
        make_task("sudoku")
    with pytest.raises(ConfigError, match="n_steps"):
        make_task("arithmetic", n_steps=0)
    with pytest.raises(ConfigError, match="depth"):
        make_task("arithmetic", depth=2)
