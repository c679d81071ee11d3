"""Trained ThinkPRM judges by name, cached like the PRM recipes (``sandbox.train.prm_recipes``).

Recipes trained once per cache (artifacts of ``sandbox.train.artifact_cache``: the key hashes the
recipe, the warm start's directory name and the judge's sources, so a code or config change never
serves a stale judge). The method lives in ``sandbox.train.judge_sft``; this module only names,
builds and loads the judges. ThinkPRM-style verification-chain judges:

    JUDGE_RECIPES[name] = (warm-start preset of the policy that writes the training solutions
                           and that teacher and student start from, JudgeTrainConfig)

``judge_checkpoint(name)`` returns a directory holding ``teacher/`` and ``student/`` (each a model
checkpoint) and ``info.json`` (rejected fraction, losses, seconds). ``load_judge(spec)`` accepts a
recipe name (its student), ``name:teacher``, or any directory holding one judge checkpoint
(e.g. written by ``reward-sandbox prm judge --out``).

The StepWiser chunk judges' recipes are in ``sandbox.train.stepwiser_train``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

from sandbox.layers import source_files
from sandbox.model.checkpoint import load_checkpoint, save_checkpoint
from sandbox.model.model import TinyLlama
from sandbox.model.policy import TinyPolicy
from sandbox.train.artifact_cache import artifact_path, build_once
from sandbox.train.judge_sft import JudgeTrainConfig, train_thinkprm
from sandbox.train.warmstart import load_warmstart, preset_path
from toy_envs.base import ConfigError

ROLES = ("student", "teacher")


@dataclass(frozen=True)
class JudgeRecipe:
    init: str
    """Warm-start preset: the policy whose samples make the chains, and both judges' initial weights."""
    train: JudgeTrainConfig = field(default_factory=JudgeTrainConfig)
    """How teacher and student are trained."""


JUDGE_RECIPES: dict[str, JudgeRecipe] = {
    # sized to build in about 45 s on one thread (dev.py prebuilds it); the teacher's chains are
    # sampled at temperature 0.5, 4 per solution, so that enough of them pass the filter (at
    # 1.0 and 2 per solution 14 of 256 were kept)
    "tiny-thinkprm": JudgeRecipe("tiny", JudgeTrainConfig(n_problems=64, group_size=2, teacher_steps=60, student_steps=40,
                                                          batch_size=32, lr=3e-3, filter_chains=4, filter_temperature=0.5)),
}
"""Recipe name -> ``JudgeRecipe``."""


def recipe_path(name: str) -> Path:
    if name not in JUDGE_RECIPES:
        raise ConfigError(f"judge={name!r} is not allowed: a recipe {sorted(JUDGE_RECIPES)} (optionally ':teacher') or a judge checkpoint directory")
    recipe = JUDGE_RECIPES[name]
    return artifact_path("judge", name, {"init": preset_path(recipe.init).name, "train": asdict(recipe.train)},
                         source_files("sandbox.train.judge_recipes"))


def judge_checkpoint(name: str) -> Path:
    """The directory of recipe ``name`` (``teacher/``, ``student/``, ``info.json``), trained on first use."""
    path, recipe = recipe_path(name), JUDGE_RECIPES[name]

    def build(out: Path) -> None:
        model, task, state = load_warmstart(recipe.init)
        teacher, student, info = train_thinkprm(TinyPolicy(model), task, recipe.train)
        meta = {"recipe": name, "init": recipe.init, "task": state["task"], "task_fields": state["task_fields"],
                "train": asdict(recipe.train), **info}
        save_judges(out, teacher, student, meta)

    return build_once(path, build, done="info.json")


def save_judges(path: str | Path, teacher: TinyLlama, student: TinyLlama, info: dict) -> Path:
    """``path/teacher``, ``path/student`` and ``path/info.json`` (written last: its presence marks a complete build)."""
    path = Path(path)
    for role, judge in (("teacher", teacher), ("student", student)):
        save_checkpoint(path / role, judge, {"judge": role, **info})
    (path / "info.json").write_text(json.dumps(info, indent=2))
    return path


@lru_cache(maxsize=8)
def _load(path: str) -> TinyLlama:
    model = load_checkpoint(path)[0]
    model.eval()
    return model


def load_judge(spec: str) -> TinyLlama:
    """The judge named by ``spec``: ``recipe`` (its student), ``recipe:teacher``, a directory
    written by ``save_judges`` (its student, or ``dir:teacher``), or a single checkpoint directory."""
    name, _, role = spec.partition(":")
    role = role or "student"
    if role not in ROLES:
        raise ConfigError(f"judge={spec!r} is not allowed: the role after ':' must be one of {ROLES}")
    if name in JUDGE_RECIPES:
        return _load(str(judge_checkpoint(name) / role))
    path = Path(name)
    if (path / role / "state.json").exists():
        return _load(str((path / role).resolve()))
    if (path / "state.json").exists():
        return _load(str(path.resolve()))
    raise ConfigError(f"judge={spec!r} is not allowed: a recipe {sorted(JUDGE_RECIPES)} (optionally ':teacher') or a judge checkpoint directory")
