"""One table of every cached model; each artifact is keyed by the files its build imports."""

from __future__ import annotations

from sandbox.layers import imported_closure, source_files
from sandbox.train import judge_recipes, prm_recipes, stepwiser_train, warmstart
from sandbox.train.recipes import RECIPES, TEST_RECIPES, main


def test_the_table_names_every_cached_model_once():
    tables = {"warmstart": warmstart.PRESETS, "prm": prm_recipes.PRM_RECIPES, "judge": judge_recipes.JUDGE_RECIPES,
              "stepwiser": stepwiser_train.STEPWISER_RECIPES}
    assert sum(len(t) for t in tables.values()) == len(RECIPES)
    for kind, table in tables.items():
        assert {name for name, recipe in RECIPES.items() if recipe.kind == kind} == set(table)
    kinds = [RECIPES[name].kind for name in TEST_RECIPES]
    assert kinds == sorted(kinds, key=["warmstart", "prm", "judge", "stepwiser"].index)  # warm starts built first
    assert {"tiny", "tiny-mc", "tiny-thinkprm", "tiny-stepwiser"} <= set(TEST_RECIPES)


def test_the_tests_recipes_are_listed_for_dev_py(capsys):
    assert main(["--tests"]) == 0
    assert capsys.readouterr().out.split() == list(TEST_RECIPES)


def test_a_build_is_keyed_by_the_files_it_imports_and_only_those():
    files = source_files("sandbox.train.warmstart")
    assert {"sandbox/train/warmstart.py", "sandbox/train/sft.py", "sandbox/model/model.py", "toy_envs/arithmetic.py",
            "sandbox/train/accel.py", "sandbox/eval/accuracy.py"} <= set(files)
    assert "sandbox/train/rl.py" not in files and "sandbox/rewards/registry.py" not in files
    assert "sandbox/train/rl.py" in source_files("sandbox.train.stepwiser_train")  # its GRPO runs the trainer
    assert set(source_files("sandbox.train.warmstart")) <= set(source_files("sandbox.train.prm_recipes"))


def test_the_closure_is_closed_under_imports():
    from sandbox.layers import _imports

    closure = set(imported_closure("sandbox.train.prm_recipes"))
    for module in closure:
        assert set(_imports(module)) <= closure, module
