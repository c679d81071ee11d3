"""The trained models a variant's reward sources score with: checked, resolved and loaded by the trainer.

A variant declares them by kind (``Variant.models``, e.g. ``{"prm": "tiny-mc"}``), as it declares
its auxiliary models; ``RLConfig.prm`` overrides the spec. Before a run ``check_reward_models``
checks that every spec names a recipe or a checkpoint directory (loading and training nothing);
the trainer then calls ``load_reward_models`` once (a recipe is trained on its first use and
cached, ``sandbox.train.artifact_cache``) and hands each model to the sources in the
``RewardContext`` field of its kind. A reward source never loads or trains a model.

    kind    RewardContext field   spec
    prm     ctx.prm               a PRM recipe (``sandbox.train.prm_recipes``) or a directory
                                  written by ``save_scorer`` (e.g. ``reward-sandbox prm train``)
    judge   ctx.judge             a ThinkPRM judge recipe, ``name`` (its student) or ``name:teacher``
                                  (``sandbox.train.judge_recipes``), or a judge checkpoint directory
"""

from __future__ import annotations

from pathlib import Path

from sandbox.rewards.registry import Variant
from sandbox.train.judge_recipes import JUDGE_RECIPES, ROLES, load_judge
from sandbox.train.prm_recipes import PRM_RECIPES, load_prm
from toy_envs.base import check


def check_prm_spec(spec: str) -> None:
    """``ConfigError`` naming ``prm`` unless ``spec`` is a PRM recipe or a checkpoint directory."""
    check(bool(spec) and (spec in PRM_RECIPES or (Path(spec) / "state.json").is_file()), "prm",
          f"a PRM recipe {sorted(PRM_RECIPES)} or a PRM checkpoint directory (with state.json)", spec)


def check_judge_spec(spec: str) -> None:
    """``ConfigError`` naming ``prm`` unless ``spec`` is a judge recipe (``name`` or ``name:teacher``)
    or a judge checkpoint directory."""
    name, _, role = spec.partition(":")
    path = Path(name)
    found = name in JUDGE_RECIPES or (path / (role or "student") / "state.json").is_file() or (not role and (path / "state.json").is_file())
    check(bool(spec) and role in ("", *ROLES) and found, "prm",
          f"a judge recipe {sorted(JUDGE_RECIPES)} (optionally ':teacher') or a judge checkpoint directory (with state.json)", spec)


KINDS = {
    "prm": (check_prm_spec, load_prm),
    "judge": (check_judge_spec, load_judge),
}
"""Model kind (``sandbox.rewards.registry.MODEL_KINDS``) -> (check the spec, load the model)."""


def model_specs(variant: Variant, override: str = "") -> dict[str, str]:
    """Kind -> spec of every model ``variant`` declares, ``override`` (``RLConfig.prm``) replacing the spec."""
    return {kind: override or spec for kind, spec in variant.models.items()}


def check_reward_models(variant: Variant, override: str = "") -> None:
    """Before a run: ``ConfigError`` naming ``prm`` when a model the variant declares cannot be
    found, or when ``override`` is given for a variant that declares none; loads nothing."""
    if override:
        check(bool(variant.models), "prm", f"empty for variant {variant.name!r}, which scores with no PRM or judge", override)
    for kind, spec in model_specs(variant, override).items():
        KINDS[kind][0](spec)


def load_reward_models(variant: Variant, override: str = "") -> dict[str, object]:
    """Kind -> the loaded model (in eval mode, on the CPU) of every model the variant declares,
    for ``RewardContext(**models)``; a recipe is trained first if the cache lacks it."""
    check_reward_models(variant, override)
    return {kind: KINDS[kind][1](spec) for kind, spec in model_specs(variant, override).items()}
