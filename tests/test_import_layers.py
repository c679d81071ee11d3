"""Every import of the package points down (``sandbox.layers``) and none runs in a circle.

The imports are read statically: ``ast`` over every module of ``sandbox/`` and ``toy_envs/``,
including imports inside functions and ``if`` blocks, so an import that only runs on some path
counts as well. ``from pkg import name`` counts as an import of ``pkg.name`` where that is a
module, else of ``pkg``.
"""

from __future__ import annotations


import pytest

from sandbox import layers
from sandbox.layers import import_graph, imports_of

KNOWN_VIOLATIONS: set[tuple[str, str]] = set()
"""Imports against the floors that are being removed; the list only shrinks (a test fails when an
entry no longer occurs, so that it is deleted here)."""
KNOWN_CIRCLES: list[list[str]] = []
"""Import circles being removed (as ``KNOWN_VIOLATIONS``)."""


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        out.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return out


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


@pytest.fixture(scope="module")
def runtime_graph() -> dict[str, set[str]]:
    """Without the imports under ``if TYPE_CHECKING:`` (annotations only; they run no code)."""
    return import_graph(type_checking=False)


def test_every_module_is_in_a_room(graph):
    for module in graph:
        layers.room(module)  # raises for a module outside every room


def violations(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    return {(a, b) for a in graph for b in graph[a] if not layers.allowed(a, b)}


def test_no_import_points_up_or_sideways(graph):
    bad = sorted(violations(graph) - KNOWN_VIOLATIONS)
    assert not bad, "imports against sandbox.layers.FLOORS:\n" + "\n".join(
        f"{a} (floor {layers.floor(a)}) imports {b} (floor {layers.floor(b)})" for a, b in bad)
    fixed = sorted(KNOWN_VIOLATIONS - violations(graph))
    assert not fixed, f"no longer imported, delete from KNOWN_VIOLATIONS: {fixed}"


def test_no_import_circle(runtime_graph):
    """A circle through a type-only import runs no code; the floors still count those imports."""
    found = circles(runtime_graph)
    assert [c for c in found if c not in KNOWN_CIRCLES] == [], f"import circles: {found}"
    assert [c for c in KNOWN_CIRCLES if c not in found] == [], f"gone, delete from KNOWN_CIRCLES: {found}"


def test_the_upward_exception_is_the_torchrun_entry_point_only(graph):
    upward = {(a, b) for a in graph for b in graph[a]
              if layers.room(a) != layers.room(b) and layers.floor(b) >= layers.floor(a)} - KNOWN_VIOLATIONS
    assert upward == layers.UPWARD_IMPORTS == {("sandbox.train.__main__", "sandbox.cli")}


def test_the_walker_sees_every_kind_of_import(tmp_path):
    """The checks above can fail: the walker finds imports at module level, in functions, relative
    ones and ``from pkg import module``; the rules reject up, sideways, and circles."""
    source = (
        "import sandbox.rng\n"
        "from sandbox.model import sampler\n"
        "from . import grpo\n"
        "def f():\n"
        "    from sandbox.train.rl import Trainer\n"
    )
    path = tmp_path / "m.py"
    path.write_text(source)
    known = {"sandbox.rng", "sandbox.model", "sandbox.model.sampler", "sandbox.rewards.grpo", "sandbox.train.rl"}
    found = imports_of(path, "sandbox.rewards.m", known)
    assert found == {"sandbox.rng", "sandbox.model.sampler", "sandbox.rewards.grpo", "sandbox.train.rl"}
    assert not layers.allowed("sandbox.rewards.m", "sandbox.train.rl")
    assert not layers.allowed("sandbox.rewards.m", "sandbox.eval.accuracy")
    assert layers.allowed("sandbox.rewards.m", "sandbox.prm.discriminative")
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []
    typed = tmp_path / "t.py"
    typed.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from sandbox.train.rl import Trainer\n")
    assert imports_of(typed, "sandbox.rewards.t", known) == {"sandbox.train.rl"}
    assert imports_of(typed, "sandbox.rewards.t", known, type_checking=False) == set()
