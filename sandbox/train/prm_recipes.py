"""Trained PRMs by name: a recipe is trained once and cached, like a warm start.

    PRM_RECIPES[name] = (warm-start preset of the policy that writes the training solutions,
                         PRMTrainConfig: labeller, data size, optimisation)

``prm_checkpoint(name)`` returns the checkpoint directory, training it only when the cache lacks
it (an artifact of ``sandbox.train.artifact_cache``); the cache key hashes the recipe, the warm
start's directory (itself a hash of its preset and sources) and the sources that determine the
PRM's weights (this module and every package module it imports, ``sandbox.layers.source_files``). ``load_prm(name_or_dir)`` accepts a
recipe name or any directory written by ``save_scorer`` (e.g. by ``reward-sandbox prm train``)
and keeps loaded scorers in memory for the process.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

from sandbox.layers import source_files
from sandbox.model.policy import TinyPolicy
from sandbox.prm.discriminative import StepScorer, load_scorer, save_scorer
from sandbox.train.artifact_cache import artifact_path, build_once
from sandbox.train.prm_train import PRMTrainConfig, train_prm
from sandbox.train.warmstart import load_warmstart, preset_path
from toy_envs.base import ConfigError



@dataclass(frozen=True)
class PRMRecipe:
    init: str
    """Warm-start preset: the policy whose samples (and MC completions) make the training data,
    and the PRM's initial backbone."""
    train: PRMTrainConfig = field(default_factory=PRMTrainConfig)
    """How the PRM is trained."""


PRM_RECIPES: dict[str, PRMRecipe] = {
    # small enough to build in about 15 s on one thread (dev.py prebuilds them with the warm starts)
    "tiny-oracle": PRMRecipe("tiny", PRMTrainConfig(labels="oracle-valid", n_problems=128, group_size=2, steps=80, batch_size=32)),
    "tiny-mc": PRMRecipe("tiny", PRMTrainConfig(labels="mc-hard", n_problems=64, group_size=2, n_completions=4, steps=80, batch_size=32)),
    "tiny-rpe": PRMRecipe("tiny", PRMTrainConfig(labels="rpe", n_problems=64, group_size=2, n_completions=4, steps=80, batch_size=32)),
    "tiny-sprm": PRMRecipe("tiny", PRMTrainConfig(kind="sprm", n_problems=128, group_size=2, steps=80, batch_size=32, lr=1e-5)),
}
"""Recipe name -> ``PRMRecipe``."""


def recipe_path(name: str) -> Path:
    if name not in PRM_RECIPES:
        raise ConfigError(f"prm={name!r} is not allowed: a recipe {sorted(PRM_RECIPES)} or a PRM checkpoint directory")
    recipe = PRM_RECIPES[name]
    return artifact_path("prm", name, {"init": preset_path(recipe.init).name, "train": asdict(recipe.train)},
                         source_files("sandbox.train.prm_recipes"))


def prm_checkpoint(name: str) -> Path:
    """The checkpoint directory of recipe ``name``, trained on first use."""
    path, recipe = recipe_path(name), PRM_RECIPES[name]

    def build(out: Path) -> None:
        model, task, state = load_warmstart(recipe.init)
        scorer, info = train_prm(TinyPolicy(model), task, recipe.train)
        save_scorer(out, scorer, {"recipe": name, "init": recipe.init, "task": state["task"],
                                  "task_fields": state["task_fields"], "train": asdict(recipe.train), **info})

    return build_once(path, build)


@lru_cache(maxsize=8)
def _load(path: str) -> StepScorer:
    return load_scorer(path)[0]


def load_prm(name_or_dir: str) -> StepScorer:
    """The scorer of a recipe name or a checkpoint directory."""
    if name_or_dir in PRM_RECIPES:
        return _load(str(prm_checkpoint(name_or_dir)))
    if not (Path(name_or_dir) / "state.json").exists():
        raise ConfigError(f"prm={name_or_dir!r} is not allowed: a recipe {sorted(PRM_RECIPES)} or a PRM checkpoint directory")
    return _load(str(Path(name_or_dir).resolve()))
