"""The one cache of trained artifacts (warm starts, PRMs, judges): built once, keyed on config and sources.

An artifact is a directory ``cache_dir() / kind / f"{name}-{key}"`` with

    key = sha256(json(payload, sorted keys) + source_digest(sources))[:12]

where ``payload`` is everything that configures the build (a preset or recipe, and the directory
name of any cached artifact it starts from -- itself such a key) and ``sources`` the files whose
code determines the result (by path and content): the build's module and every package module it
imports, directly or through others (``sandbox.layers.source_files``), not a hand-kept list. Editing any of
them, or the config, names a new directory, so a stale artifact is never served.

``build_once(path, build, done)`` runs ``build(path)`` only when ``path / done`` (the file the
build writes last) is missing: under a file lock, so concurrent callers (pytest-xdist workers,
dev.py's parallel builds, notebooks) build it once and share it; after removing what an
interrupted build left there; and under ``torch.random.fork_rng``, so a build never moves the
caller's global RNG.

Cache directory (``cache_dir``): ``$REWARD_SANDBOX_CACHE`` when set; otherwise the checkout's ``.cache``
when the package runs from a source checkout (``ROOT`` holds ``pyproject.toml``: a clone, editable
installs included), so that the tests, the CLI and a notebook opened from any directory share one
cache; otherwise (an installed wheel) ``~/.cache/reward-sandbox``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from filelock import FileLock

ROOT = Path(__file__).resolve().parents[2]


def cache_dir() -> Path:
    """Where cached artifacts live (module docstring: the variable, the checkout, the home cache)."""
    if os.environ.get("REWARD_SANDBOX_CACHE"):
        return Path(os.environ["REWARD_SANDBOX_CACHE"])
    if (ROOT / "pyproject.toml").is_file():
        return ROOT / ".cache"
    return Path.home() / ".cache" / "reward-sandbox"


def source_digest(sources: Iterable[str]) -> str:
    """Hash of the path and content of every ``.py`` file under each entry (relative to the repo root)."""
    h = hashlib.sha256()
    for entry in sources:
        path = ROOT / entry
        for f in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            h.update(str(f.relative_to(ROOT)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:12]


def artifact_path(kind: str, name: str, payload: dict, sources: Iterable[str]) -> Path:
    """``cache_dir() / kind / "{name}-{key}"`` (the key as in the module docstring)."""
    key = json.dumps(payload, sort_keys=True) + source_digest(sources)
    return cache_dir() / kind / f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def build_once(path: Path, build: Callable[[Path], object], done: str = "state.json") -> Path:
    """``path``, after ``build(path)`` has written it unless ``path / done`` already exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        if not (path / done).exists():
            shutil.rmtree(path, ignore_errors=True)  # a build interrupted before writing `done`
            with torch.random.fork_rng():
                build(path)
    return path
