"""The floors of the package: every import points down.

A module lives in a *room* (a package such as ``sandbox.rewards``, or a single small module such as
``sandbox.rng``); rooms stand on numbered floors. A module may import from its own room and from
rooms on lower floors, never from a higher floor nor from another room on its own floor. Nothing
imports in a circle. ``tests/test_import_layers.py`` walks every import of ``sandbox/`` and
``toy_envs/`` (inside functions too) and fails on a circle or an import that breaks this.

    0  toy_envs                                  tasks, verifiers, oracles (no torch model, no sandbox)
    1  sandbox.errors, .config, .rng, .layers    small shared pieces: errors, config fields, keyed randomness
    2  sandbox.model                             the network, tokenizers, sampler, policies, checkpoint files
    3  sandbox.rollout                           Rollouts, the samplers of groups, trees and gold solutions
    4  sandbox.prm                               PRM / judge models, step labels, scoring (no training)
    5  sandbox.rewards | sandbox.eval            pure reward pieces + the registry | metrics
    6  sandbox.train | sandbox.testing | sandbox.interop
                                                 all training (RL, SFT, PRM / judge training, the cached
                                                 recipes) | the property-testing kit | TRL / verl adapters
    7  sandbox.experiments | sandbox.bench | sandbox.viz
                                                 tables, head-to-heads, sweeps, the demo | benchmarks | plots
    8  sandbox.cli                               the command line

The one import that points up is the torchrun entry point, ``sandbox.train.__main__`` -> ``sandbox.cli``
(``python -m sandbox.train`` runs the CLI's ``train`` command): ``UPWARD_IMPORTS``.
"""

from __future__ import annotations

FLOORS: tuple[tuple[str, ...], ...] = (
    ("toy_envs",),
    ("sandbox.errors", "sandbox.config", "sandbox.rng", "sandbox.layers"),
    ("sandbox.model",),
    ("sandbox.rollout",),
    ("sandbox.prm",),
    ("sandbox.rewards", "sandbox.eval"),
    ("sandbox.train", "sandbox.testing", "sandbox.interop"),
    ("sandbox.experiments", "sandbox.bench", "sandbox.viz"),
    ("sandbox.cli", "sandbox"),
)
"""Rooms by floor, lowest first (``sandbox`` itself: the package's ``__init__``)."""

UPWARD_IMPORTS: frozenset[tuple[str, str]] = frozenset({("sandbox.train.__main__", "sandbox.cli")})
"""(importer, imported) module pairs allowed to point up: the torchrun entry point only."""


def room(module: str) -> str:
    """The room of a dotted module name: the longest room name it equals or lies under."""
    rooms = [name for floor in FLOORS for name in floor if module == name or module.startswith(name + ".")]
    if not rooms:
        raise ValueError(f"module {module!r} is in no room of sandbox.layers.FLOORS")
    return max(rooms, key=len)


def floor(module: str) -> int:
    """The floor number of ``module``'s room."""
    name = room(module)
    return next(i for i, rooms in enumerate(FLOORS) if name in rooms)


def allowed(importer: str, imported: str) -> bool:
    """Whether ``importer`` may import ``imported`` (same room, a lower floor, or ``UPWARD_IMPORTS``)."""
    if room(importer) == room(imported) or (importer, imported) in UPWARD_IMPORTS:
        return True
    return floor(imported) < floor(importer)
