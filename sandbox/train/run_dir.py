"""A run directory: nothing in it is ever overwritten.

    config.json          the run's configs (task, variant, RL config), written once
    metrics.jsonl        one JSON line per step, fixed metric names (DESIGN.md): step s is logged
                         after update s (from 0); step -1 is the evaluation before the first update
    tb/                  TensorBoard events with the same names
    checkpoints/step-N/  safetensors + JSON state (model, optimizer, step, stream position)
    checkpoints/<name>/step-N/  companions: a lagged reference, each auxiliary model
                         (``auxiliary-<name>``: a critic, an implicit PRM, with its optimizer)

``--resume`` continues from the newest intact checkpoint: the metrics of steps after it (a
crash between checkpoints) are dropped from metrics.jsonl so the log matches the continued run.
Damage is found, named in one line and worked around where nothing is lost:

* a checkpoint (or one of its companions) whose files fail their recorded size and sha256, or
  whose ``state.json`` is missing or unreadable, is moved to ``checkpoints/damaged/`` and the
  run resumes from the newest intact one (from the start when there is none, with a notice);
* a truncated last line of ``metrics.jsonl`` (a kill while it was written) is dropped: it belongs
  to a step after the newest checkpoint, which the resumed run logs again;
* a missing or unreadable ``config.json``, a damaged line inside ``metrics.jsonl``, or a
  missing ``metrics.jsonl`` beside a checkpoint is a ``DamagedFileError`` naming the file.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import torch

from sandbox.errors import DamagedFileError
from sandbox.model.checkpoint import load_checkpoint, save_checkpoint, verify_checkpoint
from toy_envs.base import ConfigError, check


class RunDir:
    def __init__(self, path: str | Path, config: dict, resume: bool = False, tensorboard: bool = True, defaults: dict | None = None):
        """``defaults``: the config's default values, in its layout (``{"rl": asdict(RLConfig())}``);
        on ``resume``, a field the run's config.json lacks (written before the field existed) is
        the same when the config given has its default there."""
        self.path = Path(path)
        check_run_path(self.path, resume)
        config_file = self.path / "config.json"
        if resume:
            saved = read_json(config_file, f"run_dir={str(self.path)!r}")
            as_written = lambda value: json.loads(json.dumps(value))  # as written: a tuple is a list
            different = config_differences(saved, as_written(config), as_written(defaults or {}))
            if different:
                raise ConfigError(
                    f"run_dir={str(self.path)!r}: --resume needs the same config as the run (only 'steps' may change); "
                    f"differs: {'; '.join(different)}"
                )
        else:
            self.path.mkdir(parents=True, exist_ok=True)
            config_file.write_text(json.dumps(config, indent=2, sort_keys=True))
        self.metrics_file = self.path / "metrics.jsonl"
        self.tensorboard = tensorboard
        self._tb = None  # opened at the first log: a resume that fails leaves the directory untouched

    def log(self, metrics: dict) -> None:
        with open(self.metrics_file, "a") as f:
            f.write(json.dumps(metrics, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
        if self.tensorboard and self._tb is None:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(self.path / "tb"))
        if self._tb is not None:
            step = metrics["step"]
            for name, value in metrics.items():
                if name != "step" and isinstance(value, (int, float)) and math.isfinite(value):
                    self._tb.add_scalar(name, value, step)
            self._tb.flush()

    def metrics(self) -> list[dict]:
        """The logged metrics, without a truncated last line (``read_metrics``)."""
        return read_metrics(self.metrics_file)[0]

    def checkpoints(self) -> list[Path]:
        return list_checkpoints(self.path)

    def save_checkpoint(self, step: int, module: torch.nn.Module, state: dict, optimizer: torch.optim.Optimizer | None,
                        companions: dict) -> Path:
        """Write the checkpoint of ``step`` (the policy ``module``, the trainer's ``state``, the
        ``optimizer``) and its ``companions`` (``Trainer.companions``); a step already saved is kept."""
        path = self.path / "checkpoints" / f"step-{step:06d}"
        if path.exists():
            return path
        for name, companion in companions.items():  # written first: the step's checkpoint marks completion
            where = self.companion(name, step)
            if not where.exists():
                companion.save(where)
        return save_checkpoint(path, module, state, optimizer)

    def companion(self, name: str, step: int) -> Path:
        """Where the checkpoint of step ``step`` keeps the companion ``name`` (``Trainer.companions``)."""
        return companion_path(self.path, name, step)

    def resume(self, trainer, report=print) -> int:
        """Load the newest intact checkpoint into ``trainer`` (moving damaged and later ones aside,
        each named by ``report``) and drop the log of the steps after it; returns the step it
        continues from (0 with no intact checkpoint: the run starts again, its log emptied)."""
        metrics, truncated = read_metrics(self.metrics_file)
        if self.checkpoints() and not self.metrics_file.exists():
            raise DamagedFileError(
                f"run_dir={str(self.path)!r}: metrics.jsonl is missing beside its checkpoints; restore it, "
                "or create an empty one to continue without the log of the steps before them"
            )
        step = load_newest_checkpoint(self.path, trainer, report, move_aside=True)
        if truncated:
            report(f"{self.metrics_file}: dropped a truncated last line (written when the run was killed; its step is logged again)")
        kept = [m for m in metrics if m["step"] < step] if step else []
        tmp = self.metrics_file.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(json.dumps(m, sort_keys=True) + "\n" for m in kept))
        os.replace(tmp, self.metrics_file)
        return step

    def note_stop(self, what: str) -> None:
        """Print what stopped the run and where ``--resume`` continues it."""
        newest = self.checkpoints()
        point = f"from {newest[-1]}" if newest else "from the start (no checkpoint yet)"
        print(f"\n{what}; --resume continues {point}", flush=True)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def check_run_path(path: Path, resume: bool) -> None:
    """``ConfigError`` unless ``path`` can hold a new run (absent or an empty directory) or, with
    ``resume``, is a run directory; touches nothing."""
    check(not path.exists() or path.is_dir(), "run_dir", "a directory (this path is a file)", str(path))
    if resume:
        check(path.is_dir(), "run_dir", "an existing run directory with --resume (this one does not exist)", str(path))
    else:
        check(not path.exists() or not any(path.iterdir()), "run_dir",
              "a new or empty directory: it exists, and runs are never overwritten (use --resume or a new directory)", str(path))


def write_json_atomic(path: Path, data: dict) -> None:
    """``path`` holds all of ``data`` or is untouched: written beside it, then renamed over it (a kill
    mid-write leaves no truncated plan or finished-run marker)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(tmp, path)


def read_json(path: Path, owner: str) -> dict:
    """A JSON object file; ``DamagedFileError`` naming it when it is missing or unreadable."""
    if not path.exists():
        raise DamagedFileError(f"{owner}: {path.name} is missing ({path})")
    try:
        value = json.loads(path.read_text())
        if not isinstance(value, dict):
            raise ValueError("not a JSON object")
    except (ValueError, UnicodeDecodeError) as err:
        raise DamagedFileError(f"{owner}: {path.name} is damaged ({err})") from None
    return value


def read_metrics(path: Path) -> tuple[list[dict], bool]:
    """(the records of a metrics.jsonl, whether a truncated last line was dropped). A last line
    without its newline that does not parse is what a kill during ``log`` leaves; any other
    unreadable line is a ``DamagedFileError`` naming the file and line."""
    if not path.exists():
        return [], False
    text = path.read_text(errors="replace")
    lines = text.split("\n")
    records, truncated = [], False
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or not isinstance(record.get("step"), int):
                raise ValueError("not a metrics record with an integer 'step'")
        except ValueError as err:
            if number == len(lines):  # the last line has no newline: cut off mid-write
                truncated = True
                continue
            raise DamagedFileError(f"{path}: line {number} is damaged ({err})") from None
        records.append(record)
    return records, truncated


def config_differences(saved: dict, given: dict, defaults: dict | None = None, prefix: str = "") -> list[str]:
    """``"field (run: a, now: b)"`` for every field other than ``steps`` whose value differs, both
    as JSON holds them (``given`` passed through JSON: a tuple field is a list). A field ``saved``
    lacks is the same when ``given`` holds its value in ``defaults`` (a field added to the config
    after the run was written, set to its default). A list field that a run saved as
    comma-separated text, before config lists were tuples (``adam_betas: "0.9,0.99"``), is the same
    when that text is its items joined by commas."""
    defaults = defaults or {}
    out = []
    for key in sorted(set(saved) | set(given)):
        if key == "steps":
            continue
        a, b = saved.get(key, "<absent>"), given.get(key, "<absent>")
        if key not in saved and key in defaults and b == defaults[key]:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            inner = defaults.get(key) if isinstance(defaults.get(key), dict) else {}
            out += config_differences(a, b, inner, f"{prefix}{key}.")
        elif a != b and not (isinstance(a, str) and isinstance(b, list) and a == ",".join(map(str, b))):
            out.append(f"{prefix}{key} (run: {a!r}, now: {b!r})")
    return out


def companion_path(run_path: Path, name: str, step: int) -> Path:
    return Path(run_path) / "checkpoints" / name / f"step-{step:06d}"


def list_checkpoints(run_path: str | Path) -> list[Path]:
    """The run's checkpoint directories ``checkpoints/step-N``, oldest first."""
    root = Path(run_path) / "checkpoints"
    return sorted(p for p in root.glob("step-*") if re.fullmatch(r"step-\d+", p.name)) if root.exists() else []


def checkpoint_step(path: Path) -> int:
    return int(path.name.split("-")[1])


def load_newest_checkpoint(run_path: str | Path, trainer, report=print, move_aside: bool = False) -> int:
    """Load the run's newest intact checkpoint (weights, optimizer, stream position, companion
    modules, each verified against its checksums first) into ``trainer``; returns the step it
    continues from, 0 when there is none. A damaged one is named by ``report``; with
    ``move_aside`` (the process that owns the directory) it and every companion or checkpoint of a
    later step are moved to ``checkpoints/damaged/`` so that the continued run writes them anew.
    Without ``move_aside`` the directory is not touched -- what every other data-parallel process
    does on ``--resume``."""
    run_path = Path(run_path)
    chosen = None
    for path in reversed(list_checkpoints(run_path)):
        step = checkpoint_step(path)
        try:
            verify_checkpoint(path)
            for name in trainer.companions():
                verify_checkpoint(companion_path(run_path, name, step))
        except DamagedFileError as err:
            report(f"{err}: not resumable, falling back to an older checkpoint")
            continue
        chosen = path
        break
    step = 0 if chosen is None else checkpoint_step(chosen)
    if move_aside:
        move_later_aside(run_path, step, report)
    if chosen is None:
        if list_checkpoints(run_path) or move_aside and (run_path / "checkpoints" / "damaged").exists():
            report(f"run_dir={str(run_path)!r}: no intact checkpoint; the run starts again from step 0")
        return 0
    model, state = load_checkpoint(chosen, optimizer=trainer.optimizer)
    trainer.policy.module.load_state_dict(model.state_dict())
    trainer.load_state(state)
    for name, companion in trainer.companions().items():
        companion.load(companion_path(run_path, name, trainer.step))
    return trainer.step


def move_later_aside(run_path: Path, step: int, report=print) -> None:
    """Move every checkpoint and companion directory of a step after ``step`` (damaged ones, or
    companions a kill left without their checkpoint) to ``checkpoints/damaged/``, never deleting."""
    root = run_path / "checkpoints"
    if not root.exists():
        return
    for path in sorted(root.glob("step-*")) + sorted(root.glob("*/step-*")):
        if not re.fullmatch(r"step-\d+", path.name) or path.parent.name == "damaged" or checkpoint_step(path) <= step:
            continue
        target = root / "damaged" / path.relative_to(root)
        while target.exists():
            target = target.with_name(target.name + "+")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        report(f"moved {path} to {target}")


class ModuleCompanion:
    """A plain module (the lagged reference) saved beside a checkpoint, with the auxiliary
    models' ``save``/``load`` interface."""

    def __init__(self, module: torch.nn.Module):
        self.module = module

    def save(self, path: Path) -> None:
        save_checkpoint(path, self.module)

    def load(self, path: Path) -> None:
        self.module.load_state_dict(load_checkpoint(path)[0].state_dict())
