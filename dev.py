#!/usr/bin/env python3
"""Set up the environment and run the project's entry points; standard library only.

    python3 dev.py demo          create .venv if missing, install, run the demo
    python3 dev.py test          create .venv if missing, install, run the whole test suite
    python3 dev.py run ARGS...   run `reward-sandbox ARGS...` inside the environment

The virtual environment lives in ``.venv`` (override with ``REWARD_SANDBOX_VENV``). Where the
environment has no torch yet, ``torch==2.13.0`` (a CPU wheel) is installed first, because a
bare ``torch`` requirement pulls a multi-GB CUDA build on machines without one; the project
itself then installs with its extras (``.[all]``). The install step is skipped while
``pyproject.toml`` is unchanged since the last successful install.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("REWARD_SANDBOX_VENV", ROOT / ".venv"))
TORCH_PIN = "torch==2.13.0"


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def run(cmd: list[str], **kwargs) -> int:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.call([str(c) for c in cmd], **kwargs)


def must(cmd: list[str], **kwargs) -> None:
    code = run(cmd, **kwargs)
    if code != 0:
        sys.exit(code)


def ensure_env() -> Path:
    """Create the venv if missing; install torch (CPU pin) first, then the project."""
    if sys.version_info < (3, 10):
        sys.exit(f"reward-sandbox needs Python >= 3.10; this is {sys.version.split()[0]}")
    python = venv_python()
    if not python.exists():
        print(f"creating virtual environment {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / ".reward-sandbox-installed"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return python
    has_torch = subprocess.call([str(python), "-c", "import torch"], stderr=subprocess.DEVNULL) == 0
    if not has_torch:
        must([python, "-m", "pip", "install", "--quiet", TORCH_PIN])
    must([python, "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[all]"])
    stamp.write_text(digest)
    return python


def test_env() -> dict[str, str]:
    """One torch thread per worker, fast mode for notebooks and learning tests, a run-local cache."""
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("MKL_NUM_THREADS", "1")
    env.setdefault("REWARD_SANDBOX_FAST", "1")
    env.setdefault("REWARD_SANDBOX_CACHE", str(ROOT / ".cache"))
    env.setdefault("HYPOTHESIS_PROFILE", "ci")
    env.setdefault("MPLBACKEND", "Agg")
    return env


WARM_STARTS = ("tiny", "tiny-noisy", "tiny-long-answer", "tiny-calib")
"""The warm-start presets the tests and tutorials load."""
PRM_RECIPES = ("tiny-mc", "tiny-rpe", "tiny-sprm", "tiny-oracle")
"""The cached PRM recipes (``sandbox.prm.recipes``) that the prm-mc / prm-rpe / sprm variants and tutorial 04 load."""
JUDGE_RECIPES = ("tiny-thinkprm",)
"""The cached ThinkPRM judge recipes (``sandbox.prm.judge_recipes``) that the genprm variant and its tests load."""
STEPWISER_RECIPES = ("tiny-stepwiser",)
"""The cached StepWiser chunk judges (``sandbox.prm.judge_recipes``) that the tests load."""


def build_caches(python: Path, env: dict[str, str], jobs: int = 2) -> None:
    """Build (or find) every warm start in ``WARM_STARTS``, then every PRM and judge recipe,
    ``jobs`` at a time with one torch thread each (a build that needs another one's checkpoint
    waits on that one's file lock); exit on the first failure."""
    builds = [["warmstart", "--preset", preset] for preset in WARM_STARTS]
    builds += [["prm", "recipe", "--name", recipe] for recipe in PRM_RECIPES]
    builds += [["prm", "judge-recipe", "--name", recipe] for recipe in JUDGE_RECIPES]
    builds += [["prm", "stepwiser", "--recipe", recipe] for recipe in STEPWISER_RECIPES]

    def build(args: list[str]) -> subprocess.CompletedProcess:
        cmd = [str(python), "-m", "sandbox.cli", *args, "--threads", "1"]
        return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)

    names = [*WARM_STARTS, *PRM_RECIPES, *JUDGE_RECIPES, *STEPWISER_RECIPES]
    print(f"+ building warm starts, PRMs and judges {', '.join(names)} ({jobs} at a time)", flush=True)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for args, done in zip(builds, pool.map(build, builds)):
            print(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else " ".join(args), flush=True)
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                sys.exit(done.returncode)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "test", "run"}:
        print(__doc__)
        return 2
    python = ensure_env()
    command, rest = argv[0], argv[1:]
    # one warm-start cache per checkout, shared by the demo, `run` and the tests
    env = {**os.environ, "REWARD_SANDBOX_CACHE": os.environ.get("REWARD_SANDBOX_CACHE", str(ROOT / ".cache"))}
    if command == "demo":
        return run([python, "-m", "sandbox.cli", "demo", *rest], cwd=ROOT, env=env)
    if command == "run":
        return run([python, "-m", "sandbox.cli", *rest], cwd=ROOT, env=env)
    env = test_env()
    # The SFT warm starts and the learned PRMs are built once, here, before the workers start;
    # every test, notebook and benchmark then loads them from REWARD_SANDBOX_CACHE.
    build_caches(python, env)
    pytest = [python, "-m", "pytest", "-n", "2", "--durations=20", "-p", "no:cacheprovider", "--nbmake"]
    return run([*pytest, "tests", "tutorials", *rest], cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
