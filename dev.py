#!/usr/bin/env python3
"""Set up the environment and run the project's entry points; standard library only.

    python3 dev.py demo          create .venv if missing, install, run the demo
    python3 dev.py test          create .venv if missing, install, run the whole test suite
    python3 dev.py run ARGS...   run `reward-sandbox ARGS...` inside the environment
    python3 dev.py lab [ARGS...] open the tutorials in JupyterLab (the environment's kernel, the checkout's cache)
    python3 dev.py fingerprint --out FILE.json          weight hashes and metrics of short runs
    python3 dev.py fingerprint --compare A.json B.json  every difference between two (exit 1 if any)

The virtual environment lives in ``.venv`` (override with ``REWARD_SANDBOX_VENV``). Where the
environment has no torch yet, ``torch==2.13.0`` (a CPU wheel) is installed first, because a
bare ``torch`` requirement pulls a multi-GB CUDA build on machines without one; the project
itself then installs with its extras (``.[all]``). The install step is skipped while
``pyproject.toml`` is unchanged since the last successful install.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import venv
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
    """One torch thread per worker, fast mode for notebooks and learning tests, a run-local cache,
    and bytecode written even where ``PYTHONDONTWRITEBYTECODE`` is set."""
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("MKL_NUM_THREADS", "1")
    env.setdefault("REWARD_SANDBOX_FAST", "1")
    env.setdefault("REWARD_SANDBOX_CACHE", str(ROOT / ".cache"))
    env.setdefault("HYPOTHESIS_PROFILE", "ci")
    env.setdefault("MPLBACKEND", "Agg")
    # Without bytecode every pytest worker rewrites the asserts of every test module again (about 4 s
    # of CPU each) and every subprocess -- notebook kernels, CLI runs, experiment workers -- compiles
    # the package again. It goes to the usual __pycache__ folders (ignored by git): a
    # PYTHONPYCACHEPREFIX would keep the checkout clean but hides the installed packages' own
    # bytecode, so a run compiled torch, transformers and the rest again (about 5,000 files, 4.4 s of
    # CPU for the imports of one training process alone, in every process that started before the
    # files were written).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def start_builds(python: Path, env: dict[str, str], lanes: int = 2) -> list[tuple[subprocess.Popen, object]]:
    """Start building (or finding) every cached model the tests and tutorials load -- the recipe
    table says which and in what order (``python -m sandbox.train.recipes --tests --lanes N``:
    ``recipes.build_lanes``, critical path first) -- as ``lanes`` processes with one torch thread
    each, output to a temporary file; exit if the listing fails. They run beside the tests: a test
    that needs a model not built yet waits on its file lock (or builds it, if no lane has started
    it), so both cores stay busy instead of idling while one build waits for another."""
    recipes = [str(python), "-m", "sandbox.train.recipes"]
    listed = subprocess.run([*recipes, "--tests", "--lanes", str(lanes)], cwd=ROOT, env=env, capture_output=True, text=True)
    if listed.returncode != 0:
        print(listed.stderr, file=sys.stderr)
        sys.exit(listed.returncode)
    plan = [line.split() for line in listed.stdout.splitlines() if line.strip()]
    print("+ building warm starts, PRMs and judges beside the tests, in "
          + "; ".join(f"lane {i + 1}: {', '.join(names)}" for i, names in enumerate(plan)), flush=True)
    builds = []
    for names in plan:
        log = tempfile.TemporaryFile(mode="w+")
        builds.append((subprocess.Popen([*recipes, *names], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True), log))
    return builds


def finish_builds(builds: list[tuple[subprocess.Popen, object]]) -> int:
    """Wait for the build lanes; print each model's directory and CPU seconds, or a failed lane's
    whole output. Returns 0, or the first failed lane's exit code."""
    failed = 0
    for process, log in builds:
        code = process.wait()
        log.seek(0)
        lines = log.read().splitlines()
        log.close()
        print("\n".join(lines if code else [line for line in lines if ": " in line and line.rstrip().endswith("of CPU here)")]),
              flush=True)
        failed = failed or code
    return failed


def children_cpu_seconds() -> float:
    """User + system CPU seconds of every finished child process so far (0 where ``resource`` is missing)."""
    try:
        import resource
    except ImportError:  # Windows
        return 0.0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# ---- fingerprint: bit-identity of refactors ------------------------------------------------
#
# A refactor that should not change results is checked by recording, before and after, the
# sha256 of the final weights and every non-timing metric of short deterministic runs of every
# training loop: a 2-step RL run of every registered variant (from the warm start it needs), the
# RL update's options (epochs, minibatches, KL, reference sync, SFT optimizer state), SFT fresh
# and continued, PRM / ORM / SPRM training, ThinkPRM judge SFT, StepWiser's cold start and GRPO,
# the learned models' scores, and the scale benchmark's training steps. One torch thread, fixed
# seeds, every section seeded on its own (its result does not depend on the others). Warm starts
# come from REWARD_SANDBOX_CACHE (built on a miss); the PRMs and judges the RL variants load are
# trained here, small, and handed to the runs as checkpoint directories (``RLConfig.prm``).
# Not covered: ``bench learn`` (its loops stop on wall-clock budgets).

FINGERPRINT_TIMING = ("time/", "rollout/tokens_per_s")
"""Metric name prefixes that measure wall-clock time (``sandbox.train.rl.TIMING_METRICS``)."""


def _timing(key: str) -> bool:
    leaf = key.rsplit("/", 1)[-1]
    return key.startswith(FINGERPRINT_TIMING) or leaf.endswith(("_s", "seconds", "per_s")) or leaf in ("s", "seconds")


def _plain(value):
    """JSON-ready copy of a metrics value with timing entries (by key) removed."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0])) if not _timing(str(k))}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


def weights_sha256(module) -> str:
    """sha256 over a module's state_dict: every tensor's name, dtype, shape and bytes, in name order."""
    import torch

    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update((t.view(torch.uint8) if t.dtype == torch.bfloat16 else t).numpy().tobytes())
    return digest.hexdigest()


def _seed_all(seed: int = 0) -> None:
    import random

    import torch

    random.seed(seed)
    torch.manual_seed(seed)


def fingerprint_sections(scratch: Path) -> dict:
    """Run every short training loop of the checkout; returns {section: {key: value}}."""
    import copy

    import torch

    from sandbox.model.policy import TinyPolicy
    from sandbox.model.sampler import SamplingConfig
    from sandbox.prm.discriminative import save_scorer, step_scores
    from sandbox.prm.generative import JudgeConfig, judge_rollouts
    from sandbox.prm.stepwiser_judge import judge_step_scores
    from sandbox.rewards.registry import VARIANTS
    from sandbox.rollout.group_sampler import sample_groups
    from sandbox.train import recipes
    from sandbox.train.judge_sft import JudgeTrainConfig, save_judges, train_thinkprm
    from sandbox.train.prm_train import PRMTrainConfig, train_prm
    from sandbox.train.rl import RLConfig, Trainer
    from sandbox.train.sft import SFTConfig, train_sft
    from sandbox.train.stepwiser_train import StepWiserConfig, train_stepwiser
    from sandbox.train.warmstart import PRESETS
    from toy_envs.base import ConfigError

    out: dict[str, dict] = {}
    warm = {}

    def start(name: str):
        if name not in warm:
            warm[name] = recipes.load(name)
        model, task, _ = warm[name]
        return copy.deepcopy(model), task

    def section(name: str, fn) -> None:
        _seed_all(0)
        t0 = time.perf_counter()
        out[name] = fn()
        print(f"fingerprint {name}: {time.perf_counter() - t0:.1f} s", flush=True)

    # ---- SFT
    def sft(init: bool):
        model, task = start("tiny")
        cfg = SFTConfig(steps=3, batch_size=8, lr=3e-3, warmup_steps=1, eval_problems=8, eval_every=2,
                        answer_noise=0.3 if init else 0.0, seed=1)
        log: list = []
        tuned, summary = train_sft(task, PRESETS["tiny"].model, cfg, progress=False, log=log.append, init=model if init else None)
        return {"weights": weights_sha256(tuned), "summary": _plain(summary), "log": _plain(log)}

    section("sft/fresh", lambda: sft(False))
    section("sft/continued", lambda: sft(True))

    # ---- PRMs (their checkpoints feed the PRM variants below)
    prm_dirs = {}

    def prm(kind: str, labels: str):
        model, task = start("tiny")
        cfg = PRMTrainConfig(kind=kind, labels=labels, n_problems=6, group_size=2, n_completions=2, steps=3, batch_size=4)
        scorer, info = train_prm(TinyPolicy(model), task, cfg)
        path = save_scorer(scratch / f"prm-{kind}-{labels}", scorer, {"fingerprint": True})
        prm_dirs[(kind, labels)] = str(path)
        return {"weights": weights_sha256(scorer), "info": _plain(info)}

    for kind, labels in (("prm", "oracle-valid"), ("prm", "mc-hard"), ("prm", "rpe"), ("orm", "oracle-valid"), ("sprm", "oracle-valid")):
        section(f"prm/{kind}-{labels}", lambda k=kind, lab=labels: prm(k, lab))

    # ---- generative judges
    judge_dir = scratch / "thinkprm"

    def thinkprm():
        model, task = start("tiny")
        cfg = JudgeTrainConfig(n_problems=4, group_size=2, teacher_steps=2, student_steps=2, batch_size=4,
                               filter_chains=2, filter_temperature=0.5)
        teacher, student, info = train_thinkprm(TinyPolicy(model), task, cfg)
        save_judges(judge_dir, teacher, student, {"fingerprint": True})
        return {"teacher": weights_sha256(teacher), "student": weights_sha256(student), "info": _plain(info)}

    section("judge/thinkprm", thinkprm)
    stepwiser = {}

    def stepwiser_section():
        model, task = start("tiny")
        cfg = StepWiserConfig(n_problems=8, eval_problems=4, group_size=2, sft_steps=2, sft_batch_size=4,
                              rl_steps=2, rl_problems_per_step=2, rl_group_size=2, n_samples=2)
        cold, judge, chunk_task, info = train_stepwiser(TinyPolicy(model), task, cfg)
        stepwiser["judge"] = judge
        return {"cold": weights_sha256(cold), "judge": weights_sha256(judge), "info": _plain(info),
                "train_pool": len(chunk_task.train_pool), "eval_pool": len(chunk_task.eval_pool)}

    section("judge/stepwiser", stepwiser_section)

    # ---- the learned models' scores of one fixed batch
    def scores():
        model, task = start("tiny")
        policy = TinyPolicy(model)
        with torch.no_grad():
            rollouts = sample_groups(policy, task, [0, 1, 2], 2, SamplingConfig(max_new_tokens=40), 7, 0)
        from sandbox.prm.discriminative import load_scorer

        scorer, _ = load_scorer(prm_dirs[("prm", "mc-hard")])
        judged = judge_rollouts(recipes.load(str(judge_dir), "judge"), rollouts, task, JudgeConfig(n_chains=2), seed=3)
        return {"texts": list(rollouts.texts), "prm": step_scores(scorer, rollouts),
                "thinkprm_steps": judged.steps, "thinkprm_solution": judged.solution,
                "stepwiser": judge_step_scores(stepwiser["judge"], task, rollouts, n_samples=2, seed=3)}

    section("scores", scores)

    # ---- RL: two steps of every variant, then the update's options
    models_for = {"prm_learned": {"prm-mc": ("prm", "mc-hard"), "prm-rpe": ("prm", "rpe"), "sprm": ("sprm", "oracle-valid")}}

    def init_for(variant) -> str:
        names = {source for source, _, _ in variant.sources}
        if "dro_r3" in names:
            return "tiny-long-answer"
        if "brier" in names:
            return "tiny-calib"
        if "self_evaluation" in names:
            return "tiny-pcl"
        return "tiny"

    def rl(name: str, **fields):
        variant = VARIANTS[name]
        init = fields.pop("init", init_for(variant))
        model, task = start(init)
        prm_override = ""
        if name in models_for["prm_learned"]:
            prm_override = prm_dirs[models_for["prm_learned"][name]]
        elif any(source == "prm_generative" for source, _, _ in variant.sources):
            prm_override = str(judge_dir)
        base = dict(variant=name, seed=0, steps=2, problems_per_step=4, group_size=4, eval_every=1, eval_problems=8,
                    pass_problems=4, pass_k=2, drift_every=1, drift_problems=4, warmup_steps=1, lr=3e-5,
                    progress=False, init=init, prm=prm_override)
        base.update(fields)
        cfg = None
        for group_size in (base["group_size"], 6, 8, 10, 12):
            try:
                cfg = RLConfig(**{**base, "group_size": group_size})
                cfg.validate()
                break
            except ConfigError:
                cfg = None
        if cfg is None:
            RLConfig(**base).validate()  # raises the error
        trainer = Trainer(cfg, task, TinyPolicy(model), None, TinyPolicy(copy.deepcopy(model).eval()))
        before = trainer.evaluate()
        history = trainer.train()
        record = {"group_size": cfg.group_size, "weights": weights_sha256(trainer.policy.module),
                  "before": _plain(before), "metrics": _plain(history)}
        for aux_name, aux in sorted(trainer.auxiliaries.items()):
            modules = {k: v for k, v in sorted(vars(aux).items()) if isinstance(v, torch.nn.Module)}
            record[f"auxiliary/{aux_name}"] = {k: weights_sha256(v) for k, v in modules.items()}
        return record

    for name in sorted(VARIANTS):
        section(f"rl/{name}", lambda n=name: rl(n))
    section("rl/outcome-grpo+update-options", lambda: rl(
        "outcome-grpo", ppo_epochs=2, minibatches=2, kl_coef=0.05, reference_sync_every=1, init_optimizer_state=True,
        clip_low=0.1, clip_high=0.3, aggregation="token-mean", weight_decay=0.01, grad_clip=0.5))

    # ---- the scale benchmark's SFT steps (its timings dropped)
    def scale():
        from sandbox.bench.scale import ScaleBenchConfig, run_scale_bench

        cfg = ScaleBenchConfig()
        cfg.steps, cfg.warmup_steps, cfg.batch_size, cfg.sample_rows, cfg.eval_problems, cfg.threads = 2, 1, 4, 0, 4, 1
        result = run_scale_bench(cfg)
        return {k: _plain(v) for k, v in sorted(result.items()) if k in ("train/final_loss", "eval/accuracy", "parameters")}

    section("bench/scale", scale)
    return out


def fingerprint_record(out: Path) -> int:
    """Inside the environment: run the sections, write ``out`` (JSON, sorted keys)."""
    import tempfile

    import torch

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fingerprint-") as scratch:
        sections = fingerprint_sections(Path(scratch))
    meta = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    tmp.write_text(json.dumps({"meta": meta, "sections": sections}, indent=1, sort_keys=True) + "\n")
    tmp.replace(out)
    print(f"fingerprint: {len(sections)} sections in {time.perf_counter() - t0:.0f} s -> {out}")
    return 0


def _flatten(value, prefix: str = "") -> dict:
    if isinstance(value, dict):
        flat = {}
        for k, v in value.items():
            flat.update(_flatten(v, f"{prefix}/{k}" if prefix else str(k)))
        return flat
    if isinstance(value, list):
        flat = {f"{prefix}#len": len(value)}
        for i, v in enumerate(value):
            flat.update(_flatten(v, f"{prefix}[{i}]"))
        return flat
    return {prefix: value}


def fingerprint_compare(a: Path, b: Path) -> int:
    """Print every entry that differs between two fingerprints (or is in one only); 1 if any."""
    left = _flatten(json.loads(a.read_text())["sections"])
    right = _flatten(json.loads(b.read_text())["sections"])
    differences = 0
    for key in sorted(left.keys() | right.keys()):
        x, y = left.get(key, "<absent>"), right.get(key, "<absent>")
        if x != y and not (isinstance(x, float) and isinstance(y, float) and x != x and y != y):  # NaN == NaN here
            differences += 1
            print(f"{key}: {x!r} != {y!r}")
    sections = len(json.loads(a.read_text())["sections"])
    print(f"{differences} differences in {len(left)} entries ({a} vs {b})" if differences else
          f"identical: {len(left)} entries in {sections} sections ({a} vs {b})")
    return 1 if differences else 0


def cmd_fingerprint(rest: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="dev.py fingerprint", description="Bit-identity fingerprint of short runs of every training loop.")
    parser.add_argument("--out", type=Path, help="Write the fingerprint of this checkout here.")
    parser.add_argument("--compare", type=Path, nargs=2, metavar=("A", "B"), help="Print every difference between two fingerprints.")
    args = parser.parse_args(rest)
    if args.compare:
        return fingerprint_compare(*args.compare)
    if not args.out:
        parser.error("one of --out FILE or --compare A B is required")
    try:  # an interpreter that has torch (e.g. the environment's own) runs it directly
        subprocess.run([sys.executable, "-c", "import torch"], check=True, capture_output=True)
        python = Path(sys.executable)
    except subprocess.CalledProcessError:
        python = ensure_env()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "CUBLAS_WORKSPACE_CONFIG": ":4096:8",
           "REWARD_SANDBOX_CACHE": os.environ.get("REWARD_SANDBOX_CACHE", str(ROOT / ".cache")), "PYTHONHASHSEED": "0"}
    return run([python, ROOT / "dev.py", "_fingerprint-record", args.out.resolve()], cwd=ROOT, env=env)


def lab_command(python: Path, rest: list[str]) -> list[str] | None:
    """``jupyter lab`` of the environment, rooted at ``tutorials/``; ``None`` (after one line saying how
    to install it) where the environment has no JupyterLab."""
    has_lab = subprocess.call([str(python), "-c", "import jupyterlab"], stderr=subprocess.DEVNULL) == 0
    if not has_lab:
        print(f"JupyterLab is not installed in {VENV}; install it with: {python} -m pip install -e '{ROOT}[notebooks]'",
              file=sys.stderr)
        return None
    return [python, "-m", "jupyterlab", f"--notebook-dir={ROOT / 'tutorials'}", *rest]


def main(argv: list[str]) -> int:
    if argv[:1] == ["_fingerprint-record"]:  # the environment's python, started by cmd_fingerprint
        return fingerprint_record(Path(argv[1]))
    if argv[:1] == ["fingerprint"]:
        return cmd_fingerprint(argv[1:])
    if not argv or argv[0] not in {"demo", "test", "run", "lab"}:
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
    if command == "lab":  # the notebooks' kernel is this environment's python; they read the same cache
        lab = lab_command(python, rest)
        return 1 if lab is None else run(lab, cwd=ROOT / "tutorials", env=env)
    env = test_env()
    # The SFT warm starts and the learned PRMs are built once per cache, by the build lanes started
    # here beside the pytest workers; every test, notebook and benchmark loads them from
    # REWARD_SANDBOX_CACHE (waiting on a model's file lock while a lane builds it).
    wall, cpu = time.perf_counter(), children_cpu_seconds()
    builds = start_builds(python, env)
    # --dist loadfile: each test file runs in one worker, so a module-scoped fixture (a finished run
    # directory, a grid run) is made once, not once per worker that draws one of its tests
    pytest = [python, "-m", "pytest", "-n", "2", "--dist", "loadfile", "--durations=20", "-p", "no:cacheprovider", "--nbmake"]
    code = run([*pytest, "tests", "tutorials", *rest], cwd=ROOT, env=env)
    built = finish_builds(builds)
    print(f"test time: {time.perf_counter() - wall:.0f} s wall, {children_cpu_seconds() - cpu:.0f} s of CPU "
          "(builds and tests, every process)", flush=True)
    return code or built


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
