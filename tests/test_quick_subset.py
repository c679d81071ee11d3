"""The quick regression subset (``pytest -m "not slow and not gpu"``) keeps a property test of every
reward piece: for each file of ``sandbox/rewards/`` other than the engine's and the helpers the
pieces share (``NOT_PIECES``), some test
that is neither ``slow`` nor ``gpu`` is a hypothesis property (``@given``) or runs the kit on the
piece (``check_advantage_estimator`` / ``check_filter`` / ``check_reward_source``), in a test
file that imports the piece's module -- or ``tests/test_testing_registry.py``, whose kit tests
cover every module with an entry in ``ESTIMATORS``, ``FILTERS`` or ``SOURCES``.

Read from the test files' syntax (nothing is run): well under a second after the imports.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REWARDS = ROOT / "sandbox" / "rewards"
NOT_PIECES = {"__init__", "base", "catalog", "explain", "pieces", "registry", "answer_line", "auxiliary", "groups"}
"""The files that run or describe the pieces (the engine) and the helpers the pieces share (the answer
line's start, the auxiliary-model protocol, group statistics), rather than being a piece."""
KIT_CHECKS = {"check_advantage_estimator", "check_filter", "check_reward_source"}
EXCLUDED_MARKS = {"slow", "gpu"}
REGISTRY_TEST = "test_testing_registry.py"


def marks(decorators: list[ast.expr]) -> set[str]:
    """Names of the ``pytest.mark.NAME`` among decorators or a ``pytestmark`` value."""
    found = set()
    for node in decorators:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Attribute) and sub.value.attr == "mark":
                found.add(sub.attr)
    return found


def module_marks(tree: ast.Module) -> set[str]:
    return {name for node in tree.body if isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets) for name in marks([node.value])}


def is_property_test(fn: ast.FunctionDef) -> bool:
    """``@given(...)``, or a call of one of the kit's checks in its body."""
    given = any(isinstance(sub, ast.Name) and sub.id == "given" for d in fn.decorator_list for sub in ast.walk(d))
    calls = {sub.func.id if isinstance(sub.func, ast.Name) else getattr(sub.func, "attr", "")
             for sub in ast.walk(fn) if isinstance(sub, ast.Call)}
    return given or bool(calls & KIT_CHECKS)


def imported_reward_modules(tree: ast.Module) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sandbox.rewards."):
            found.add(node.module.rsplit(".", 1)[1])
        elif isinstance(node, ast.ImportFrom) and node.module == "sandbox.rewards":
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name.rsplit(".", 1)[1] for a in node.names if a.name.startswith("sandbox.rewards.")}
    return found


@functools.cache
def quick_property_test_files() -> dict[str, set[str]]:
    """Test file name -> the reward modules it imports, for files with a quick property test."""
    files = {}
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        tree = ast.parse(path.read_text())
        if module_marks(tree) & EXCLUDED_MARKS:
            continue
        tests = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")]
        if any(is_property_test(fn) and not marks(fn.decorator_list) & EXCLUDED_MARKS for fn in tests):
            files[path.name] = imported_reward_modules(tree)
    return files


def registered_modules() -> set[str]:
    from sandbox.rewards.registry import ESTIMATORS, FILTERS, SOURCES

    return {fn.__module__.rsplit(".", 1)[1] for table in (ESTIMATORS, FILTERS, SOURCES) for fn in table.values()}


PIECES = sorted(p.stem for p in REWARDS.glob("*.py") if p.stem not in NOT_PIECES)


@pytest.mark.parametrize("piece", PIECES)
def test_every_reward_piece_has_a_property_test_in_the_quick_subset(piece):
    files = quick_property_test_files()
    covering = sorted(name for name, modules in files.items() if piece in modules)
    if REGISTRY_TEST in files and piece in registered_modules():
        covering.append(REGISTRY_TEST)
    assert covering, (f"sandbox/rewards/{piece}.py has no property test (@given or a kit check) outside the slow "
                      f"and gpu marks in a test file that imports it: pytest -m 'not slow and not gpu' would skip it")


def test_the_check_sees_marks_and_property_tests():
    source = '''
import pytest
from hypothesis import given
from sandbox.rewards.grpo import grpo
from sandbox.rewards import rloo

@given(x=1)
def test_a(x): pass

@pytest.mark.slow
def test_b(): check_filter(f)

def test_c(): pass
'''
    tree = ast.parse(source)
    tests = {fn.name: fn for fn in tree.body if isinstance(fn, ast.FunctionDef)}
    assert is_property_test(tests["test_a"]) and is_property_test(tests["test_b"]) and not is_property_test(tests["test_c"])
    assert marks(tests["test_b"].decorator_list) == {"slow"} and not marks(tests["test_a"].decorator_list)
    assert imported_reward_modules(tree) == {"grpo", "rloo"}
    assert module_marks(ast.parse("import pytest\npytestmark = [pytest.mark.slow, pytest.mark.hf]\n")) == {"slow", "hf"}
