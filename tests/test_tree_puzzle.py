import dataclasses
from itertools import product

import networkx as nx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from toy_envs import TASKS, ConfigError, TreePuzzle, make_task
from toy_envs.tree_dead_ends import step_dead_end_fractions, tree_dead_end_fraction
from toy_envs.tree_puzzle import TreeProblem, explicit_tree, path_values, solutions

any_text = st.text(alphabet=st.characters(min_codepoint=9, max_codepoint=126), max_size=200)
operator_sets = st.permutations("+-*").flatmap(lambda symbols: st.integers(1, 3).map(lambda n: "".join(symbols[:n])))
indices = st.integers(0, 10**6)


@st.composite
def puzzles(draw, max_depth=3, max_branching=3):
    operators = draw(operator_sets)
    branching = draw(st.integers(2, max_branching))
    operand_min = draw(st.integers(1, 9))
    min_width = -(-branching // len(operators)) - 1  # enough distinct ops for one level
    start_min = draw(st.integers(-20, 20))
    return TreePuzzle(
        seed=draw(st.integers(0, 1000)),
        depth=draw(st.integers(1, max_depth)),
        branching=branching,
        start_min=start_min,
        start_max=start_min + draw(st.integers(0, 30)),
        operand_min=operand_min,
        operand_max=operand_min + draw(st.integers(min_width, min_width + 8)),
        operators=operators,
        dead_end_fraction=draw(st.floats(0, 1)),
        long_answer=draw(st.booleans()),
    )


def chain_text(start, path, stated):
    """Step lines applying ``path`` from ``start`` and stating ``stated``."""
    lhs = (start, *stated)
    return "".join(f"{a}{op}{operand}={b}\n" for a, (op, operand), b in zip(lhs, path, stated))


EXAMPLE = TreeProblem(
    start=5,
    levels=((("+", 3), ("*", 2), ("-", 1)), (("+", 1), ("*", 3), ("-", 2))),
    target=11,
    dead_end_fraction=0.0,
    gold_path=(("*", 2), ("+", 1)),
    index=0,
    split="train",
)


@given(puzzles(), indices)
def test_problem_is_deterministic(task, index):
    problem = task.problem(index)
    assert problem == task.problem(index)
    assert problem == dataclasses.replace(task).problem(index)
    assert len(problem.levels) == task.depth
    assert all(len(set(ops)) == len(ops) == task.branching for ops in problem.levels)


def test_seeds_and_splits_differ():
    task, other_seed = TreePuzzle(seed=0), TreePuzzle(seed=1)
    assert [task.problem(i) for i in range(8)] != [other_seed.problem(i) for i in range(8)]
    train = [task.problem(i, "train").levels for i in range(8)]
    assert train != [task.problem(i, "eval").levels for i in range(8)]
    with pytest.raises(ConfigError, match="index"):
        task.problem(-3)
    with pytest.raises(ConfigError, match="split"):
        task.problem(0, "valid")


def test_prompt_and_gold_format():
    assert TreePuzzle(depth=2).prompt(EXAMPLE) == "5 -> 11\nL1: +3 *2 -1\nL2: +1 *3 -2\n"
    assert TreePuzzle(depth=2).gold_solution(EXAMPLE) == "5*2=10\n10+1=11\n#*2,+1\n"
    assert TreePuzzle(depth=2, long_answer=True).gold_solution(EXAMPLE) == "5*2=10\n10+1=11\n#10,11\n"


@given(puzzles(), indices)
def test_gold_solution_is_perfect(task, index):
    problem = task.problem(index)
    text = task.gold_solution(problem)
    verdict = task.score(problem, text)
    assert verdict.correct
    assert verdict.parse_status == "ok"
    assert verdict.first_error is None
    assert all(verdict.step_valid)
    assert all(value == 1 for value in verdict.step_value)
    assert task.format_rubric(text).score == 1
    assert problem.gold_path in solutions(problem)


def brute_force_step_fractions(tree, depth):
    """Per level t < d: the fraction of dead-end children among the children of live level-t nodes."""
    fractions = []
    for level in range(depth):
        live = [node for node, data in tree.nodes(data=True) if data["level"] == level and data["reachable"]]
        children = [child for node in live for child in tree.successors(node)]
        fractions.append(sum(not tree.nodes[child]["reachable"] for child in children) / len(children))
    return fractions


@given(puzzles(), indices)
def test_generator_guarantees_and_records_the_dead_end_fraction(task, index):
    problem = task.problem(index)
    tree = explicit_tree(problem)
    assert tree.nodes[()]["reachable"]
    assert len(solutions(problem)) >= 1
    steps = brute_force_step_fractions(tree, task.depth)
    assert list(step_dead_end_fractions(problem)) == pytest.approx(steps)
    assert problem.dead_end_fraction == pytest.approx(sum(steps) / len(steps))
    assert 0 <= problem.dead_end_fraction <= (task.branching - 1) / task.branching + 1e-12
    non_root = [node for node in tree if node != ()]
    dead = sum(not tree.nodes[node]["reachable"] for node in non_root)
    assert tree_dead_end_fraction(problem) == pytest.approx(dead / len(non_root))
    leaves = [node for node in non_root if len(node) == task.depth]
    assert sorted(leaf for leaf in leaves if tree.nodes[leaf]["value"] == problem.target) == sorted(solutions(problem))


def test_dead_end_knob_moves_the_fraction():
    def mean_fraction(wanted):
        task = TreePuzzle(depth=2, branching=2, operators="+-", operand_max=3, dead_end_fraction=wanted)
        return sum(task.problem(i).dead_end_fraction for i in range(30)) / 30

    assert mean_fraction(0.0) < mean_fraction(1.0)


KNOBS = (0.0, 0.2, 0.33, 0.5, 0.67, 1.0)


@pytest.mark.parametrize(
    ("fields", "floor"),
    [({}, 0.35), ({"operators": "*"}, 0.35), ({"operators": "+"}, 0.35), ({"depth": 4, "branching": 4}, 0.32)],
)
def test_dead_end_knob_spans_a_real_range(fields, floor):
    # Measured over 100 problems: defaults, "*" and "+" give 0.30, 0.30, 0.33, 0.50, 0.67, 0.67
    # for KNOBS; depth 4 branching 4 gives 0.27, 0.27, 0.34, 0.50, 0.66, 0.75.
    n = 50

    def mean_fraction(wanted):
        task = TreePuzzle(dead_end_fraction=wanted, **fields)
        problems = [task.problem(i) for i in range(n)]
        assert all(solutions(problem) for problem in problems)
        return sum(problem.dead_end_fraction for problem in problems) / n

    means = [mean_fraction(knob) for knob in KNOBS]
    assert means == sorted(means)
    assert means[0] <= floor
    assert means[KNOBS.index(0.33)] < means[KNOBS.index(0.5)] < means[KNOBS.index(0.67)]
    assert means[KNOBS.index(0.5)] == pytest.approx(0.5, abs=0.05)
    assert means[KNOBS.index(0.67)] >= 0.6


def test_knob_extremes_at_the_defaults():
    low, high = TreePuzzle(dead_end_fraction=0.0), TreePuzzle(dead_end_fraction=1.0)
    for index in range(10):
        # a tight lattice with the target mid-range: every first-level branch is live
        assert step_dead_end_fractions(low.problem(index)) == pytest.approx((0, 2 / 9, 2 / 3))
        assert len(solutions(low.problem(index))) == 7
        # exactly one live child at every live node: a single solution
        assert step_dead_end_fractions(high.problem(index)) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
        assert len(solutions(high.problem(index))) == 1


@given(puzzles(), indices, st.data())
def test_corrupted_result_is_first_error(task, index, data):
    problem = task.problem(index)
    values = list(path_values(problem.start, problem.gold_path)[1:])
    wrong_at = data.draw(st.integers(0, task.depth - 1))
    values[wrong_at] += data.draw(st.integers(-20, 20).filter(bool))
    answer = "#" + task.format_answer(problem.gold_path, tuple(values)) + "\n"
    verdict = task.score(problem, chain_text(problem.start, problem.gold_path, values) + answer)
    assert verdict.first_error == wrong_at
    assert not verdict.step_valid[wrong_at]
    assert all(verdict.step_valid[:wrong_at])


@given(puzzles(max_depth=3, max_branching=3), st.integers(0, 200))
def test_oracle_matches_brute_force_on_every_prefix(task, index):
    problem = task.problem(index)
    tree = explicit_tree(problem)
    target_leaves = {
        node for node, data in tree.nodes(data=True) if data["level"] == task.depth and data["value"] == problem.target
    }

    def brute_force_value(node):
        return int(bool(({node} | nx.descendants(tree, node)) & target_leaves))

    for path in product(*problem.levels):
        stated = path_values(problem.start, path)[1:]
        for length in range(1, task.depth + 1):
            verdict = task.score(problem, chain_text(problem.start, path[:length], stated[:length]))
            assert all(verdict.step_valid)
            assert list(verdict.step_value) == [brute_force_value(path[: t + 1]) for t in range(length)]
            assert list(verdict.step_value) == [int(tree.nodes[path[: t + 1]]["reachable"]) for t in range(length)]


def test_valid_step_can_be_a_dead_end():
    task = TreePuzzle(depth=2)
    verdict = task.score(EXAMPLE, "5+3=8\n8+1=9\n#+3,+1\n")
    assert verdict.step_valid == (True, True, True)
    assert verdict.step_value == (0, 0, 0)
    assert not verdict.correct
    offered_twice = task.score(EXAMPLE, "5+1=6\n")  # +1 is offered at level 2 only
    assert offered_twice.step_valid == (False,)


def test_answer_rules():
    short, long = TreePuzzle(depth=2), TreePuzzle(depth=2, long_answer=True)
    assert short.score(EXAMPLE, "#*2,+1\n").correct
    assert not short.score(EXAMPLE, "#*2,+1\n").step_valid[0]
    assert not short.score(EXAMPLE, "#+1,*2\n").correct  # ops at the wrong levels
    assert not short.score(EXAMPLE, "#*2\n").correct
    assert long.score(EXAMPLE, "#10,11\n").correct
    assert not long.score(EXAMPLE, "#4,11\n").correct  # 5 -> 4 is offered (-1), 4 -> 11 is not
    assert not long.score(EXAMPLE, "#11\n").correct
    trailing = short.score(EXAMPLE, "5*2=10\n10+1=11\n#*2,+1\nsolved!")
    assert trailing.correct and all(trailing.step_valid)
    assert not short.format_rubric("5*2=10\n10+1=11\n#*2,+1\nsolved!").well_formed
    assert short.score(EXAMPLE, "5*2=10\n10+1=11\n#10,11\n").parse_status == "bad_answer"


@given(puzzles(), st.integers(0, 50), any_text)
def test_score_never_raises_on_any_text(task, index, text):
    verdict = task.score(task.problem(index), text)
    assert len(verdict.step_valid) == len(verdict.step_value) == len(verdict.steps)
    assert "".join(step.text for step in verdict.steps) == text
    task.format_rubric(text)


@given(puzzles(), st.integers(0, 50), st.data())
def test_score_never_raises_on_mutated_gold(task, index, data):
    problem = task.problem(index)
    text = task.gold_solution(problem)
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(text)))
        piece = data.draw(st.text(alphabet="0123456789+-*=#,\n ", max_size=3))
        text = text[:position] + piece + text[position + data.draw(st.integers(0, 3)) :]
    verdict = task.score(problem, text)
    assert "".join(step.text for step in verdict.steps) == text


def test_largest_tree_is_fast_enough():
    task = TreePuzzle(depth=6, branching=5)
    problem = task.problem(0)
    assert task.score(problem, task.gold_solution(problem)).correct


BAD_FIELDS = [
    ("seed", None),
    ("depth", 0),
    ("depth", 7),
    ("branching", 1),
    ("branching", 6),
    ("branching", 4.0),
    ("start_min", 21),
    ("start_max", None),
    ("operand_min", 0),
    ("operand_max", 0),
    ("operators", ""),
    ("operators", "**"),
    ("operators", "+x"),
    ("dead_end_fraction", -0.1),
    ("dead_end_fraction", 1.5),
    ("dead_end_fraction", float("nan")),
    ("dead_end_fraction", True),
    ("long_answer", "yes"),
]


@pytest.mark.parametrize(("field", "value"), BAD_FIELDS)
def test_bad_field_raises(field, value):
    with pytest.raises(ConfigError, match=field):
        TreePuzzle(**{field: value})


def test_too_few_distinct_ops_raises():
    with pytest.raises(ConfigError, match="branching"):
        TreePuzzle(branching=3, operators="+", operand_min=1, operand_max=2)


def test_make_task():
    assert TASKS["tree"] is TreePuzzle
    assert make_task("tree", depth=2) == TreePuzzle(depth=2)
    with pytest.raises(ConfigError, match="depth"):
        make_task("tree", depth=9)

