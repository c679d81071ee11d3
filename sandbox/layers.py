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
    6  sandbox.train | sandbox.testing | sandbox.interop | sandbox.viz
                                                 all training (RL, SFT, PRM / judge training, the cached
                                                 recipes) | the property-testing kit | TRL / verl adapters | plots
    7  sandbox.experiments | sandbox.bench       tables, head-to-heads, sweeps, the demo | benchmarks
    8  sandbox.cli                               the command line

The one import that points up is the torchrun entry point, ``sandbox.train.__main__`` -> ``sandbox.cli``
(``python -m sandbox.train`` runs the CLI's ``train`` command): ``UPWARD_IMPORTS``.

``import_graph`` reads the imports statically (``ast``, imports inside functions included), for the
test and for the cached artifacts' keys (``sandbox.train.recipes``: the files a build imports).
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
"""The repository root (``sandbox/`` and ``toy_envs/`` lie in it)."""
PACKAGES = ("sandbox", "toy_envs")

FLOORS: tuple[tuple[str, ...], ...] = (
    ("toy_envs",),
    ("sandbox.errors", "sandbox.config", "sandbox.rng", "sandbox.layers"),
    ("sandbox.model",),
    ("sandbox.rollout",),
    ("sandbox.prm",),
    ("sandbox.rewards", "sandbox.eval"),
    ("sandbox.train", "sandbox.testing", "sandbox.interop", "sandbox.viz"),
    ("sandbox.experiments", "sandbox.bench"),
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


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every module of ``PACKAGES`` under ``root``."""
    files = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            files[".".join(parts)] = path
    return files


@cache
def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), str(path))


def imports_of(path: Path, module: str, known: set[str], type_checking: bool = True) -> set[str]:
    """The modules among ``known`` that ``path`` (module ``module``) imports anywhere in its code:
    ``from pkg import name`` counts as ``pkg.name`` where that is a module, else ``pkg``; relative
    imports are resolved. ``type_checking=False`` leaves out the imports under ``if TYPE_CHECKING:``
    (for annotations only: they never run)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    tree = _parse(path)
    skipped = set()
    if not type_checking:
        for node in ast.walk(tree):
            test = getattr(node, "test", None) if isinstance(node, ast.If) else None
            if getattr(test, "id", getattr(test, "attr", None)) == "TYPE_CHECKING":
                skipped.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped or not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Import):
            found.update(resolve(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                found.add(resolve(f"{base}.{alias.name}") or resolve(base))
    return {name for name in found if name and name != module}


def import_graph(root: Path = ROOT, type_checking: bool = True) -> dict[str, set[str]]:
    """Module -> the package modules it imports, for every module under ``root`` (``imports_of``)."""
    files = module_files(root)
    return {module: imports_of(path, module, set(files), type_checking) for module, path in files.items()}


@cache
def _files() -> dict[str, Path]:
    return module_files()


@cache
def _imports(module: str) -> frozenset[str]:
    files = _files()
    return frozenset(imports_of(files[module], module, set(files)))


def imported_closure(module: str) -> list[str]:
    """``module`` and every package module it imports, directly or through others, with the
    packages (``__init__``) of each, which run on import; sorted. Reads only the modules reached."""
    files = _files()
    seen, todo = set(), [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parents = [".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)]
        todo += [n for n in (*_imports(name), *parents) if n in files and n not in seen]
    return sorted(seen)


def source_files(module: str) -> tuple[str, ...]:
    """The files, relative to the repository root, of ``imported_closure(module)``: the code that
    a build in ``module`` can run."""
    files = _files()
    return tuple(str(files[name].relative_to(ROOT)) for name in imported_closure(module))
