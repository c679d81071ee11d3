"""A run directory: nothing in it is ever overwritten.

    config.json          the run's configs (task, variant, RL config), written once
    metrics.jsonl        one JSON line per step, fixed metric names (DESIGN.md)
    tb/                  TensorBoard events with the same names
    checkpoints/step-N/  safetensors + JSON state (model, optimizer, step, stream position)
    checkpoints/<name>/step-N/  companions: a lagged reference, each auxiliary model
                         (``auxiliary-<name>``: a critic, an implicit PRM, with its optimizer)

``--resume`` continues from the newest checkpoint: the metrics of steps after it (a crash
between checkpoints) are dropped from metrics.jsonl so the log matches the continued run.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import torch

from sandbox.train.checkpoint import load_checkpoint, save_checkpoint


class RunDir:
    def __init__(self, path: str | Path, config: dict, resume: bool = False, tensorboard: bool = True):
        self.path = Path(path)
        config_file = self.path / "config.json"
        if resume:
            if not config_file.exists():
                raise FileNotFoundError(f"run_dir={str(self.path)!r}: nothing to resume (no config.json)")
            saved = json.loads(config_file.read_text())
            if _without_steps(saved) != _without_steps(config):
                raise ValueError(f"run_dir={str(self.path)!r}: --resume needs the same config as the run (only 'steps' may change)")
        else:
            if self.path.exists() and any(self.path.iterdir()):
                raise FileExistsError(
                    f"run_dir={str(self.path)!r} already exists; runs are never overwritten (use --resume or a new directory)"
                )
            self.path.mkdir(parents=True, exist_ok=True)
            config_file.write_text(json.dumps(config, indent=2, sort_keys=True))
        self.metrics_file = self.path / "metrics.jsonl"
        self._tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(self.path / "tb"))

    def log(self, metrics: dict) -> None:
        with open(self.metrics_file, "a") as f:
            f.write(json.dumps(metrics, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
        if self._tb is not None:
            step = metrics["step"]
            for name, value in metrics.items():
                if name != "step" and isinstance(value, (int, float)) and math.isfinite(value):
                    self._tb.add_scalar(name, value, step)
            self._tb.flush()

    def metrics(self) -> list[dict]:
        if not self.metrics_file.exists():
            return []
        return [json.loads(line) for line in self.metrics_file.read_text().splitlines() if line.strip()]

    def checkpoints(self) -> list[Path]:
        root = self.path / "checkpoints"
        return sorted(root.glob("step-*")) if root.exists() else []

    def save_checkpoint(self, trainer) -> Path:
        path = self.path / "checkpoints" / f"step-{trainer.step:06d}"
        if path.exists():
            return path
        for name, companion in trainer.companions().items():  # written first: the step's checkpoint marks completion
            where = self.companion(name, trainer.step)
            if not where.exists():
                companion.save(where)
        return save_checkpoint(path, trainer.policy.module, trainer.state(), trainer.optimizer)

    def companion(self, name: str, step: int) -> Path:
        """Where the checkpoint of step ``step`` keeps the companion ``name`` (``Trainer.companions``)."""
        return companion_path(self.path, name, step)

    def resume(self, trainer) -> int:
        """Load the newest checkpoint into ``trainer``; returns the step it continues from."""
        load_newest_checkpoint(self.path, trainer)
        kept = [m for m in self.metrics() if m["step"] < trainer.step]
        tmp = self.metrics_file.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(json.dumps(m, sort_keys=True) + "\n" for m in kept))
        os.replace(tmp, self.metrics_file)
        return trainer.step

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def companion_path(run_path: Path, name: str, step: int) -> Path:
    return Path(run_path) / "checkpoints" / name / f"step-{step:06d}"


def load_newest_checkpoint(run_path: str | Path, trainer) -> int:
    """Load the run's newest checkpoint into ``trainer`` (weights, optimizer, stream position,
    companion modules) without touching the directory -- what every data-parallel process
    does on ``--resume``; returns the step it continues from."""
    root = Path(run_path) / "checkpoints"
    checkpoints = sorted(root.glob("step-*")) if root.exists() else []
    if not checkpoints:
        raise FileNotFoundError(f"run_dir={str(run_path)!r} has no checkpoint to resume from")
    model, state = load_checkpoint(checkpoints[-1], optimizer=trainer.optimizer)
    trainer.policy.module.load_state_dict(model.state_dict())
    trainer.load_state(state)
    for name, companion in trainer.companions().items():
        companion.load(companion_path(run_path, name, trainer.step))
    return trainer.step


class ModuleCompanion:
    """A plain module (the lagged reference) saved beside a checkpoint, with the auxiliary
    models' ``save``/``load`` interface."""

    def __init__(self, module: torch.nn.Module):
        self.module = module

    def save(self, path: Path) -> None:
        save_checkpoint(path, self.module)

    def load(self, path: Path) -> None:
        self.module.load_state_dict(load_checkpoint(path)[0].state_dict())


def _without_steps(config: dict) -> dict:
    return {k: ({kk: vv for kk, vv in v.items() if kk != "steps"} if isinstance(v, dict) else v) for k, v in config.items()}
