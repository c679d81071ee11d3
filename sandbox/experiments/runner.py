"""Running an experiment's grid: ordinary run directories, worker processes, shards, resume.

    DIR/spec.toml                      the spec, copied (an earlier version: spec-<sha256[:12]>.toml)
    DIR/plan.json                      its expansion: every run's id, RLConfig fields, task, derived variant
    DIR/init_final.json                with ``[final]``: the warm start's final evaluation
    DIR/<setting>/<label>/seed-<k>/    one RL run (the trainer's run directory: config.json,
                                       metrics.jsonl, tb/, checkpoints/) + experiment.json when done
                                       + final.json with ``[final]`` (``sandbox.experiments.final_eval``)
    DIR/logs/<setting>/<label>/seed-<k>.log   what the run printed

A run is *finished* when its ``experiment.json`` exists (written after the trainer returned, with
the wall-clock seconds and the recipe metadata of the trained models it scored with), and
*complete* when it also holds its final evaluation at the spec's current ``[final]`` settings. A
complete run is skipped, a finished one only evaluated, a run directory without
``experiment.json`` is resumed from its newest checkpoint (``--resume``: the trainer drops the log
of later steps, so the result is the uninterrupted run's), a missing one is started. ``--shard
i/n`` (0 <= i < n) takes the runs whose position in the plan is i modulo n, so n machines (a job
array) cover the grid exactly once; ``report`` reads whatever directories exist. A second ``run``
into the same DIR must plan every run the directory's plan holds, unchanged (a spec may grow by
seeds, variants, settings or its ``[final]`` table; a comment may change): otherwise it is refused
before anything is touched.

With ``workers`` >= 1 each run is a child process (``python -m sandbox.experiments.worker``, one
torch thread, its own session so that a terminal's Ctrl-C reaches only this process, which passes
one SIGINT on to every child: each finishes its step, writes its checkpoint and exits; SIGTERM, a
cluster scheduler's stop, does the same). With
``workers=0`` the runs go one after another in this process (tests, debugging).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import MISSING, asdict, fields, replace
from pathlib import Path


from sandbox.experiments.spec import CONTROLS, ExperimentSpec, Run, load_spec
from sandbox.train.run_dir import write_json_atomic
from sandbox.train.progress import progress_bar
from toy_envs.base import ConfigError, check

DONE_FILE = "experiment.json"


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` -> (i, n) with 0 <= i < n."""
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        i, n = -1, 0
    check(n >= 1 and 0 <= i < n, "shard", "i/n with 0 <= i < n, e.g. 0/4 (a job array's index and size)", text)
    return i, n


def shard_of(runs: list, i: int, n: int) -> list:
    """The runs whose position in the plan is i modulo n."""
    return [run for position, run in enumerate(runs) if position % n == i]


def plan_record(spec: ExperimentSpec, runs: list[Run]) -> dict:
    return {"name": spec.name, "spec_sha256": spec.digest(), "spec": spec.to_dict(), "runs": [asdict(r) for r in runs]}


def read_plan(out: Path) -> dict:
    from sandbox.train.run_dir import read_json

    return read_json(out / "plan.json", f"experiment {str(out)!r}")


def runs_of_plan(plan: dict) -> list[Run]:
    return [Run(**r) for r in plan["runs"]]


def prepare(spec_path: str | Path, out: str | Path) -> tuple[ExperimentSpec, list[Run]]:
    """Check the spec and the directory; write ``spec.toml`` and ``plan.json`` the first time, and
    again when the spec has grown (every run planned before is planned again unchanged: seeds,
    variants or settings added, ``[final]`` added or changed; the earlier spec text is kept as
    ``spec-<its sha256[:12]>.toml``). ``ConfigError`` (nothing touched) when a planned run would
    change or disappear."""
    spec = load_spec(spec_path)
    runs = spec.validate()
    out = Path(out)
    check(not out.exists() or out.is_dir(), "out", "a directory (this path is a file)", str(out))
    record = plan_record(spec, runs)
    if (out / "plan.json").exists():
        saved = read_plan(out)
        conflict = plan_conflict(saved, record)
        if conflict:
            raise ConfigError(
                f"out={str(out)!r} is not allowed: it holds the runs of another spec ({saved.get('name')!r}, see {out / 'spec.toml'}): "
                f"{conflict}; runs are never overwritten: use a new directory, or a spec that plans every run it planned unchanged"
            )
        if saved["spec_sha256"] != record["spec_sha256"]:
            earlier = out / f"spec-{saved['spec_sha256'][:12]}.toml"
            if not earlier.exists():
                os.replace(out / "spec.toml", earlier)
            shutil.copyfile(spec_path, out / "spec.toml")
            write_json_atomic(out / "plan.json", record)
        return spec, runs
    check(not out.exists() or not any(out.iterdir()), "out", "a new or empty directory, or one made by this spec", str(out))
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(spec_path, out / "spec.toml")
    write_json_atomic(out / "plan.json", record)
    return spec, runs


def plan_conflict(saved: dict, record: dict) -> str:
    """Why ``record`` (a new plan) cannot take over a directory holding ``saved``: '' when every run
    of ``saved`` is in ``record`` unchanged (as JSON, the way plan.json keeps it)."""
    if saved.get("name") != record["name"]:
        return f"its name is {saved.get('name')!r}, this spec's {record['name']!r}"
    planned = {r["id"]: r for r in json.loads(json.dumps(record["runs"]))}
    defaults = {f.name: f.default for f in fields(Run) if f.default is not MISSING}  # fields added to Run since
    for run in saved["runs"]:
        if run["id"] not in planned:
            return f"run {run['id']} is not in this spec"
        new = planned[run["id"]]
        run = {**{k: v for k, v in defaults.items() if k in new}, **run}  # a plan written before a field existed
        changed = sorted(f"{k}.{f}" if isinstance(run.get(k), dict) and isinstance(new.get(k), dict) else k
                         for k in set(run) | set(new) if run.get(k) != new.get(k)
                         for f in ((set(run[k]) | set(new[k])) if isinstance(run.get(k), dict) and isinstance(new.get(k), dict) else [None])
                         if f is None or run[k].get(f) != new[k].get(f))
        if changed:
            return f"run {run['id']} would change ({', '.join(changed)})"
    return ""


def is_finished(out: Path, run: Run) -> bool:
    """Trained: the run's ``experiment.json`` exists."""
    return (out / run.id / DONE_FILE).exists()


def is_complete(out: Path, run: Run, final) -> bool:
    """Trained, and evaluated with the spec's current ``[final]`` settings (``final``; None: none)."""
    from sandbox.experiments.final_eval import FINAL_FILE, is_current

    return is_finished(out, run) and is_current(out / run.id / FINAL_FILE, final)


def planned_final(out: Path):
    """The ``[final]`` settings of the directory's plan (None without the table)."""
    return ExperimentSpec.from_dict(read_plan(out)["spec"]).final_settings()


def write_final(path: Path, model, task, final) -> None:
    """``path`` (a final.json): ``model``'s final metrics on ``task`` with these settings."""
    from sandbox.experiments.final_eval import evaluate_final_record, settings_record

    write_json_atomic(path, {"settings": settings_record(final), **evaluate_final_record(model, task, final)})


def evaluate_init(out: Path, spec: ExperimentSpec, final) -> None:
    """The warm start's final evaluation (the report's Δ for ``final/*``), once per settings."""
    import toy_envs
    from sandbox.experiments.final_eval import INIT_FINAL_FILE, is_current
    from sandbox.train.launch import load_init

    if final is None or is_current(out / INIT_FINAL_FILE, final):
        return
    name, fields = spec.task_config()
    write_final(out / INIT_FINAL_FILE, load_init(spec.init)[0], toy_envs.make_task(name, **fields), final)


def run_experiment(spec_path: str | Path, out: str | Path, workers: int = 1, shard: str = "0/1", progress: bool = True) -> int:
    """Run what is missing of this shard; 0 when all of it has finished, 130 when interrupted."""
    check(type(workers) is int and workers >= 0, "workers", "an integer >= 0 (0: in this process)", workers)
    i, n = parse_shard(shard)
    spec, runs = prepare(spec_path, out)
    out = Path(out)
    if not isinstance(spec, ExperimentSpec):  # a benchmark spec: its seeds in this process
        from sandbox.experiments.prm_spec import run_prm_spec

        if workers > 1:
            print(f"{spec.name}: a benchmark spec runs its seeds one after another in this process (--workers does not apply)", file=sys.stderr)
        return run_prm_spec(spec, out, shard_of(spec.seeds, i, n), progress)
    mine = shard_of(runs, i, n)
    final = spec.final_settings()
    todo = [run for run in mine if not is_complete(out, run, final)]
    if todo:
        evaluate_init(out, spec, final)
    bar = progress_bar(progress, total=len(mine), initial=len(mine) - len(todo), desc=f"{spec.name} runs", unit="run")  # drawn in a notebook too
    try:
        code = run_in_process(out, todo, bar) if workers == 0 else run_in_children(out, todo, workers, bar)
    finally:
        bar.close()
    done = sum(is_complete(out, run, final) for run in mine)
    print(f"{done}/{len(mine)} runs of shard {i}/{n} finished in {out}" + ("" if done == len(mine) else "; rerun the same command to continue"),
          file=sys.stderr)
    return code


def run_in_process(out: Path, todo: list[Run], bar) -> int:
    from sandbox.train.interrupts import graceful_stop

    with graceful_stop("experiment") as stop:  # the runs share it: a Ctrl-C stops the one under way and starts no other
        for run in todo:
            if stop.requested:
                return 130
            code = execute(out, run, threads=1)
            if code:
                return code
            bar.update(1)
    return 0


def run_in_children(out: Path, todo: list[Run], workers: int, bar) -> int:
    """The runs in up to ``workers`` child processes. SIGINT or SIGTERM (a scheduler's stop; also
    when SIGINT was ignored, as for a command started in the background) starts no other run and
    is passed on as one SIGINT to every running child: each finishes its step, writes its
    checkpoint and exits; 130 then."""
    from sandbox.train.interrupts import graceful_stop

    running: dict[str, subprocess.Popen] = {}
    queue = list(todo)
    failed = []
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with graceful_stop("experiment") as stop:
        try:
            while (queue or running) and not stop.requested:
                for run in [r for r in queue if r.after and not is_ready(out, r) and r.after not in running
                            and r.after not in {q.id for q in queue}]:
                    queue.remove(run)  # its first stage failed or is another shard's: it cannot start here
                    failed.append(run.id)
                    print(not_ready_message(out, run), file=sys.stderr)
                while len(running) < workers and (run := next((r for r in queue if is_ready(out, r)), None)):
                    queue.remove(run)
                    log = out / "logs" / f"{run.id}.log"
                    log.parent.mkdir(parents=True, exist_ok=True)
                    with open(log, "a") as f:
                        running[run.id] = subprocess.Popen([sys.executable, "-m", "sandbox.experiments.worker", str(out), run.id],
                                                           stdout=f, stderr=subprocess.STDOUT, env=env, start_new_session=True)
                time.sleep(0.2)
                for run_id, child in list(running.items()):
                    if child.poll() is None:
                        continue
                    del running[run_id]
                    if child.returncode == 0:
                        bar.update(1)
                    else:
                        failed.append(run_id)
                        print(f"run {run_id} exited with {child.returncode}: see {out / 'logs' / (run_id + '.log')}", file=sys.stderr)
        except KeyboardInterrupt:  # a second signal while starting or polling
            stop.requested = stop.requested or "SIGINT"
        if stop.requested:
            for child in running.values():
                if child.poll() is None:
                    child.send_signal(signal.SIGINT)  # one signal: the step under way finishes and is checkpointed
            for child in running.values():
                child.wait()
            return 130
    return 1 if failed else 0


def is_ready(out: Path, run: Run) -> bool:
    """The run can start: it starts from the spec's init, or the run it continues has finished."""
    return not run.after or (out / run.after / DONE_FILE).exists()


def not_ready_message(out: Path, run: Run) -> str:
    return (f"run {run.id} starts from the last checkpoint of run {run.after}, which has not finished in {out} "
            "(it failed, or another shard runs it): finish that run first, then rerun this command")


def execute(out: Path, run: Run, threads: int = 1) -> int:
    """One run to its end (resumed when its directory exists; skipped when finished), then its
    final evaluation when the plan has ``[final]`` and the run's ``final.json`` is missing or was
    made with other settings; writes ``experiment.json`` when training has finished. The exit code
    of the run (130 when interrupted)."""
    from sandbox.rewards.catalog import registered
    import toy_envs

    path = out / run.id
    task = toy_envs.make_task(run.task, **run.task_fields)
    if not is_finished(out, run):
        if not is_ready(out, run):
            print(not_ready_message(out, run), file=sys.stderr)
            return 1
        if run.after:  # a pipeline's later stage: it starts where the earlier stage's run ended
            from sandbox.experiments.final_eval import final_model_path

            run = replace(run, rl={**run.rl, "init": str(final_model_path(out / run.after))})
        resume = (path / "config.json").exists()
        t0 = time.perf_counter()
        if run.label in CONTROLS or run.rl["variant"] in CONTROLS:
            from sandbox.experiments.controls import continued_sft_run

            code = continued_sft_run(run.rl_config(), task, run.task, path, threads)
        else:
            from sandbox.train.launch import launch_rl

            derived = run.derived_variant()
            with registered([derived] if derived else []):
                code = launch_rl(run.rl_config(), task, run.task, path, resume, threads)
        if code:
            return code
        done = {"id": run.id, "wall_s": time.perf_counter() - t0, "resumed": resume, "models": model_metadata(run)}
        write_json_atomic(path / DONE_FILE, done)
    final = planned_final(out)
    if not is_complete(out, run, final):
        from sandbox.experiments.final_eval import FINAL_FILE, final_model_path
        from sandbox.model.checkpoint import load_checkpoint

        write_final(path / FINAL_FILE, load_checkpoint(final_model_path(path))[0], task, final)
    return 0


def model_metadata(run: Run) -> dict:
    """Kind -> what the cached recipe of each trained model the variant scores with recorded about
    its training (seconds, labels, problems); {} for a variant without one."""
    from sandbox.rewards.registry import get_variant
    from sandbox.train.reward_models import model_specs

    if run.rl["variant"] in CONTROLS:
        return {}
    variant = run.derived_variant() or get_variant(run.rl["variant"])
    out = {}
    for kind, spec in model_specs(variant, run.rl.get("prm", "")).items():
        out[kind] = {"spec": spec, **recipe_info(kind, spec)}
    return out


def recipe_info(kind: str, spec: str) -> dict:
    """What a cached PRM or judge recipe recorded about its training: seconds, the step labels it
    learned from and on how many solutions (the count its build recorded: an MCTS-labelled PRM's
    trees give their own number; {} when the spec is not a recipe)."""
    from sandbox.train import recipes

    name = spec.partition(":")[0]
    if name not in recipes.RECIPES or recipes.RECIPES[name].kind != kind:
        return {}
    if kind == "prm":
        state = json.loads((recipes.build(name) / "state.json").read_text()).get("state", {})
        train = state.get("train", {})
        scorer = train.get("kind", "prm")
        labels = train.get("labels") if scorer == "prm" else f"none ({scorer}: the outcome at every step)"
        sampled = train.get("n_problems", 0) * train.get("group_size", 0) or None  # a build that did not record its count
        return {"train_s": state.get("prm/train_s"), "labels": labels, "solutions": state.get("prm/solutions", sampled)}
    if kind == "judge":
        info = json.loads((recipes.build(name) / "info.json").read_text())
        return {"train_s": info.get("judge/train_s"), "labels": info.get("train", {}).get("labels"), "solutions": info.get("judge/teacher_solutions")}
    return {}
