"""The trained models a variant's reward sources score with: checked, resolved and loaded by the trainer.

A variant declares them by kind (``Variant.models``, e.g. ``{"prm": "tiny-mc"}``), as it declares
its auxiliary models; ``RLConfig.prm`` overrides the spec. Before a run ``check_reward_models``
checks that every spec names a recipe or a checkpoint directory (loading and training nothing);
the trainer then calls ``load_reward_models`` once (a recipe is trained on its first use and
cached, ``sandbox.train.artifact_cache``) and hands each model to the sources in the
``RewardContext`` field of its kind. A reward source never loads or trains a model.

    kind    RewardContext field   spec (checked and loaded by ``sandbox.train.recipes``)
    prm     ctx.prm               a PRM recipe (``PRM_RECIPES``) or a directory written by
                                  ``save_scorer`` (e.g. ``reward-sandbox prm train``)
    judge   ctx.judge             a ThinkPRM judge recipe (``JUDGE_RECIPES``), ``name`` (its student)
                                  or ``name:teacher``, or a judge checkpoint directory
    stepwiser ctx.stepwiser       a StepWiser judge recipe (``STEPWISER_RECIPES``, e.g. the outcome
                                  judge ``tiny-orm``), ``name`` (after GRPO) or ``name:cold``, or a
                                  checkpoint directory
"""

from __future__ import annotations

from sandbox.rewards.registry import Variant
from sandbox.train import recipes
from toy_envs.base import check

def model_specs(variant: Variant, override: str = "") -> dict[str, str]:
    """Kind -> spec of every model ``variant`` declares, ``override`` (``RLConfig.prm``) replacing the spec."""
    return {kind: override or spec for kind, spec in variant.models.items()}


def check_reward_models(variant: Variant, override: str = "") -> None:
    """Before a run: ``ConfigError`` naming ``prm`` when a model the variant declares cannot be
    found, or when ``override`` is given for a variant that declares none; loads nothing."""
    if override:
        check(bool(variant.models), "prm", f"empty for variant {variant.name!r}, which scores with no PRM or judge", override)
    for kind, spec in model_specs(variant, override).items():
        recipes.check_spec(spec, kind, field="prm")


def load_reward_models(variant: Variant, override: str = "") -> dict[str, object]:
    """Kind -> the loaded model (in eval mode, on the CPU) of every model the variant declares,
    for ``RewardContext(**models)``; a recipe is trained first if the cache lacks it."""
    check_reward_models(variant, override)
    return {kind: recipes.load(spec, kind) for kind, spec in model_specs(variant, override).items()}
