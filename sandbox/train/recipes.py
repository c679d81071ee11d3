"""Every cached model by name: warm starts, PRMs, ThinkPRM judges and StepWiser judges in one table.

    RECIPES[name] = Recipe(name, kind, config, build, tests)
    path(name)    the checkpoint directory in the cache (trained or not)
    build(name)   that directory, trained first when the cache lacks it (its init first)
    load(spec)    the loaded model of a recipe (``name`` or ``name:role``) or of a directory

Each kind keeps its configs and its build (the training code) beside each other; this table
names them all, so one name finds any cached model and no name is used twice:

    kind       configs (module)                     build (module)                     load(name) ->          roles
    warmstart  PRESETS (warmstart)                  build_warmstart (warmstart)        (model, task, state)   --
               FEEDBACK_PRESETS (feedback_warmstart)  build_feedback_warmstart (feedback_warmstart)
               PCL_PRESETS (pcl_warmstart)          build_pcl_warmstart (pcl_warmstart)
    prm        PRM_RECIPES (prm_train)              build_prm (prm_train)              StepScorer             --
    judge      JUDGE_RECIPES (judge_sft)            build_judges (judge_sft)           TinyLlama (eval mode)  student, teacher
    stepwiser  STEPWISER_RECIPES (stepwiser_config) build_stepwiser (stepwiser_train)  TinyLlama (eval mode)  judge, cold

``FAST_COPIES`` adds ``<name>-fast``, a copy of the recipes the tests load, on a smaller model
(``warmstart.TEST_MODEL``); in fast mode (``REWARD_SANDBOX_FAST=1``: the tests, CI and the fast-mode
notebooks) ``path``, ``build`` and ``load`` of a recipe name give its copy (``in_mode``), so CI
trains and samples a model a fifth of the size.

A config's ``init`` names the warm start it starts from (empty: a fresh model); ``build`` loads
that first and hands it to the kind's build, with the warm start's task fields replaced by the
config's ``task_fields`` where it has them (a PRM trained on longer chains than its warm start's). Every artifact is keyed the same way
(``sandbox.train.artifact_cache``): its config with the init's directory name in place of the
init's name, and the files its build can run -- the build's module and every package module it
imports, directly or through others, read from the import statements
(``sandbox.layers.source_files``), not a hand-kept list.

A recipe names its build by module and function (``"sandbox.train.prm_train:build_prm"``), imported
when a build runs: the module is what the key hashes, and naming it keeps this table below the RL
trainer. The trainer loads recipes for the variants that declare models (``reward_models``), and the
StepWiser build runs the trainer (its GRPO stage), so importing the builds here would close a
circle; the configs are imported (none imports the trainer: hence ``stepwiser_config``).

A warm start is loaded afresh on every call (callers train it); PRMs and judges are loaded once
per process and shared (they only score). ``load(spec, kind)`` also accepts a checkpoint
directory of that kind (``reward-sandbox prm train --out``, ``prm judge --out``), and
``check_spec(spec, kind)`` checks a spec before a run, loading nothing.

A build announces itself in one line before it trains, with its measured duration
(``BUILD_SECONDS``) -- ``building cached warm start 'tiny' (about 70 s on one core) ...`` -- so that
a notebook whose first cell builds a model does not look stalled; the build's training loop then
draws its progress bar (``sandbox.train.progress``).

``TEST_RECIPES`` are those the tests and tutorials load; ``dev.py test`` builds them in
``build_lanes`` order, one process per lane, while the tests run (a test that needs one waits on
its file lock):

    python -m sandbox.train.recipes --tests            the names, one per line
    python -m sandbox.train.recipes --tests --lanes 2  the same names as 2 build orders, one per line
    python -m sandbox.train.recipes NAME [NAME ...]    build (or find) them, in this order; prints each
                                                       directory and the CPU seconds it took here
"""

from __future__ import annotations

import argparse
import importlib
import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from pathlib import Path

import toy_envs
from sandbox.layers import source_files
from sandbox.model.checkpoint import load_checkpoint
from sandbox.prm.discriminative import load_scorer
from sandbox.train.artifact_cache import artifact_path, build_once
from sandbox.train.feedback_warmstart import FEEDBACK_PRESETS
from sandbox.train.pcl_warmstart import PCL_PRESETS
from sandbox.train.judge_sft import JUDGE_RECIPES
from sandbox.train.prm_train import PRM_RECIPES
from sandbox.train.stepwiser_config import STEPWISER_RECIPES
from sandbox.train.warmstart import PRESETS, TEST_MODEL
from toy_envs.base import check


@dataclass(frozen=True)
class Recipe:
    name: str
    kind: str
    """``warmstart``, ``prm``, ``judge`` or ``stepwiser`` (``KINDS``)."""
    config: object
    """The kind's config (``Preset``, ``PRMRecipe``, ``JudgeRecipe``, ``StepWiserRecipe``); its
    ``init`` names the warm start it starts from (empty: none)."""
    build: str
    """``"module:function"`` of the build: (name, config, the loaded init or None, out directory)
    -> writes the checkpoint. The module's import closure is part of the cache key."""
    tests: bool
    """The tests or tutorials load it (``dev.py test`` builds it before they run)."""


def _warmstart(path: Path):
    model, state = load_checkpoint(path)
    return model, toy_envs.make_task(state["task"], **state["task_fields"]), state


def _model(path: Path):
    return load_checkpoint(path)[0].eval()


@dataclass(frozen=True)
class Kind:
    read: Callable[[Path], object]
    """Checkpoint directory -> the loaded model."""
    shared: bool
    """Loaded once per process and shared (scorers and judges); else loaded afresh on every call."""
    roles: tuple[str, ...] = ()
    """Subdirectories holding one checkpoint each, the default first (``load("name:role")``)."""
    done: str = "state.json"
    """The file a complete build writes last."""
    words: str = ""
    """What a build of this kind makes, in the build's announcement."""


KINDS: dict[str, Kind] = {
    "warmstart": Kind(_warmstart, shared=False, words="warm start"),
    "prm": Kind(lambda path: load_scorer(path)[0], shared=True, words="PRM"),
    "judge": Kind(_model, shared=True, roles=("student", "teacher"), done="info.json", words="ThinkPRM judges"),
    "stepwiser": Kind(_model, shared=True, roles=("judge", "cold"), done="judge/state.json", words="StepWiser judge"),
}
"""Kind -> how its checkpoints are read."""

USED_BY_TESTS = {"tiny-fast", "tiny-noisy-fast", "tiny-long-answer-fast", "tiny-calib-fast", "tiny-feedback-fast", "tiny-repeats-fast",
                 "tiny-pcl-fast", "tiny-mc-fast", "tiny-rpe-fast", "tiny-sprm-fast", "tiny-oracle-fast", "tiny-thinkprm-fast",
                 "tiny-stepwiser-fast", "tiny-orm-fast"}
"""The recipes the tests and the notebooks in fast mode load (the others: benchmarks, experiments
and full-mode notebooks)."""

_TABLES = (
    ("warmstart", PRESETS, "sandbox.train.warmstart:build_warmstart"),
    ("warmstart", FEEDBACK_PRESETS, "sandbox.train.feedback_warmstart:build_feedback_warmstart"),
    ("warmstart", PCL_PRESETS, "sandbox.train.pcl_warmstart:build_pcl_warmstart"),
    ("prm", PRM_RECIPES, "sandbox.train.prm_train:build_prm"),
    ("judge", JUDGE_RECIPES, "sandbox.train.judge_sft:build_judges"),
    ("stepwiser", STEPWISER_RECIPES, "sandbox.train.stepwiser_train:build_stepwiser"),
)
_names = [name for _, table, _ in _TABLES for name in table]
if len(set(_names)) != len(_names):
    raise ValueError(f"a cached-model name is used by two recipes: {sorted(n for n in _names if _names.count(n) > 1)}")

FAST_COPIES: dict[str, dict[str, object]] = {
    "tiny": {"sft.steps": 600, "sft.lr": 6e-3},
    "tiny-noisy": {"init": "tiny", "sft.steps": 200},
    "tiny-calib": {"init": "tiny", "sft.steps": 240},
    "tiny-long-answer": {"sft.steps": 600, "sft.lr": 6e-3},
    "tiny-repeats": {"sft.steps": 40},
    "tiny-feedback": {"sft.steps": 200},
    "tiny-pcl": {"sft.steps": 100},
    "tiny-oracle": {},
    "tiny-mc": {},
    "tiny-rpe": {},
    "tiny-sprm": {},
    "tiny-thinkprm": {"train.teacher_steps": 240, "train.student_steps": 160, "train.n_problems": 128},
    "tiny-orm": {"train.sft_steps": 200},
    "tiny-stepwiser": {"train.sft_steps": 200},
}
"""Recipe -> how its fast-mode copy, recipe ``<name>-fast``, differs from it: config fields
replaced, each named by its dotted path in the recipe's config (``replaced``); then (``fast_copy``)
every copy continues its init's copy where that has one, and every warm-start copy is
``warmstart.TEST_MODEL`` (2 layers x 64, 0.11M parameters, against 'tiny''s 4 x 128, 0.8M). The
tests and the notebooks in fast mode (``REWARD_SANDBOX_FAST=1``, what CI runs) load the copies --
by their own names or, through ``in_mode``, by the recipe's -- while experiment specs, benchmarks
and full-mode notebooks load the recipes themselves, whose measurements the guides quote. A
learning test states the effects measured on the copy it loads.

Why a smaller model: the suite's CPU went mostly to arithmetic at the core's peak speed (sampling,
forward and backward of 'tiny'; results.md, "Benchmark: learning speed"), so the way to a
five-minute suite was less arithmetic per token. On 'tiny''s task the test model needs about twice
the SFT steps for the same greedy accuracy at a fifth to a quarter of the cost per step: 'tiny-fast'
(600 steps at 6e-3, the recipe's 300 at 3e-3) reaches 0.566 greedy on 256 held-out problems in
about 30 s of CPU, where 'tiny' reached 0.41-0.50 in about 55 s. A fresh-clone ``dev.py test`` went
from 500 s wall / 964 s of CPU to about 275-340 s / 535-665 s on the same idle 2-core AMD EPYC, the
builds from about 360 s of CPU to about 160-180 s (every run, by commit: tutorials/guides/cli.md).

The copies (greedy accuracy on 256 held-out problems of one build):
- 'tiny-fast': 'tiny''s data, 600 steps at lr 6e-3 (0.566).
- 'tiny-noisy-fast': 'tiny-fast' continued 200 steps on 'tiny-noisy''s demonstrations (60% of answer
  lines off by one): it computes and copies its answer wrong (0.270).
- 'tiny-calib-fast': 'tiny-fast' continued 240 steps on the confidence-line demonstrations (0.539, its
  confidence line parsed in every answer); 120 steps left the line parsed in 0.74 of the Brier
  test's samples, too few for RL to calibrate.
- 'tiny-long-answer-fast': a fresh test model, 600 steps at 6e-3 on the long-answer demonstrations
  (the recipe: fresh, 300 at 3e-3). Continued from 'tiny-fast' for 200, 400 or 800 steps its R3
  within-group AUROC stayed 0.70-0.89 (tests/test_rewards_dro_r3.py asks 0.95); fresh, it passes.
- 'tiny-repeats-fast' 40, 'tiny-feedback-fast' 200, 'tiny-pcl-fast' 100 steps continuing 'tiny-fast':
  they learn their formats (repeated lines, reading feedback, the post-completion evaluation). At
  100 steps the feedback copy's SDPO loss rose over its updates at one seed.
- The PRMs ('tiny-oracle', 'tiny-mc', 'tiny-rpe', 'tiny-sprm'): the recipe's training on 'tiny-fast'.
  The ThinkPRM judges: 128 problems, teacher 240 and student 160 SFT steps (the recipe 64, 60 / 40):
  at 64 problems and 60 / 40 or 120 / 80 steps the student's step AUROC was 0.38 and 0.53, and at
  240 / 160 on 64 problems 0.51 on one build (the test asks 0.54). Shorter schedules at higher rates
  on 128 problems (6 Dec 2026, the ThinkPRM learning test's measurements for seeds 0-4 on both
  builds): 120 / 80 steps at lr 6e-3 built in 18 s of CPU instead of 31, but its teacher's AUROC fell
  to 0.555 on the second build (half that effect is under the test's margin, 0.04); 160 / 100 at 5e-3
  (23 s) kept every AUROC at 0.583 or more, but its smallest effect is 2.1 times the margin (the
  current copy's 3.6 times), not worth 8 s of CPU; 120 / 80 at 4e-3 left the teacher below chance
  (0.36-0.48). The StepWiser judge and the
  outcome judge 'tiny-orm': a cold start of 200 SFT steps (the recipe 100; at 100 GRPO lowered
  held-out verdict accuracy, 0.519 -> 0.495, and the outcome judge's score of the policy's rollouts
  did not rise at one seed). Each learning test states its five-seed effects on two builds."""


def replaced(config, path: str, value):
    """``config`` with the field at dotted ``path`` (``"sft.steps"``) set to ``value``, every
    dataclass on the way copied (``dataclasses.replace``)."""
    head, _, rest = path.partition(".")
    return replace(config, **{head: replaced(getattr(config, head), rest, value) if rest else value})


def fast_copy(name: str, config):
    """The config of ``<name>-fast``: ``config`` (recipe ``name``'s) with ``FAST_COPIES[name]``'s
    fields, then continuing its init's fast copy where that has one, and a warm start on ``TEST_MODEL``
    (every fast copy of a chain is one model: a continued warm start keeps its init's shape)."""
    for path, value in FAST_COPIES[name].items():
        config = replaced(config, path, value)
    if config.init in FAST_COPIES:
        config = replace(config, init=f"{config.init}-fast")
    return replace(config, model=TEST_MODEL) if hasattr(config, "model") else config


FAST_ENV = "REWARD_SANDBOX_FAST"
"""Fast mode (``=1``, what CI and ``dev.py test`` set): every recipe name that has a fast copy
means the copy (``in_mode``)."""


def in_mode(name: str) -> str:
    """``name``, or in fast mode (``REWARD_SANDBOX_FAST=1``) its fast copy ``<name>-fast`` where
    ``FAST_COPIES`` makes one: ``path``, ``build`` and ``load`` of "tiny" then give 'tiny-fast',
    so every test, notebook and CLI run in fast mode trains and scores the small test model."""
    return f"{name}-fast" if os.environ.get(FAST_ENV) == "1" and name in FAST_COPIES else name


_configs: dict[str, tuple] = {}
for _kind, _table, _build in _TABLES:
    for _name, _config in _table.items():
        _configs[_name] = (_kind, _config, _build)
        if _name in FAST_COPIES:  # the copy right after its recipe, in the kind's place in the order
            if f"{_name}-fast" in _names:
                raise ValueError(f"the fast-mode copy of {_name!r} takes the name of another recipe: {_name}-fast")
            _configs[f"{_name}-fast"] = (_kind, fast_copy(_name, _config), _build)

RECIPES: dict[str, Recipe] = {
    name: Recipe(name, kind, config, build, name in USED_BY_TESTS) for name, (kind, config, build) in _configs.items()
}
"""Every cached model: name -> ``Recipe``."""

BUILD_SECONDS: dict[str, int] = {
    "tiny": 70, "tiny-noisy": 160, "tiny-calib": 30, "tiny-long-answer": 90, "tiny-feedback": 130, "tiny-repeats": 60, "tiny-pcl": 100,
    "tiny-oracle": 20, "tiny-mc": 10, "tiny-rpe": 10, "tiny-sprm": 20, "tiny-thinkprm": 50, "tiny-stepwiser": 50, "tiny-orm": 40,
    "tiny-fast": 35, "tiny-long-answer-fast": 35, "tiny-thinkprm-fast": 35, "tiny-stepwiser-fast": 20, "tiny-calib-fast": 15,
    "tiny-feedback-fast": 15, "tiny-orm-fast": 15, "tiny-noisy-fast": 10, "tiny-pcl-fast": 10, "tiny-repeats-fast": 5, "tiny-oracle-fast": 5,
    "tiny-mc-fast": 5, "tiny-rpe-fast": 5, "tiny-sprm-fast": 5,
}
"""Recipe name -> about how long its build takes on one torch thread, in seconds, for the build's
announcement (a recipe not listed is announced without one); its init's build is not included.
Measured from the training time every build records in its checkpoint (``sft/seconds``,
``prm/train_s``, ``judge/train_s``, StepWiser's ``judge/pool_s + sft_s + rl_s``): the second
fastest of the builds of the same config in a cache shared by several processes on a 2-core
machine (5 to 19 builds each; StepWiser: its one build; tiny-orm: the CPU time of its one build,
36 s; tiny-feedback: the CPU time of its one build, about 3 min, which took 2038 s of wall time at a
twelfth of a core, less the third its two length buckets save per step), rounded up to a multiple
of 10 s -- the sampling and evaluation around the training add a few seconds. The fast-mode copies
(on ``TEST_MODEL``): the CPU time of their build in a fresh-clone ``dev.py test`` (its build lanes
print it; 2-37 s), rounded up to a multiple of 5 s (a copy a test built, which the lanes then found
ready, from its recipe's). Slower on a busy machine."""

TEST_RECIPES = tuple(name for name, recipe in RECIPES.items() if recipe.tests)
"""The recipes the tests and tutorials load, warm starts first."""


UNMEASURED_SECONDS = 60
"""What ``build_lanes`` assumes for a recipe without a ``BUILD_SECONDS`` entry."""


LANE_TRIES = 256
"""Priority orders ``build_lanes`` tries: the critical path's, then keyed perturbations of it."""


def build_lanes(names: list[str], lanes: int) -> list[list[str]]:
    """``names`` split into ``lanes`` build orders (one process each) that end about together.

    List scheduling by priority: a recipe's priority is its ``BUILD_SECONDS`` times a weight plus
    the largest priority of the listed recipes that start from it (its init's priority is thus
    always higher, so an init is placed before the recipes that start from it). In that order
    (ties: the order of ``names``) each goes to the lane where it can start first by the estimates
    -- after the lane's previous builds and after its init's estimated finish when the init is
    listed too (a lane that reaches a recipe before its init is built waits on the init's file
    lock); a tie goes to the init's lane, then the lower index. The weights are 1 (critical path
    first) in the first of ``LANE_TRIES`` orders and drawn from [0.5, 1.5) with a generator keyed by
    the try in the others; the plan whose estimated end is earliest is kept (the first on a tie).
    Empty lanes are dropped."""
    check(lanes >= 1, "lanes", "an integer >= 1", lanes)
    for name in names:
        _recipe(name)
    seconds = {name: BUILD_SECONDS.get(name, UNMEASURED_SECONDS) for name in names}
    children = {name: [n for n in names if RECIPES[n].config.init == name] for name in names}
    best: tuple[float, list[list[str]]] | None = None
    for attempt in range(LANE_TRIES):
        draw = random.Random(attempt)
        weight = {name: 1.0 if attempt == 0 else 0.5 + draw.random() for name in names}
        end, plan = list_schedule(names, lanes, seconds, children, weight)
        if best is None or end < best[0]:
            best = (end, plan)
    return [lane for lane in best[1] if lane]


def list_schedule(names: list[str], lanes: int, seconds: dict, children: dict, weight: dict) -> tuple[float, list[list[str]]]:
    """(estimated end, lanes) of one priority order (``build_lanes``)."""
    priority: dict[str, float] = {}

    def rank(name: str) -> float:
        if name not in priority:
            priority[name] = seconds[name] * weight[name] + max((rank(child) for child in children[name]), default=0)
        return priority[name]

    order = sorted(names, key=lambda n: (-rank(n), names.index(n)))
    plan: list[list[str]] = [[] for _ in range(lanes)]
    free = [0.0] * lanes
    finish: dict[str, float] = {}
    for name in order:
        init = RECIPES[name].config.init
        ready = finish.get(init, 0.0)
        lane = min(range(lanes), key=lambda i: (max(free[i], ready), init not in plan[i], i))
        finish[name] = free[lane] = max(free[lane], ready) + seconds[name]
        plan[lane].append(name)
    return max(free), plan


def warmstart_names() -> list[str]:
    """The names of every warm-start recipe (``PRESETS``, ``FEEDBACK_PRESETS``, ``PCL_PRESETS``), sorted."""
    return sorted(name for name, recipe in RECIPES.items() if recipe.kind == "warmstart")


def _recipe(name: str) -> Recipe:
    check(name in RECIPES, "recipe", f"one of {sorted(RECIPES)}", name)
    return RECIPES[name]


def path(name: str) -> Path:
    """The checkpoint directory of recipe ``name`` in the cache (key as in the module docstring;
    in fast mode, of ``in_mode(name)``)."""
    return _path(in_mode(name))


def _path(name: str) -> Path:
    recipe = _recipe(name)
    init = recipe.config.init
    payload = {**asdict(recipe.config), "init": _path(init).name if init else ""}
    return artifact_path(recipe.kind, name, payload, source_files(recipe.build.partition(":")[0]))


def announcement(name: str) -> str:
    """The line a build of recipe ``name`` prints before it trains."""
    recipe = _recipe(name)
    seconds = BUILD_SECONDS.get(name)
    estimate = f" (about {seconds} s on one core)" if seconds else ""
    return f"building cached {KINDS[recipe.kind].words} {name!r}{estimate} ..."


def build(name: str) -> Path:
    """The checkpoint directory of recipe ``name``, trained first when the cache lacks it (its init
    first, which announces its own build); a build prints ``announcement(name)`` first. In fast
    mode, of ``in_mode(name)``."""
    return _build(in_mode(name))


def _build(name: str) -> Path:
    recipe = _recipe(name)

    def train(out: Path) -> None:
        module, _, function = recipe.build.partition(":")
        init = recipe.config.init
        # a warm start's own task_fields define its task (its build makes it from them)
        fields = {} if recipe.kind == "warmstart" else recipe.config.task_fields
        start = with_task_fields(load(init, as_named=True), fields) if init else None
        print(announcement(name), flush=True)
        getattr(importlib.import_module(module), function)(name, recipe.config, start, out)

    return build_once(_path(name), train, done=KINDS[recipe.kind].done)


MIX_FIELDS = {"arithmetic": "n_steps_mix", "tree": "depth_mix"}
"""The task field holding a task's length mixture (the edge testbed's ``mix``, ``prm bench --mix``)."""


def with_task_fields(start: tuple, fields: dict) -> tuple:
    """A loaded warm start (model, task, state) with its task's ``fields`` replaced (the state
    records the task the build trains on)."""
    if not fields:
        return start
    model, _, state = start
    merged = {**state.get("task_fields", {}), **fields}
    return model, toy_envs.make_task(state["task"], **merged), {**state, "task_fields": merged}


def _resolve(spec: str, kind: str, as_named: bool = False) -> tuple[str, Path] | None:
    """(recipe name -- in fast mode its fast copy's, unless ``as_named`` --, the role's
    subdirectory) when ``spec`` names a recipe of ``kind``; ("", the checkpoint directory) when it
    names a directory of that kind's layout; None otherwise."""
    name, _, role = spec.partition(":")
    name = name if as_named else in_mode(name)
    roles = KINDS[kind].roles
    if role and role not in roles:
        return None
    sub = role or (roles[0] if roles else "")
    if name in RECIPES:
        return (name, Path(sub)) if RECIPES[name].kind == kind else None
    if roles and (Path(name) / sub / "state.json").is_file():
        return "", Path(name) / sub  # a directory holding every role
    if name and not role and (Path(name) / "state.json").is_file():
        return "", Path(name)  # one checkpoint
    return None


def check_spec(spec: str, kind: str, field: str = "") -> None:
    """``ConfigError`` naming ``field`` (default: the kind) unless ``spec`` names a recipe of
    ``kind`` (``name`` or ``name:role``) or a checkpoint directory of it; builds and loads nothing."""
    roles = KINDS[kind].roles
    names = sorted(n for n, r in RECIPES.items() if r.kind == kind)
    role = f" (optionally name:role, role one of {roles})" if roles else ""
    allowed = f"a {kind} recipe {names}{role} or a {kind} checkpoint directory (with state.json)"
    check(_resolve(spec, kind) is not None, field or kind, allowed, spec)


def load(spec: str, kind: str = "", as_named: bool = False):
    """The loaded model of recipe ``spec`` (``name``, or ``name:role`` for a kind with roles), or
    with ``kind`` also of a checkpoint directory of that kind; a recipe is trained first when the
    cache lacks it. What each kind loads is in the module docstring. In fast mode a recipe name
    means its fast copy (``in_mode``) unless ``as_named`` (a build's init: a recipe's chain is fixed)."""
    kind = kind or _recipe(spec.partition(":")[0]).kind
    check_spec(spec, kind)
    name, directory = _resolve(spec, kind, as_named)
    if name:
        directory = _build(name) / directory
    if KINDS[kind].shared:
        return _shared(kind, str(directory.resolve()))
    return KINDS[kind].read(directory)


@lru_cache(maxsize=16)
def _shared(kind: str, directory: str):
    return KINDS[kind].read(Path(directory))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.train.recipes", description="The cached models: list or build them.")
    parser.add_argument("names", nargs="*", help="Recipes to build (or find) in the cache.")
    parser.add_argument("--tests", action="store_true", help="Print the recipes the tests and tutorials load, one per line.")
    parser.add_argument("--lanes", type=int, default=0,
                        help="With --tests: print them as this many build orders, one per line (build_lanes).")
    args = parser.parse_args(argv)
    if args.tests:
        print("\n".join(" ".join(lane) for lane in build_lanes(list(TEST_RECIPES), args.lanes)) if args.lanes
              else "\n".join(TEST_RECIPES))
    for name in args.names:
        start = time.process_time()  # about 0 when the cache has it (or another process built it)
        directory = build(name)
        print(f"{name}: {directory} ({time.process_time() - start:.1f} s of CPU here)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
