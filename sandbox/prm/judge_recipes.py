"""Trained generative judges by name, cached like the PRM recipes (``sandbox.prm.recipes``).

    JUDGE_RECIPES[name] = (warm-start preset of the policy that writes the training solutions
                           and that teacher and student start from, JudgeTrainConfig)

``judge_checkpoint(name)`` returns a directory holding ``teacher/`` and ``student/`` (each a model
checkpoint) and ``info.json`` (rejected fraction, losses, seconds), training it only when the
cache lacks it; the key hashes the recipe, the warm start's directory and the judge sources.
``load_judge(spec)`` accepts a recipe name (its student), ``name:teacher``, or any directory
holding one judge checkpoint (e.g. written by ``reward-sandbox prm judge --out``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import torch
from filelock import FileLock

from sandbox.model.model import TinyLlama
from sandbox.model.policy import TinyPolicy
from sandbox.train.checkpoint import load_checkpoint, save_checkpoint
from sandbox.train.judge_sft import JudgeTrainConfig, train_thinkprm
from sandbox.train.warmstart import ROOT, cache_dir, load_warmstart, preset_path
from toy_envs.base import ConfigError

SOURCES = ("sandbox/prm", "sandbox/train/judge_sft.py", "sandbox/train/prm_train.py", "sandbox/train/sft.py")
"""The sources that define a judge beyond its warm start."""
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


def source_digest() -> str:
    h = hashlib.sha256()
    for entry in SOURCES:
        path = ROOT / entry
        for f in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            h.update(str(f.relative_to(ROOT)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:12]


def recipe_path(name: str) -> Path:
    if name not in JUDGE_RECIPES:
        raise ConfigError(f"judge={name!r} is not allowed: a recipe {sorted(JUDGE_RECIPES)} (optionally ':teacher') or a judge checkpoint directory")
    recipe = JUDGE_RECIPES[name]
    key = json.dumps({"init": str(preset_path(recipe.init).name), "train": asdict(recipe.train)}, sort_keys=True)
    return cache_dir() / "judge" / f"{name}-{hashlib.sha256((key + source_digest()).encode()).hexdigest()[:12]}"


def judge_checkpoint(name: str) -> Path:
    """The directory of recipe ``name`` (``teacher/``, ``student/``, ``info.json``), trained on first use."""
    path = recipe_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        if not (path / "info.json").exists():
            recipe = JUDGE_RECIPES[name]
            model, task, state = load_warmstart(recipe.init)
            with torch.random.fork_rng():
                teacher, student, info = train_thinkprm(TinyPolicy(model), task, recipe.train)
            meta = {"recipe": name, "init": recipe.init, "task": state["task"], "task_fields": state["task_fields"],
                    "train": asdict(recipe.train), **info}
            save_judges(path, teacher, student, meta)
    return path


def save_judges(path: str | Path, teacher: TinyLlama, student: TinyLlama, info: dict) -> Path:
    """``path/teacher``, ``path/student`` and ``path/info.json`` (written last: its presence marks a complete build)."""
    path = Path(path)
    for role, judge in (("teacher", teacher), ("student", student)):
        if not (path / role / "state.json").exists():
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
