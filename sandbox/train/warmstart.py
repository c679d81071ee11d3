"""Cached SFT warm-start checkpoints shared by tests, notebooks and benchmarks.

A preset names a task config, a model config and an SFT config. ``warmstart(preset)`` returns
the checkpoint directory, training it only when the cache lacks it. The cache key is a hash of
the preset *and of the source files that determine the weights* (tasks, tokenizer, model,
SFT), so a code change never serves a stale checkpoint. A file lock makes concurrent callers
(pytest-xdist workers, notebooks) build it once and share it.

Cache directory: ``$REWARD_SANDBOX_CACHE`` (the test command points it inside the checkout,
so CI builds it once per run), else ``~/.cache/reward-sandbox``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from filelock import FileLock

import toy_envs
from sandbox.model.model import ModelConfig
from sandbox.model.tokenizer import CharTokenizer
from sandbox.train.checkpoint import load_checkpoint, save_checkpoint
from sandbox.train.sft import SFTConfig, train_sft

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("toy_envs", "sandbox/model", "sandbox/train/sft.py", "sandbox/train/checkpoint.py", "sandbox/rng.py")


@dataclass(frozen=True)
class Preset:
    task: str
    """Task registry name (``toy_envs.TASKS``)."""
    task_fields: dict = field(default_factory=dict)
    """Task config fields."""
    model: ModelConfig = field(default_factory=ModelConfig)
    """Model config (vocab size is the tokenizer's)."""
    sft: SFTConfig = field(default_factory=SFTConfig)
    """SFT config."""
    init: str = ""
    """Another preset whose checkpoint SFT continues from (same model config); empty: a fresh model."""

    def to_dict(self) -> dict:
        return {
            "task": self.task,
            "task_fields": self.task_fields,
            "model": asdict(self.model),
            "sft": asdict(self.sft),
            "init": self.init,
        }


_VOCAB = CharTokenizer().vocab_size
PRESETS: dict[str, Preset] = {
    # Tests, notebooks, benchmarks: 2-step +/- chains, a 0.8M-parameter model and an SFT short
    # enough to build in about a minute on 2 cores. Copying is learned first, the ones digit of
    # each result last, so the model is left right part of the time: room for RL above it.
    "tiny": Preset(
        task="arithmetic",
        task_fields={"n_steps": 2, "operators": "+-", "start_max": 50},
        model=ModelConfig(vocab_size=_VOCAB, d_model=128, n_layers=4, n_heads=4, n_kv_heads=4, d_ff=384, max_seq_len=128),
        sft=SFTConfig(steps=300, batch_size=64, lr=3e-3, eval_problems=256),
    ),
    # A longer warm start on the same task: the model is past the steep part of its learning
    # curve, so RL starts from a flatter point.
    "tiny-long": Preset(
        task="arithmetic",
        task_fields={"n_steps": 2, "operators": "+-", "start_max": 50},
        model=ModelConfig(vocab_size=_VOCAB, d_model=128, n_layers=4, n_heads=4, n_kv_heads=4, d_ff=384, max_seq_len=128),
        sft=SFTConfig(steps=600, batch_size=64, lr=3e-3, eval_problems=256),
    ),
    # Imperfect demonstrations: 60% of the answer lines state the last result + 1, so the model
    # computes well but usually copies its answer wrong -- a systematic flaw RL can remove.
    "tiny-noisy": Preset(
        task="arithmetic",
        task_fields={"n_steps": 2, "operators": "+-", "start_max": 50},
        model=ModelConfig(vocab_size=_VOCAB, d_model=128, n_layers=4, n_heads=4, n_kv_heads=4, d_ff=384, max_seq_len=128),
        sft=SFTConfig(steps=600, batch_size=64, lr=3e-3, eval_problems=256, answer_noise=0.6),
    ),
    # Calibration (RLCR): the tiny task with a confidence line after the answer line. It
    # continues from `tiny-noisy` on clean demonstrations, so SFT teaches the new line while the
    # model, which computes well, still copies some answers wrong -- errors it could learn to
    # doubt. q is drawn uniformly per problem (toy_envs.confidence): it tells RL nothing to start from.
    "tiny-calib": Preset(
        task="arithmetic",
        task_fields={"n_steps": 2, "operators": "+-", "start_max": 50, "confidence_line": True},
        model=ModelConfig(vocab_size=_VOCAB, d_model=128, n_layers=4, n_heads=4, n_kv_heads=4, d_ff=384, max_seq_len=128),
        sft=SFTConfig(steps=60, batch_size=64, lr=1e-3, warmup_steps=20, min_lr_ratio=1.0, eval_problems=256),
        init="tiny-noisy",
    ),
    # The 'tiny' recipe in long-answer mode ("#7,5" lists every intermediate): DRO scores the
    # likelihood of that reference line, so each reasoning step has answer tokens that depend on it.
    "tiny-long-answer": Preset(
        task="arithmetic",
        task_fields={"n_steps": 2, "operators": "+-", "start_max": 50, "long_answer": True},
        model=ModelConfig(vocab_size=_VOCAB, d_model=128, n_layers=4, n_heads=4, n_kv_heads=4, d_ff=384, max_seq_len=128),
        sft=SFTConfig(steps=300, batch_size=64, lr=3e-3, eval_problems=256),
    ),
    # Tree puzzles of depth 2 (one line per level, then the op path), for the toy ProcessBench's
    # "first dead-end step": a sampled op can be offered and computed right yet leave the target
    # unreachable. A short SFT on the same model size (97 s on one thread of a busy 2-core
    # machine; greedy accuracy 0.09). No test loads it, so dev.py does not prebuild it.
    "tiny-tree": Preset(
        task="tree",
        task_fields={"depth": 2, "branching": 3, "dead_end_fraction": 0.5},
        model=ModelConfig(vocab_size=_VOCAB, d_model=128, n_layers=4, n_heads=4, n_kv_heads=4, d_ff=384, max_seq_len=128),
        sft=SFTConfig(steps=200, batch_size=64, lr=3e-3, eval_problems=256),
    ),
}


def cache_dir() -> Path:
    return Path(os.environ.get("REWARD_SANDBOX_CACHE", Path.home() / ".cache" / "reward-sandbox"))


def source_digest() -> str:
    h = hashlib.sha256()
    for entry in SOURCES:
        path = ROOT / entry
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for f in files:
            h.update(str(f.relative_to(ROOT)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:12]


def preset_path(name: str) -> Path:
    if name not in PRESETS:
        raise ValueError(f"preset={name!r} is not known; allowed: {sorted(PRESETS)}")
    init = PRESETS[name].init
    key = json.dumps(PRESETS[name].to_dict(), sort_keys=True) + source_digest() + (preset_path(init).name if init else "")
    return cache_dir() / "warmstart" / f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def warmstart(name: str = "tiny", progress: bool = False) -> Path:
    """The checkpoint directory of preset ``name``, trained on first use."""
    path = preset_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        if not (path / "state.json").exists():
            preset = PRESETS[name]
            task = toy_envs.make_task(preset.task, **preset.task_fields)
            init = load_checkpoint(warmstart(preset.init, progress))[0] if preset.init else None
            with torch.random.fork_rng():
                model, summary = train_sft(task, preset.model, preset.sft, progress=progress, init=init)
            save_checkpoint(path, model, {"preset": name, **preset.to_dict(), "summary": summary})
    return path


def load_warmstart(name: str = "tiny"):
    """(model, task, state) of preset ``name``."""
    model, state = load_checkpoint(warmstart(name))
    task = toy_envs.make_task(state["task"], **state["task_fields"])
    return model, task, state
