"""Feedback in words (toy_envs.feedback) against the tasks' oracles and an independent naive oracle."""

import builtins
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toy_envs import ArithmeticChain, ConfigError, TreePuzzle
from toy_envs.arithmetic import gold_intermediates
from toy_envs.feedback import ERROR_LEVELS, FEEDBACK_LEVELS, feedback, first_wrong_step
from toy_envs.ops import apply_op
from toy_envs.tree_puzzle import explicit_tree

any_text = st.text(alphabet=st.characters(min_codepoint=9, max_codepoint=126), max_size=120)
indices = st.integers(0, 10**6)


@st.composite
def chains(draw):
    """Arithmetic chains without a modulus (a wrong value never becomes right again)."""
    operand_min = draw(st.integers(1, 5))
    return ArithmeticChain(
        seed=draw(st.integers(0, 1000)),
        n_steps=draw(st.integers(1, 5)),
        start_min=-20,
        start_max=draw(st.integers(-20, 60)),
        operand_min=operand_min,
        operand_max=operand_min + draw(st.integers(0, 6)),
        operators=draw(st.sampled_from(["+-", "+-*", "*", "-+"])),
        long_answer=draw(st.booleans()),
    )


@st.composite
def puzzles(draw):
    return TreePuzzle(
        seed=draw(st.integers(0, 1000)),
        depth=draw(st.integers(1, 3)),
        branching=draw(st.integers(2, 3)),
        operators=draw(st.sampled_from(["+-", "+-*"])),
        start_max=9,
        operand_max=5,
        dead_end_fraction=draw(st.floats(0, 1)),
        long_answer=draw(st.booleans()),
    )


@st.composite
def mutated(draw, text):
    """``text`` (a gold solution) with one of: a result, an lhs or an answer changed, lines
    dropped from some point on, a line replaced by junk, a line inserted, or nothing."""
    lines = text.split("\n")[:-1]
    kind = draw(st.sampled_from(["result", "lhs", "answer", "cut", "junk", "insert", "none"]))
    at = draw(st.integers(0, len(lines) - 1))
    delta = draw(st.integers(1, 9)) * draw(st.sampled_from([-1, 1]))
    if kind in ("result", "lhs") and "=" in lines[at]:
        head, result = lines[at].rsplit("=", 1)
        if kind == "result":
            lines[at] = f"{head}={int(result) + delta}"
        else:
            lhs, rest = re.fullmatch(r"(-?\d+)(.*)", head).groups()
            lines[at] = f"{int(lhs) + delta}{rest}={result}"
    elif kind == "answer":
        lines[-1] = lines[-1] + str(abs(delta))
    elif kind == "cut":
        lines = lines[:at]
    elif kind == "junk":
        lines[at] = draw(st.sampled_from(["", "what", "12+", "__import__('os')", "#"]))
    elif kind == "insert":
        lines.insert(at, lines[max(at - 1, 0)])
    return "".join(line + "\n" for line in lines)


def naive_first_wrong(task, problem, text):
    """Independent oracle for a chain without a modulus: the first line that is not the gold line
    (read with its own regular expression, compared with the gold values), the answer line
    counted as the step after the last; None when every line is right."""
    gold = gold_intermediates(problem)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for t, line in enumerate(lines):
        if line.startswith("#"):
            content = line[1:]
            numbers = [int(x) for x in content.split(",")] if re.fullmatch(r"-?\d+(,-?\d+)*", content) else None
            right = numbers == (list(gold) if task.long_answer else [gold[-1]])
            return None if t == len(gold) and right else t
        m = re.fullmatch(r"(-?\d+)([-+*])(\d+)=(-?\d+)", line)
        before = problem.start if t == 0 else gold[t - 1]
        if t >= len(gold) or m is None or (int(m[1]), m[2], int(m[3]), int(m[4])) != (before, *problem.ops[t], gold[t]):
            return t
    return len(lines)


def all_levels(task, problem, text, siblings=()):
    verdict = task.score(problem, text)
    return verdict, {level: feedback(task, problem, verdict, level, siblings) for level in FEEDBACK_LEVELS}


def test_the_levels_of_one_example():
    task = ArithmeticChain(n_steps=3)
    problem = task.problem(0)
    gold = task.gold_solution(problem)
    lines = gold.split("\n")
    lhs, result = lines[1].rsplit("=", 1)
    wrong = lines[0] + "\n" + f"{lhs}={int(result) - 1}\n" + "\n".join(lines[2:])
    _, texts = all_levels(task, problem, wrong, siblings=[(wrong, task.score(problem, wrong)), (gold, task.score(problem, gold))])
    assert texts["none"] == ""
    assert texts["indicative"] == "wrong"
    assert texts["located"] == "step 2 is wrong"
    assert texts["corrective"] == f"step 2 is wrong: {lhs.replace('=', '')} is {result}, not {int(result) - 1}"
    assert texts["solution"] == gold


@given(chains(), indices, st.data())
def test_located_and_corrective_name_the_naive_oracles_first_wrong_step_and_its_gold_value(task, index, data):
    problem = task.problem(index)
    text = data.draw(mutated(task.gold_solution(problem)))
    verdict, texts = all_levels(task, problem, text)
    wrong = naive_first_wrong(task, problem, text)
    assert first_wrong_step(verdict) == wrong
    if wrong is None:
        assert verdict.process_correct
        assert all(texts[level] == "" for level in ERROR_LEVELS)
        return
    assert texts["located"] == f"step {wrong + 1} is wrong"
    gold = gold_intermediates(problem)
    named = re.fullmatch(r"step (\d+) is wrong: (.*)", texts["corrective"])
    assert int(named[1]) == wrong + 1
    if wrong < len(gold):
        step = re.fullmatch(r"(-?\d+)([-+*])(\d+) is (-?\d+)(, not -?\d+)?", named[2])
        before = problem.start if wrong == 0 else gold[wrong - 1]
        assert (int(step[1]), step[2], int(step[3]), int(step[4])) == (before, *problem.ops[wrong], gold[wrong])
    else:
        answer = ",".join(map(str, gold)) if task.long_answer else str(gold[-1])
        assert named[2] == f"the answer line is #{answer}"


@given(puzzles(), indices, st.data())
def test_tree_corrective_names_an_offered_op_that_keeps_the_target_reachable(task, index, data):
    problem = task.problem(index)
    text = data.draw(mutated(task.gold_solution(problem)))
    verdict, texts = all_levels(task, problem, text)
    wrong = first_wrong_step(verdict)
    if wrong is None:
        assert verdict.process_correct and all(texts[level] == "" for level in ERROR_LEVELS)
        return
    # every step before the named one is valid and live; the named one is not (or is missing)
    assert all(verdict.step_valid[:wrong]) and all(v == 1 for v in verdict.step_value[:wrong])
    assert wrong == len(verdict.step_valid) or not verdict.step_valid[wrong] or verdict.step_value[wrong] == 0
    assert texts["located"] == f"step {wrong + 1} is wrong"
    named = re.fullmatch(r"step (\d+) is wrong: (-?\d+)([-+*])(\d+) is (-?\d+)(, not -?\d+)?", texts["corrective"])
    if wrong >= len(problem.levels):
        assert texts["corrective"].startswith(f"step {wrong + 1} is wrong: the answer line is #")
        return
    path = tuple(step_op for step_op in _path_of(verdict)[:wrong])
    op = (named[3], int(named[4]))
    tree = explicit_tree(problem)
    assert op in problem.levels[wrong]
    assert tree.nodes[(*path, op)]["reachable"]
    assert int(named[2]) == tree.nodes[path]["value"] and int(named[5]) == apply_op(int(named[2]), op)


def _path_of(verdict):
    """The ops of a verdict's parsed step lines."""
    ops = []
    for step in verdict.steps:
        m = re.fullmatch(r"-?\d+([-+*])(\d+)=-?\d+\n?", step.text)
        if step.kind == "answer" or m is None:
            break
        ops.append((m[1], int(m[2])))
    return ops


@given(st.one_of(chains(), puzzles()), indices, st.data())
def test_levels_nest_and_a_correct_response_gets_no_error_feedback(task, index, data):
    problem = task.problem(index)
    gold = task.gold_solution(problem)
    _, correct = all_levels(task, problem, gold)
    assert all(correct[level] == "" for level in ERROR_LEVELS)
    text = data.draw(st.one_of(mutated(gold), any_text))
    _, texts = all_levels(task, problem, text)
    if texts["indicative"]:
        assert "wrong" in texts["located"]
        assert texts["corrective"].startswith(texts["located"] + ": ")
    else:
        assert texts["located"] == texts["corrective"] == ""


@given(st.one_of(chains(), puzzles()), indices, any_text, st.booleans())
def test_arbitrary_text_is_never_evaluated(task, index, text, gold_sibling):
    problem = task.problem(index)
    original = builtins.eval, builtins.exec

    def refuse(*args, **kwargs):
        raise AssertionError("model text was evaluated")

    builtins.eval = builtins.exec = refuse
    try:
        gold = task.gold_solution(problem)
        siblings = [(text, task.score(problem, text))] + ([(gold, task.score(problem, gold))] if gold_sibling else [])
        _, texts = all_levels(task, problem, text, siblings)
    finally:
        builtins.eval, builtins.exec = original
    first_correct = next((t for t, v in siblings if v.process_correct), "")
    assert texts["solution"] == first_correct
    assert all("\n" not in texts[level] for level in ERROR_LEVELS)


def test_solution_level_takes_the_first_correct_sibling_or_nothing():
    task = ArithmeticChain()
    problem = task.problem(3)
    gold = task.gold_solution(problem)
    wrong = "1+1=3\n#3\n"
    scored = [(t, task.score(problem, t)) for t in (wrong, gold + "", wrong)]
    verdict = task.score(problem, wrong)
    assert feedback(task, problem, verdict, "solution", scored) == gold
    assert feedback(task, problem, verdict, "solution", [scored[0]]) == ""
    assert feedback(task, problem, verdict, "solution") == ""


def test_a_bad_level_is_one_error_naming_the_field_and_the_allowed_values():
    task = ArithmeticChain()
    problem = task.problem(0)
    verdict = task.score(problem, "")
    with pytest.raises(ConfigError, match=r"level='hint' is not allowed: one of \('none', 'indicative', 'located', 'corrective', 'solution'\)"):
        feedback(task, problem, verdict, "hint")
