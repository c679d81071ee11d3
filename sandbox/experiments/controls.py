"""The continued-SFT control of an experiment (the ``sft`` pseudo-variant).

``sft`` is continued SFT from the warm start (``train_sft`` on the same problem stream, one SFT
step per RL optimizer step on the same number of problems, a fresh AdamW at the RL learning rate
and warm-up, constant after warm-up, no weight decay as RL; SFT's own AdamW β (0.9, 0.98) and ε
1e-8, so it is RL's optimizer only when ``adam_eps`` is 1e-8). It samples nothing, so under a
generated-token budget it runs the budget's ``steps``. Its run directory holds ``config.json``
and ``metrics.jsonl`` (the warm start's evaluation at step -1, the end's at step ``steps - 1``,
greedy accuracy and the drift probe; ``cost/generated_tokens`` 0) and its final weights as
``checkpoints/step-<steps>`` (what an experiment's ``[final]`` evaluates), written only when it
has finished (SFT keeps no intermediate checkpoints: an interrupted one starts again).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path

from sandbox.eval.accuracy import default_max_new_tokens, evaluate_accuracy
from sandbox.model.checkpoint import save_checkpoint
from sandbox.model.policy import TinyPolicy
from sandbox.train.drift import DriftProbe
from sandbox.train.launch import load_init, set_threads, task_fields
from sandbox.train.rl_config import RLConfig
from sandbox.train.sft import SFTConfig, train_sft


def continued_sft_config(cfg: RLConfig) -> SFTConfig:
    """SFT at the RL run's budget: one SFT step per RL optimizer step, on as many problems as that
    step's rows come from, at the RL learning rate and warm-up (in optimizer steps), then constant."""
    updates = cfg.minibatches * cfg.ppo_epochs
    return SFTConfig(
        steps=cfg.steps * updates, batch_size=max(1, cfg.problems_per_step // cfg.minibatches), lr=cfg.lr,
        warmup_steps=cfg.warmup_steps * updates, min_lr_ratio=1.0, weight_decay=cfg.weight_decay,
        grad_clip=cfg.grad_clip, seed=cfg.seed, eval_problems=0,
    )


def continued_sft_run(cfg: RLConfig, task, task_name: str, out: Path, threads: int = 1) -> int:
    """The ``sft`` control of an RL run's settings ``cfg``, written to ``out`` once it has finished."""
    if (out / "metrics.jsonl").exists():  # finished earlier (its experiment.json not yet written)
        return 0
    set_threads(threads)
    model, _, _ = load_init(cfg.init)
    budget = cfg.max_new_tokens or default_max_new_tokens(task)
    probe = DriftProbe(task, cfg.drift_problems, budget)
    start = {"step": -1, **evaluate_accuracy(model, task, TinyPolicy(model).tokenizer, cfg.eval_problems, budget), **probe.measure(TinyPolicy(model))}
    tuned, _ = train_sft(task, model.cfg, continued_sft_config(cfg), progress=False, init=model)
    end = {"step": cfg.steps - 1, "cost/generated_tokens": 0,
           **evaluate_accuracy(tuned, task, TinyPolicy(tuned).tokenizer, cfg.eval_problems, budget), **probe.measure(TinyPolicy(tuned))}
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    config = {"task": task_name, "task_fields": task_fields(task), "rl": asdict(cfg), "sft": asdict(continued_sft_config(cfg))}
    (partial / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True))
    (partial / "metrics.jsonl").write_text("".join(json.dumps(m, sort_keys=True) + "\n" for m in (start, end)))
    save_checkpoint(partial / "checkpoints" / f"step-{cfg.steps:06d}", tuned, {"task": task_name, "task_fields": task_fields(task)})
    os.replace(partial, out)
    return 0
