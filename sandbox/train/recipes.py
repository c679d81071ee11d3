"""Every cached model by name: warm starts, PRMs, ThinkPRM judges and StepWiser judges in one table.

    RECIPES[name] = Recipe(kind, the tests load it, its build: name -> checkpoint directory)

Each kind keeps its configs beside its build (``PRESETS`` in ``sandbox.train.warmstart``,
``PRM_RECIPES`` in ``prm_recipes``, ``JUDGE_RECIPES`` in ``judge_recipes``, ``STEPWISER_RECIPES``
in ``stepwiser_train``); this table names them all, so that one name finds any cached model and a
name is never used twice. Every artifact is keyed the same way (``sandbox.train.artifact_cache``):
its config, the directory names of the artifacts it starts from, and the files its build can run
-- the build's module and every package module it imports, directly or through others, read from
the import statements (``sandbox.layers.source_files``), not a hand-kept list.

``TEST_RECIPES`` are those the tests and tutorials load; ``dev.py test`` builds them first:

    python -m sandbox.train.recipes --tests          the names, one per line
    python -m sandbox.train.recipes NAME [NAME ...]  build (or find) them; prints each directory
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sandbox.train.judge_recipes import JUDGE_RECIPES, judge_checkpoint
from sandbox.train.prm_recipes import PRM_RECIPES, prm_checkpoint
from sandbox.train.stepwiser_train import STEPWISER_RECIPES, stepwiser_checkpoint
from sandbox.train.warmstart import PRESETS, warmstart
from toy_envs.base import check


@dataclass(frozen=True)
class Recipe:
    kind: str
    """``warmstart``, ``prm``, ``judge`` or ``stepwiser``."""
    build: Callable[[str], Path]
    """Name -> the checkpoint directory, trained when the cache lacks it."""
    tests: bool
    """The tests or tutorials load it (``dev.py test`` builds it before they run)."""


USED_BY_TESTS = {"tiny", "tiny-noisy", "tiny-long-answer", "tiny-calib", "tiny-mc", "tiny-rpe", "tiny-sprm", "tiny-oracle",
                 "tiny-thinkprm", "tiny-stepwiser"}
"""The recipes the tests and tutorials load (the others: benchmarks and experiments)."""

_KINDS = (("warmstart", PRESETS, warmstart), ("prm", PRM_RECIPES, prm_checkpoint),
          ("judge", JUDGE_RECIPES, judge_checkpoint), ("stepwiser", STEPWISER_RECIPES, stepwiser_checkpoint))
_names = [name for _, table, _ in _KINDS for name in table]
if len(set(_names)) != len(_names):
    raise ValueError(f"a cached-model name is used by two recipes: {sorted(n for n in _names if _names.count(n) > 1)}")

RECIPES: dict[str, Recipe] = {
    name: Recipe(kind, build, name in USED_BY_TESTS) for kind, table, build in _KINDS for name in table
}
"""Every cached model: name -> ``Recipe``."""

TEST_RECIPES = tuple(name for name, recipe in RECIPES.items() if recipe.tests)
"""The recipes the tests and tutorials load, warm starts first."""


def build(name: str) -> Path:
    """The checkpoint directory of recipe ``name`` (built on first use)."""
    check(name in RECIPES, "recipe", f"one of {sorted(RECIPES)}", name)
    return RECIPES[name].build(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.train.recipes", description="The cached models: list or build them.")
    parser.add_argument("names", nargs="*", help="Recipes to build (or find) in the cache.")
    parser.add_argument("--tests", action="store_true", help="Print the recipes the tests and tutorials load, one per line.")
    args = parser.parse_args(argv)
    if args.tests:
        print("\n".join(TEST_RECIPES))
    for name in args.names:
        print(f"{name}: {build(name)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
