"""One table of every cached model; each artifact is keyed by the files its build imports."""

from __future__ import annotations

import importlib
from dataclasses import replace

import pytest

from sandbox.layers import imported_closure, source_files
from sandbox.model.model import ModelConfig, TinyLlama
from sandbox.model.checkpoint import save_checkpoint
from sandbox.train import feedback_warmstart, judge_sft, pcl_warmstart, prm_train, recipes, stepwiser_config, warmstart
from sandbox.train.recipes import RECIPES, TEST_RECIPES, main
from toy_envs import ConfigError


def field_at(config, path: str):
    """The value at dotted ``path`` of a config (``"sft.steps"``)."""
    for part in path.split("."):
        config = getattr(config, part)
    return config


def test_the_table_names_every_cached_model_once(monkeypatch):
    monkeypatch.delenv(recipes.FAST_ENV, raising=False)  # each recipe as named
    tables = {"warmstart": {**warmstart.PRESETS, **feedback_warmstart.FEEDBACK_PRESETS, **pcl_warmstart.PCL_PRESETS},
              "prm": prm_train.PRM_RECIPES, "judge": judge_sft.JUDGE_RECIPES, "stepwiser": stepwiser_config.STEPWISER_RECIPES}
    copies = {f"{name}-fast" for name in recipes.FAST_COPIES}
    assert sum(len(t) for t in tables.values()) + len(copies) == len(RECIPES)
    for name, fields in recipes.FAST_COPIES.items():
        # a copy: its recipe with those fields replaced, continuing its init's copy where that has
        # one, a warm start on the test model; nothing else
        original, copy = RECIPES[name].config, RECIPES[f"{name}-fast"].config
        init = fields.get("init", original.init)
        assert copy.init == (f"{init}-fast" if init in recipes.FAST_COPIES else init)
        restored = replace(copy, init=original.init)
        if RECIPES[name].kind == "warmstart":
            assert copy.model == warmstart.TEST_MODEL != original.model
            restored = replace(restored, model=original.model)
        for path, value in fields.items():
            assert path == "init" or field_at(copy, path) == value != field_at(original, path)
            restored = recipes.replaced(restored, path, field_at(original, path))
        assert restored == original
        assert RECIPES[f"{name}-fast"].build == RECIPES[name].build and recipes.path(f"{name}-fast") != recipes.path(name)
        tables[RECIPES[name].kind] = {**tables[RECIPES[name].kind], f"{name}-fast": copy}
    for kind, table in tables.items():
        assert {name for name, recipe in RECIPES.items() if recipe.kind == kind} == set(table)
        for name, config in table.items():
            assert RECIPES[name].name == name and (RECIPES[name].config is config or name in copies)
            assert not config.init or RECIPES[config.init].kind == "warmstart"  # every init is a warm start
    kinds = [RECIPES[name].kind for name in TEST_RECIPES]
    assert kinds == sorted(kinds, key=["warmstart", "prm", "judge", "stepwiser"].index)  # warm starts built first
    assert {"tiny-fast", "tiny-mc-fast", "tiny-thinkprm-fast", "tiny-stepwiser-fast"} <= set(TEST_RECIPES)


def test_the_tests_recipes_are_listed_for_dev_py(capsys):
    assert main(["--tests"]) == 0
    assert capsys.readouterr().out.split() == list(TEST_RECIPES)


def lane_estimates(lanes: list[list[str]], seconds: dict[str, float]) -> dict[str, tuple[float, float]]:
    """Naive replay of a lane plan: name -> (start, end), each lane running its builds in order and
    a build starting only after its init's end when the init is in the plan (else at once)."""
    spans: dict[str, tuple[float, float]] = {}
    position = [0] * len(lanes)
    clock = [0.0] * len(lanes)
    while any(position[i] < len(lane) for i, lane in enumerate(lanes)):
        progressed = False
        for i, lane in enumerate(lanes):
            if position[i] == len(lane):
                continue
            name = lane[position[i]]
            init = RECIPES[name].config.init
            if init in seconds and init not in spans:
                continue  # its init is in another lane, not replayed yet
            start = max(clock[i], spans[init][1] if init in seconds else 0.0)
            spans[name] = (start, start + seconds[name])
            clock[i], position[i], progressed = start + seconds[name], position[i] + 1, True
        assert progressed, f"the plan waits in a circle: {lanes}"
    return spans


@pytest.mark.parametrize("lanes", [1, 2, 3, 4])
def test_build_lanes_put_every_test_recipe_in_one_lane_and_end_near_the_bound(lanes, capsys):
    names = list(TEST_RECIPES)
    plan = recipes.build_lanes(names, lanes)
    assert 1 <= len(plan) <= lanes and sorted(n for lane in plan for n in lane) == sorted(names)
    seconds = {name: recipes.BUILD_SECONDS[name] for name in names}
    spans = lane_estimates(plan, seconds)
    for name in names:  # never before its init's estimated end
        init = RECIPES[name].config.init
        assert init not in seconds or spans[name][0] >= spans[init][1]

    def chain(name: str) -> float:
        init = RECIPES[name].config.init
        return seconds[name] + (chain(init) if init in seconds else 0)

    # no plan ends before this: the longest chain, or the work spread over the lanes plus the time a
    # lane must idle at the start -- with more lanes than recipes that start from nothing listed,
    # the others wait at least until the first of those that another recipe starts from is built
    roots = [n for n in names if RECIPES[n].config.init not in seconds]
    first_init = min((seconds[n] for n in roots if any(RECIPES[m].config.init == n for m in names)), default=0)
    idle = max(0, lanes - len(roots)) * first_init
    bound = max((sum(seconds.values()) + idle) / lanes, max(chain(n) for n in names))
    # builds are indivisible: the even spread can be out of reach by up to a build (here 4 lanes over
    # builds of 35, 20, 15, 10 and 5 s end at 75 s at best against a bound of 71.25)
    assert max(end for _, end in spans.values()) <= 1.05 * bound + min(seconds.values())
    assert main(["--tests", "--lanes", str(lanes)]) == 0
    assert [line.split() for line in capsys.readouterr().out.splitlines()] == plan


def test_build_lanes_follow_the_measured_durations_and_refuse_bad_input(monkeypatch):
    monkeypatch.setitem(recipes.BUILD_SECONDS, "tiny-mc", 1000)  # the longest now goes first, alone
    plan = recipes.build_lanes(["tiny", "tiny-mc", "tiny-oracle", "tiny-noisy"], 2)
    assert plan[0][:2] == ["tiny", "tiny-mc"] and "tiny-mc" not in plan[1]
    monkeypatch.delitem(recipes.BUILD_SECONDS, "tiny-oracle")  # unmeasured: UNMEASURED_SECONDS
    assert sorted(sum(recipes.build_lanes(["tiny-oracle", "tiny-sprm"], 2), [])) == ["tiny-oracle", "tiny-sprm"]
    assert recipes.build_lanes(["tiny-calib"], 3) == [["tiny-calib"]]  # its init not listed: the build makes it
    with pytest.raises(ConfigError, match="lanes="):
        recipes.build_lanes(["tiny"], 0)
    with pytest.raises(ConfigError, match="recipe="):
        recipes.build_lanes(["tiny", "no-such-recipe"], 2)


def test_a_build_is_keyed_by_the_files_it_imports_and_only_those():
    files = source_files("sandbox.train.warmstart")
    assert {"sandbox/train/warmstart.py", "sandbox/train/sft.py", "sandbox/model/model.py", "toy_envs/arithmetic.py",
            "sandbox/train/accel.py", "sandbox/eval/accuracy.py"} <= set(files)
    assert "sandbox/train/rl.py" not in files and "sandbox/rewards/registry.py" not in files
    assert "sandbox/train/rl.py" in source_files("sandbox.train.stepwiser_train")  # its GRPO runs the trainer
    assert "sandbox/train/recipes.py" not in source_files("sandbox.train.prm_train")  # the table is no build code
    for recipe in RECIPES.values():  # each build names a function of its module
        module, _, function = recipe.build.partition(":")
        assert callable(getattr(importlib.import_module(module), function)), recipe.build
        assert f"{module.replace('.', '/')}.py" in source_files(module)
    # the table is below the trainer (which loads recipes), although the StepWiser build runs it
    assert "sandbox/train/rl.py" not in source_files("sandbox.train.recipes")


def test_a_key_follows_its_config_and_its_init(monkeypatch):
    monkeypatch.delenv(recipes.FAST_ENV, raising=False)  # the recipes as named
    before = {name: recipes.path(name) for name in ("tiny", "tiny-mc", "tiny-thinkprm")}
    tiny = RECIPES["tiny"]
    monkeypatch.setitem(RECIPES, "tiny", replace(tiny, config=replace(tiny.config, sft=replace(tiny.config.sft, steps=301))))
    after = {name: recipes.path(name) for name in before}
    assert all(after[name] != before[name] for name in before)  # the init's key is part of theirs
    assert after["tiny"].parent == before["tiny"].parent and after["tiny"].name.startswith("tiny-")


def test_the_closure_is_closed_under_imports():
    from sandbox.layers import _imports

    closure = set(imported_closure("sandbox.train.prm_train"))
    for module in closure:
        assert set(_imports(module)) <= closure, module


def test_specs_name_a_recipe_of_the_kind_or_a_directory_of_its_layout(tmp_path):
    model = TinyLlama(ModelConfig(d_model=32, n_layers=1, n_heads=2, n_kv_heads=2, d_ff=64))
    for role in ("student", "teacher"):
        save_checkpoint(tmp_path / "judges" / role, model, {"judge": role})
    save_checkpoint(tmp_path / "one", model, {})
    for spec in ("tiny-thinkprm", "tiny-thinkprm:teacher", str(tmp_path / "judges"), f"{tmp_path / 'judges'}:teacher",
                 str(tmp_path / "one")):
        recipes.check_spec(spec, "judge")
    for spec, kind in (("tiny-thinkprm:critic", "judge"), ("tiny-mc", "judge"), ("tiny-thinkprm", "prm"), ("tiny-mc:teacher", "prm"),
                       (f"{tmp_path / 'one'}:teacher", "judge"), (str(tmp_path / "missing"), "prm"), ("", "prm")):
        with pytest.raises(ConfigError, match=f"{kind}="):
            recipes.check_spec(spec, kind)
    with pytest.raises(ConfigError, match="field="):
        recipes.check_spec("nope", "prm", field="field")
    with pytest.raises(ConfigError, match="recipe="):
        recipes.load("no-such-recipe")
    loaded = recipes.load(f"{tmp_path / 'judges'}:teacher", "judge")
    assert not loaded.training and loaded is recipes.load(f"{tmp_path / 'judges'}:teacher", "judge")  # shared
    assert recipes.load("tiny")[0] is not recipes.load("tiny")[0]  # a warm start is loaded afresh: callers train it


def test_a_build_announces_itself_once_with_its_measured_duration(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("REWARD_SANDBOX_CACHE", str(tmp_path))
    monkeypatch.delenv(recipes.FAST_ENV, raising=False)  # 'tiny' as named
    built = []

    def fake_build(name, config, init, out):  # stands in for SFT: writes the file a complete build writes last
        built.append(name)
        out.mkdir(parents=True)
        (out / "state.json").write_text("{}")

    monkeypatch.setattr(warmstart, "build_warmstart", fake_build)
    monkeypatch.setitem(recipes.BUILD_SECONDS, "tiny", 42)
    assert recipes.announcement("tiny") == "building cached warm start 'tiny' (about 42 s on one core) ..."
    path = recipes.build("tiny")
    assert capsys.readouterr().out == "building cached warm start 'tiny' (about 42 s on one core) ...\n"
    assert recipes.build("tiny") == path and built == ["tiny"]  # cached: no second build, no second line
    assert capsys.readouterr().out == ""
    monkeypatch.delitem(recipes.BUILD_SECONDS, "tiny")
    assert recipes.announcement("tiny") == "building cached warm start 'tiny' ..."  # no measurement: no estimate


def test_every_recipe_the_tests_and_tutorials_load_has_a_measured_build_duration():
    assert set(TEST_RECIPES) <= set(recipes.BUILD_SECONDS)
    assert set(recipes.BUILD_SECONDS) <= set(RECIPES) and all(s > 0 for s in recipes.BUILD_SECONDS.values())


def test_a_recipe_trains_on_its_task_fields_over_its_warm_starts_task(monkeypatch, tmp_path):
    """A PRM recipe with ``task_fields`` is handed its warm start with that task (the edge PRMs
    learn the 4-operation chains their RL trains on, not the warm start's own mixture); the fields
    are part of its key."""
    import toy_envs

    task = toy_envs.make_task("arithmetic", n_steps_mix="2:1")
    start = (None, task, {"task": "arithmetic", "task_fields": {"n_steps_mix": "2:1", "operand_max": 9}})
    assert recipes.with_task_fields(start, {}) is start
    _, new_task, state = recipes.with_task_fields(start, {"n_steps_mix": "4:1"})
    assert state["task_fields"] == {"n_steps_mix": "4:1", "operand_max": 9}
    assert new_task.lengths() == (4,) and task.lengths() == (2,)
    with pytest.raises(ConfigError, match="n_steps_mix"):
        recipes.with_task_fields(start, {"n_steps_mix": "four"})

    seen = {}
    monkeypatch.setattr(recipes, "load", lambda name, **_: start)
    monkeypatch.setattr(prm_train, "build_prm", lambda name, config, init, out: seen.update(task=init[1], state=init[2]))
    monkeypatch.setattr(recipes, "build_once", lambda path, train, done: train(tmp_path))
    edge = RECIPES["edge-mc"]
    assert edge.config.task_fields == {"n_steps_mix": "4:1"}
    recipes.build("edge-mc")
    assert seen["task"].lengths() == (4,) and seen["state"]["task_fields"]["n_steps_mix"] == "4:1"
    keyed = recipes.path("edge-mc")
    monkeypatch.setitem(RECIPES, "edge-mc", replace(edge, config=replace(edge.config, task_fields={})))
    assert recipes.path("edge-mc") != keyed
