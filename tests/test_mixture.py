"""Task mixtures (``toy_envs.mixture``): chain length / tree depth drawn per problem, keyed by index."""

import hashlib
import math
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toy_envs import ArithmeticChain, ConfigError, TreePuzzle, make_task
from toy_envs.mixture import draw_length, parse_mixture
from sandbox.eval.accuracy import default_max_new_tokens

EDGE = "1:0.33,2:0.33,3:0.33,4:0.005,5:0.005"

mixtures = st.lists(
    st.tuples(st.integers(1, 6), st.sampled_from([0, 0.005, 0.25, 1, 3])), min_size=1, max_size=4, unique_by=lambda p: p[0]
).filter(lambda pairs: sum(w for _, w in pairs) > 0)


def spec(pairs) -> str:
    return ",".join(f"{length}:{weight}" for length, weight in pairs)


def problems_digest(task, n: int = 200) -> str:
    """sha256 of every prompt and gold solution of train and eval problems 0..n-1."""
    h = hashlib.sha256()
    for split in ("train", "eval"):
        for i in range(n):
            problem = task.problem(i, split)
            h.update((task.prompt(problem) + task.gold_solution(problem)).encode())
    return h.hexdigest()[:16]


@pytest.mark.parametrize(
    "name, fields, digest",
    [
        ("arithmetic", {}, "cab7d23254282f0e"),
        ("arithmetic", {"n_steps": 2, "operators": "+-", "start_max": 50}, "4c29661aaa452693"),
        ("arithmetic", {"n_steps": 5, "modulus": 7, "long_answer": True}, "b2edaa35a65ee17e"),
        ("tree", {}, "f932008beb978f55"),
        ("tree", {"depth": 2, "branching": 3, "dead_end_fraction": 0.5}, "3838fcd19393dbbc"),
        ("tree", {"depth": 4, "branching": 2, "long_answer": True}, "5b966a0ef3b0a2b4"),
    ],
)
def test_configs_without_a_mixture_make_the_same_problems_as_before(name, fields, digest):
    """Digests computed with the code before mixtures existed: existing configs (and so the
    warm starts trained on them) are byte-identical."""
    assert problems_digest(make_task(name, **fields)) == digest


@given(mixtures, st.integers(0, 1000), st.sampled_from(["train", "eval"]), st.integers(0, 10**6))
def test_length_is_a_pure_function_of_the_key(pairs, seed, split, index):
    task = ArithmeticChain(seed=seed, n_steps_mix=spec(pairs))
    problem = task.problem(index, split)
    assert problem == ArithmeticChain(seed=seed, n_steps_mix=spec(pairs)).problem(index, split)
    assert task.length(problem) in task.lengths()
    assert dict(pairs)[task.length(problem)] > 0


@given(mixtures, st.integers(0, 1000), st.integers(0, 10**6))
def test_a_mixture_problem_is_the_fixed_length_problem_of_its_length(pairs, seed, index):
    """The length comes from its own keyed stream: problem i of length k under a mixture is
    problem i of the same config with n_steps = k."""
    task = ArithmeticChain(seed=seed, operators="+-", n_steps_mix=spec(pairs))
    problem = task.problem(index, "eval")
    assert problem == task.at_length(task.length(problem)).problem(index, "eval")


@pytest.mark.parametrize("mixture", [EDGE, "1:1,2:1,3:1", "4:1,5:1", "2:0.7,3:0,6:0.3"])
def test_empirical_length_distribution_matches_the_mixture(mixture):
    """20000 draws per split; every length's frequency within 4.5 standard errors of its
    probability (naive recomputation of the normalised weights), zero-weight lengths never drawn."""
    task = ArithmeticChain(n_steps_mix=mixture)
    pairs = [(int(a), float(b)) for a, b in (item.split(":") for item in mixture.split(","))]
    total = sum(w for _, w in pairs)
    n = 20000
    for split in ("train", "eval"):
        counts = Counter(task.length(task.problem(i, split)) for i in range(n))
        for length, weight in pairs:
            p = weight / total
            assert abs(counts[length] / n - p) <= 4.5 * math.sqrt(p * (1 - p) / n) + 1e-12, (length, counts)
        assert set(counts) <= {length for length, weight in pairs if weight > 0}


def test_tree_depth_mixture():
    task = TreePuzzle(depth_mix="1:0.5,2:0.3,3:0.2", branching=2)
    assert task.lengths() == (1, 2, 3)
    problems = [task.problem(i, "eval") for i in range(60)]
    depths = [task.length(p) for p in problems]
    assert set(depths) == {1, 2, 3}
    for i, problem in enumerate(problems):
        assert problem == task.at_length(depths[i]).problem(i, "eval")
        assert task.score(problem, task.gold_solution(problem)).process_correct
    draws = Counter(draw_length(parse_mixture("depth_mix", task.depth_mix, 1, 6), "tree", 0, "train", i) for i in range(20000))
    for depth, p in ((1, 0.5), (2, 0.3), (3, 0.2)):
        assert abs(draws[depth] / 20000 - p) <= 4.5 * math.sqrt(p * (1 - p) / 20000)


def test_gold_of_every_length_is_process_correct():
    task = ArithmeticChain(operators="+-", start_max=50, n_steps_mix=EDGE)
    for i in range(300):
        problem = task.problem(i, "train")
        verdict = task.score(problem, task.gold_solution(problem))
        assert verdict.process_correct and len(verdict.steps) == task.length(problem) + 1


def test_response_budget_covers_the_longest_length():
    """default_max_new_tokens probes the mixture's longest length, however rare."""
    task = ArithmeticChain(operators="+-", start_max=50, n_steps_mix=EDGE)
    longest = task.at_length(5)
    budget = default_max_new_tokens(task)
    assert budget == default_max_new_tokens(longest)
    assert all(len(longest.gold_solution(longest.problem(i))) < budget for i in range(256))
    fixed = ArithmeticChain(n_steps=2)
    assert fixed.lengths() == (2,) and fixed.at_length(2) == fixed


@pytest.mark.parametrize(
    "name, field, value",
    [
        ("arithmetic", "n_steps_mix", "x"),
        ("arithmetic", "n_steps_mix", "1:0.5,1:0.5"),
        ("arithmetic", "n_steps_mix", "0:1"),
        ("arithmetic", "n_steps_mix", "13:1"),
        ("arithmetic", "n_steps_mix", "1:-1"),
        ("arithmetic", "n_steps_mix", "1:0,2:0"),
        ("arithmetic", "n_steps_mix", "1:nan"),
        ("arithmetic", "n_steps_mix", "1:inf"),
        ("arithmetic", "n_steps_mix", "1.5:1"),
        ("arithmetic", "n_steps_mix", ("1", 1)),
        ("arithmetic", "n_steps_mix", None),
        ("tree", "depth_mix", "7:1"),
        ("tree", "depth_mix", "2:1;3:1"),
        ("tree", "depth_mix", 3),
    ],
)
def test_bad_mixture_is_one_clear_error(name, field, value):
    with pytest.raises(ConfigError, match=f"^{field}=.*length:weight"):
        make_task(name, **{field: value})


def test_mixture_respects_the_digit_limit():
    """The longest length of the mixture is what must keep intermediates within MAX_DIGITS."""
    with pytest.raises(ConfigError, match="^n_steps_mix="):
        make_task("arithmetic", n_steps_mix="1:1,12:0.01", operators="*", start_max=10**17)
    make_task("arithmetic", n_steps_mix="1:1", operators="*", start_max=10**17)


@pytest.mark.parametrize("exposed, control", [("edge", "edge-control"), ("edge-tree", "edge-tree-control")])
def test_edge_warm_start_pairs_differ_only_in_a_small_share_of_the_edge(exposed, control):
    """The edge testbed's warm-start pairs (configs only; no model is built): each task config
    validates; the pair is identical but for the length mixture; the exposed preset puts 0.5-5% of
    its demonstrations on lengths past the control's range (chains 1%, trees 5%), the control none, and the bench's
    default edge length is among the exposed lengths."""
    from sandbox.bench.edge import DEFAULT_MIX, MIX_FIELDS
    from sandbox.train.warmstart import PRESETS

    a, b = PRESETS[exposed], PRESETS[control]
    field = MIX_FIELDS[a.task]
    assert a.task == b.task
    assert {k: v for k, v in a.task_fields.items() if k != field} == {k: v for k, v in b.task_fields.items() if k != field}
    assert (a.model, a.sft, a.init) == (b.model, b.sft, b.init)
    tasks = [make_task(p.task, **p.task_fields) for p in (a, b)]
    high = 5 if a.task == "arithmetic" else 6
    weights = [dict(parse_mixture(field, p.task_fields[field], 1, high)) for p in (a, b)]
    control_range = max(tasks[1].lengths())
    assert 0.005 <= sum(w for length, w in weights[0].items() if length > control_range) <= 0.05
    assert all(length <= control_range for length in tasks[1].lengths())
    edge = int(DEFAULT_MIX[a.task].split(":")[0])
    assert edge > control_range and edge in tasks[0].lengths()
