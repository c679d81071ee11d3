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

``FAST_COPIES`` adds ``<name>-fast``, a copy of a few warm starts (fewer SFT steps) and of the StepWiser
judge (fewer GRPO samples), that the tests and the fast-mode notebooks load instead (CI builds them
in a fraction of the time).

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
from sandbox.train.warmstart import PRESETS
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

USED_BY_TESTS = {"tiny", "tiny-noisy-fast", "tiny-long-answer-fast", "tiny-calib-fast", "tiny-feedback-fast", "tiny-repeats-fast", "tiny-pcl-fast", "tiny-mc", "tiny-rpe", "tiny-sprm", "tiny-oracle",
                 "tiny-thinkprm", "tiny-stepwiser-fast", "tiny-orm"}
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
    "tiny-noisy": {"init": "tiny", "sft.steps": 200},
    "tiny-calib": {"init": "tiny", "sft.steps": 120},
    "tiny-long-answer": {"init": "tiny", "sft.steps": 100},
    "tiny-repeats": {"sft.steps": 40},
    "tiny-feedback": {"sft.steps": 100},
    "tiny-pcl": {"sft.steps": 100},
    "tiny-stepwiser": {"train.rl_group_size": 4},
}
"""Recipe -> how its fast-mode copy, recipe ``<name>-fast``, differs from it: config fields
replaced, each named by its dotted path in the recipe's config (``replaced``). The warm starts'
copies keep their data, learning rate and warm-up, with fewer steps or a shorter chain of inits
('tiny-noisy', 'tiny-calib' and 'tiny-long-answer' continue 'tiny', which the tests build anyway);
the StepWiser judge's copy samples fewer judge rows per chunk in its GRPO stage. Each is built in
a fraction of its recipe's time. The tests and the notebooks in fast mode
(``REWARD_SANDBOX_FAST=1``, what CI runs) load the copy; experiment specs, benchmarks and
full-mode notebooks load the recipe itself, whose measurements the guides quote. A learning test on
a copy states the effects measured on the copy.

- 'tiny-repeats', 'tiny-feedback', 'tiny-pcl' continue 'tiny' for 300 steps; their copies took 100
  (together 299 s of the CPU of a CI run before, 72 s after; 'tiny-repeats-fast' 40 since, below).
  They are less trained (greedy
  accuracy on 256 held-out problems, full / copy: tiny-repeats 0.82 / 0.20, tiny-feedback 0.95 /
  0.34, tiny-pcl 0.79 / 0.32; 'tiny' itself 0.41: the warm-up back to the full learning rate costs
  the copies first) but have learned their formats (repeated lines, reading feedback, the
  post-completion evaluation). Only notebook 11's fast mode loads 'tiny-repeats-fast' (no test
  does), to show L2T's per-line gains and penalties on padded gold solutions: it now takes 40 steps
  (13 s of CPU instead of 34; greedy 0.125, parsed 0.992, repeated lines 0.084 of its lines). On 64
  padded gold solutions a new line's mean fitting gain is +3.46 and a repeated line's -0.08 (100
  steps: +4.72 / -0.23), the mean compression penalty 5.17 / 9.16 (2.52 / 3.42): the notebook's
  contrast, repeated lines add nothing and pay more, holds.
- 'tiny-noisy' trains a fresh model for 600 steps (88 s of CPU in a CI run); its copy continues
  'tiny' (300 steps, built anyway) for 200 steps on the same noisy demonstrations (30 s): greedy
  accuracy 0.219 against the recipe's 0.328, the same flaw (it computes well and copies its answer
  line wrong), and outcome-grpo removes it as fast (10 steps: +0.250, +0.285, +0.309 for seeds 0-2,
  the recipe +0.36).
- 'tiny-calib' continues 'tiny-noisy' for 60 steps (the two 101 s of CPU); its copy continues 'tiny'
  for 120 steps on the same confidence-line demonstrations (27 s). A copy continuing
  'tiny-noisy-fast' (as the recipe continues 'tiny-noisy') was tried first: on it the Brier
  reward's fall in ECE was 0.004-0.112 over 5 seeds on an ``ATEN_CPU_CAPABILITY=default`` build
  (its stated confidence stays at 0), too fragile to test; from 'tiny' it is 0.061-0.370 on both
  builds (tests/test_learning_brier.py).
- 'tiny-long-answer' trains a fresh model for 300 steps (48 s); its copy continues 'tiny' for 100
  steps on long-answer demonstrations (17 s): greedy 0.320 against the recipe's 0.426, R3's
  within-group AUROC 0.994 / 1.000 / 1.000 (seeds 0-2; the recipe 1.000), and the rubric gate's
  margin over the dense rubric in ``bench hack``'s setting 0.160 / 0.168 / 0.176 / 0.090 / 0.102
  (seeds 0-4; the recipe 0.086-0.289).
- 'tiny-stepwiser' runs 30 GRPO steps of 16 chunks x 8 judge samples after its cold start (about
  50 s of CPU in a CI run); its copy samples 4 per chunk (the same steps, chunks, learning rate and
  cold start; about 34 s): held-out sampled verdict accuracy over the cold start +0.113 / +0.134 /
  +0.169 / +0.135 / +0.125 (verdict-sampling seeds 0-4; the recipe +0.151 / +0.140 / +0.177 /
  +0.156 / +0.149; tests/test_learning_stepwiser.py). With 8 per chunk and 15 or 20 steps it gained
  only +0.034..+0.045 and +0.097..+0.140."""


def replaced(config, path: str, value):
    """``config`` with the field at dotted ``path`` (``"sft.steps"``) set to ``value``, every
    dataclass on the way copied (``dataclasses.replace``)."""
    head, _, rest = path.partition(".")
    return replace(config, **{head: replaced(getattr(config, head), rest, value) if rest else value})


def fast_copy(name: str, config):
    """The config of ``<name>-fast``: ``config`` (recipe ``name``'s) with ``FAST_COPIES[name]``'s fields."""
    for path, value in FAST_COPIES[name].items():
        config = replaced(config, path, value)
    return config


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
    "tiny-repeats-fast": 20, "tiny-feedback-fast": 30, "tiny-pcl-fast": 30, "tiny-noisy-fast": 40, "tiny-calib-fast": 40,
    "tiny-long-answer-fast": 20, "tiny-stepwiser-fast": 40,
}
"""Recipe name -> about how long its build takes on one torch thread, in seconds, for the build's
announcement (a recipe not listed is announced without one); its init's build is not included.
Measured from the training time every build records in its checkpoint (``sft/seconds``,
``prm/train_s``, ``judge/train_s``, StepWiser's ``judge/pool_s + sft_s + rl_s``): the second
fastest of the builds of the same config in a cache shared by several processes on a 2-core
machine (5 to 19 builds each; StepWiser: its one build; tiny-orm: the CPU time of its one build,
36 s; the fast-mode copies: the CPU time of their one build each, 12-34 s; tiny-feedback: the CPU time of its one
build, about 3 min, which took 2038 s of wall time at a twelfth of a core, less the third its two
length buckets save per step), rounded up to a multiple of 10 s -- the
sampling and evaluation around the training add a few seconds. Slower on a busy machine."""

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
    """The checkpoint directory of recipe ``name`` in the cache (key as in the module docstring)."""
    recipe = _recipe(name)
    init = recipe.config.init
    payload = {**asdict(recipe.config), "init": path(init).name if init else ""}
    return artifact_path(recipe.kind, name, payload, source_files(recipe.build.partition(":")[0]))


def announcement(name: str) -> str:
    """The line a build of recipe ``name`` prints before it trains."""
    recipe = _recipe(name)
    seconds = BUILD_SECONDS.get(name)
    estimate = f" (about {seconds} s on one core)" if seconds else ""
    return f"building cached {KINDS[recipe.kind].words} {name!r}{estimate} ..."


def build(name: str) -> Path:
    """The checkpoint directory of recipe ``name``, trained first when the cache lacks it (its init
    first, which announces its own build); a build prints ``announcement(name)`` first."""
    recipe = _recipe(name)

    def train(out: Path) -> None:
        module, _, function = recipe.build.partition(":")
        init = recipe.config.init
        # a warm start's own task_fields define its task (its build makes it from them)
        fields = {} if recipe.kind == "warmstart" else recipe.config.task_fields
        start = with_task_fields(load(init), fields) if init else None
        print(announcement(name), flush=True)
        getattr(importlib.import_module(module), function)(name, recipe.config, start, out)

    return build_once(path(name), train, done=KINDS[recipe.kind].done)


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


def _resolve(spec: str, kind: str) -> tuple[str, Path] | None:
    """(recipe name, the role's subdirectory) when ``spec`` names a recipe of ``kind``; ("", the
    checkpoint directory) when it names a directory of that kind's layout; None otherwise."""
    name, _, role = spec.partition(":")
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


def load(spec: str, kind: str = ""):
    """The loaded model of recipe ``spec`` (``name``, or ``name:role`` for a kind with roles), or
    with ``kind`` also of a checkpoint directory of that kind; a recipe is trained first when the
    cache lacks it. What each kind loads is in the module docstring."""
    kind = kind or _recipe(spec.partition(":")[0]).kind
    check_spec(spec, kind)
    name, directory = _resolve(spec, kind)
    if name:
        directory = build(name) / directory
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
