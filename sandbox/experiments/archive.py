"""An experiment's records without its weights: what the report, the claims and a continued grid need.

    reward-sandbox experiment archive DIR DEST

copies from experiment directory DIR into DEST the spec (``spec*.toml``), ``plan.json``,
``init_final.json`` and, for every *finished* run (its ``experiment.json`` exists), the run's
``config.json``, ``metrics.jsonl``, ``experiment.json`` and ``final.json``: no checkpoints, no
TensorBoard files, no logs. ``reward-sandbox experiment report DEST`` then gives the report of
DIR, number for number, and ``experiment run SPEC --out`` a copy of DEST continues the grid: the
archived runs count as finished and are skipped; the missing ones are trained.

This is how a grid longer than one machine's session is carried: archive what is finished into
the repository (``sandbox/experiments/records/NAME``), and on the next machine copy that archive
to a work directory (``cp -r``), run the spec into the copy, and archive the copy again into the
same DEST. Archiving never changes a file already in DEST: a file that is
there with the same bytes is left alone, one with other bytes stops the archive before anything
is copied (an archive of another grid, or of a run trained again), and a run whose final
evaluation no longer matches the spec cannot be evaluated again from an archive (no weights):
the runner names the run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sandbox.experiments.runner import DONE_FILE, read_plan, runs_of_plan
from toy_envs.base import check

RUN_FILES = ("config.json", "metrics.jsonl", "final.json", DONE_FILE)
"""A finished run's files an archive keeps (``final.json`` where the spec has ``[final]``)."""
TOP_FILES = ("plan.json", "init_final.json")
"""The experiment directory's files an archive keeps, beside its spec copies ``spec*.toml``."""


def archive_files(out: Path) -> list[Path]:
    """The files of ``out`` an archive holds, relative to ``out``, in plan order."""
    plan = read_plan(out)
    files = sorted(p.relative_to(out) for p in out.glob("spec*.toml"))
    files += [Path(name) for name in TOP_FILES if (out / name).is_file()]
    for run in runs_of_plan(plan):
        if (out / run.id / DONE_FILE).is_file():
            files += [Path(run.id) / name for name in RUN_FILES if (out / run.id / name).is_file()]
    return files


def archive_experiment(out: Path, dest: Path) -> tuple[int, int]:
    """Copy ``out``'s records into ``dest`` (see the module docstring); returns (files copied,
    files already there with the same bytes). ``ConfigError`` naming a file that differs."""
    out, dest = Path(out), Path(dest)
    check((out / "plan.json").is_file(), "dir", "an experiment directory (with plan.json)", str(out))
    check(out.resolve() != dest.resolve(), "dest", "another directory than the experiment's", str(dest))
    files = archive_files(out)
    differing = [str(f) for f in files if (dest / f).exists() and (dest / f).read_bytes() != (out / f).read_bytes()]
    check(not differing, "dest", "a new directory or an archive of the same grid (archiving never changes a file there); "
          f"these differ: {differing[:5]}", str(dest))
    copied = 0
    for f in files:
        if not (dest / f).exists():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            tmp = (dest / f).with_name((dest / f).name + ".tmp")
            shutil.copyfile(out / f, tmp)
            tmp.replace(dest / f)  # DONE_FILE last of its run (RUN_FILES order): a half-copied run is not finished
            copied += 1
    return copied, len(files) - copied
