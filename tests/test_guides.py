"""The extension guides run: every ```python block of each ``add_your_own_*.md`` guide under
``tutorials/guides/`` is executed, in order, in one namespace, so a guide whose example stops
working fails here. (The reference guides beside them, design, cli, results and the others, show
fragments that are not programs; ``tests/test_docs.py`` checks their links and CLI examples.)

The guides register their example task, pieces and variants in the global registries; the
registries are restored afterwards so that other tests see only the project's own entries.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

import toy_envs
from sandbox.rewards import registry

pytestmark = pytest.mark.slow

GUIDES = sorted((Path(__file__).parent.parent / "tutorials" / "guides").glob("add_your_own_*.md"))
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
REGISTRIES = [toy_envs.TASKS, registry.SOURCES, registry.FILTERS, registry.ESTIMATORS, registry.ESTIMATOR_EXTRAS,
              registry.SAMPLERS, registry.VARIANTS]


def python_blocks(path: Path) -> list[str]:
    return PYTHON_BLOCK.findall(path.read_text())


@pytest.fixture
def restored_registries():
    saved = [dict(table) for table in REGISTRIES]
    yield
    for table, before in zip(REGISTRIES, saved):
        table.clear()
        table.update(before)


def test_both_guides_exist_with_code():
    names = {path.name for path in GUIDES}
    assert {"add_your_own_task.md", "add_your_own_reward_variant.md"} <= names
    assert all(len(python_blocks(path)) >= 4 for path in GUIDES)


@pytest.mark.parametrize("guide", GUIDES, ids=lambda path: path.stem)
def test_guide_runs(guide, restored_registries, capsys):
    """Measured in fast mode on the shared 2-core machine: add_your_own_task ~15 s (SFT from
    scratch + 2 RL steps), add_your_own_reward_variant ~9 s (kit checks + 2×2 RL steps)."""
    module = types.ModuleType(f"guide_{guide.stem}")  # a real module: dataclasses look theirs up
    sys.modules[module.__name__] = module
    try:
        for number, block in enumerate(python_blocks(guide)):
            exec(compile(block, f"{guide.name} python block {number + 1}", "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
    assert capsys.readouterr().out  # the guide prints what it shows


def test_registries_are_restored_after_the_guides():
    assert "running_max" not in toy_envs.TASKS
    assert "on_track" not in registry.SOURCES and "on-track-pgrpo" not in registry.VARIANTS
