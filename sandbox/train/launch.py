"""What ``reward-sandbox train``, ``sft`` and ``prm train`` do once their flags are parsed.

``launch_rl`` is the whole life of an RL run directory: every check before the first side
effect, the policy and its frozen reference loaded from ``RLConfig.init``, the held-out
evaluation before step 0 (unless resuming), training, and the start/end table. Under torchrun
every process calls it; rank 0 alone owns the run directory and prints.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import sys
from dataclasses import asdict
from pathlib import Path

import torch

from sandbox.errors import RunError
from toy_envs.base import ConfigError, check

END_TABLE_KEYS = ("eval/accuracy", "eval/process_accuracy", "eval/pass@{k}", "eval/process_pass@{k}", "calib/ece", "calib/brier", "calib/auroc")
"""The metrics ``launch_rl`` prints at the start and the end of a run (``{k}``: ``RLConfig.pass_k``)."""


def set_threads(threads: int) -> None:
    """``torch.set_num_threads`` after checking the ``--threads`` value (no silent clamping)."""
    check(threads >= 1, "threads", "an integer >= 1", threads)
    torch.set_num_threads(threads)


def task_fields(task) -> dict:
    """The init fields of a task config: what a checkpoint's state stores to rebuild it."""
    return {f.name: getattr(task, f.name) for f in dataclasses.fields(task) if f.init}


def load_init(init: str):
    """(model, task name, task fields) of a warm-start preset name or a checkpoint directory."""
    from sandbox.model.checkpoint import load_checkpoint
    from sandbox.train import recipes

    presets = recipes.warmstart_names()
    if init in presets:
        model, task, state = recipes.load(init)
        return model, state["task"], state["task_fields"]
    if not Path(init).is_dir():
        raise ConfigError(
            f"init={init!r} is not allowed: a warm-start preset {presets}, a checkpoint directory "
            "or hf:<a local Hugging Face model directory>"
        )
    try:
        model, state = load_checkpoint(init)
    except RunError as err:  # no state.json, a damaged file
        raise ConfigError(f"init={init!r} is not allowed: {err}") from None
    return model, state.get("task", "arithmetic"), state.get("task_fields", {})


def load_policies(init: str):
    """(policy, frozen reference policy) for ``RLConfig.init``: a tiny model, or with
    ``hf:<dir>`` any local ``AutoModelForCausalLM`` directory (``sandbox.model.hf_tokenizer``).
    Both are loaded on the CPU; the trainer moves them to ``RLConfig.device``."""
    from sandbox.model.policy import TinyPolicy

    if init.startswith("hf:"):
        from sandbox.model.hf_tokenizer import load_hf_policy

        check(Path(init[3:]).is_dir(), "init", "hf:<a local Hugging Face model directory> (this one does not exist)", init)
        policy = load_hf_policy(init[3:])
        reference = type(policy)(copy.deepcopy(policy.module).eval(), policy.tokenizer)
        return policy, reference
    model, _, _ = load_init(init)
    return TinyPolicy(model), TinyPolicy(copy.deepcopy(model).eval())


def launch_rl(cfg, task, task_name: str, run_dir: Path, resume: bool, threads: int) -> int:
    """Run (or with ``resume`` continue) RL in ``run_dir``; the exit code (130 when interrupted)."""
    from sandbox.train.distributed import current_world
    from sandbox.train.interrupts import graceful_stop
    from sandbox.train.rl import Trainer, check_task_size
    from sandbox.train.run_dir import RunDir, check_run_path, load_newest_checkpoint

    check_task_size(cfg, task)
    # everything is checked before the first side effect (the run directory), so a corrected
    # command never meets a directory its failed attempt left behind
    world = current_world()
    writer = world.rank == 0  # several processes (torchrun -m sandbox.train): rank 0 alone owns the run directory
    if writer:
        check_run_path(run_dir, resume)
    set_threads(threads)
    if resume and cfg.fsdp:
        raise ConfigError("fsdp=True is not allowed with --resume: FSDP checkpoints hold no optimizer state")
    policy, reference = load_policies(cfg.init)
    config = {"task": task_name, "task_fields": task_fields(task), "rl": asdict(cfg)}
    if not writer:
        cfg.progress = False
    trainer = Trainer(cfg, task, policy, None, reference)  # checks the world size, FSDP, the variant's models
    # a field the run's config.json lacks (added to RLConfig since) is its default
    run = trainer.run = RunDir(run_dir, config, resume=resume, defaults={"rl": asdict(type(cfg)())}) if writer else None
    with graceful_stop("rl run"):  # Ctrl-C during the first evaluation stops before step 0, too
        try:
            step = 0
            if resume:
                world.barrier()
                step = run.resume(trainer) if writer else load_newest_checkpoint(run_dir, trainer, report=lambda _: None)
                if writer:
                    print(f"resuming {run_dir} at step {step}")
            if step == 0:
                before = trainer.evaluate_on_rank0()  # every process calls it (FSDP gathers weights); rank 0 evaluates
                if writer:
                    run.log({"step": -1, **before})
            trainer.train()
        except KeyboardInterrupt:
            return 130
        finally:
            if run is not None:
                run.close()
    if not writer:
        return 0
    history = run.metrics()
    first = next((m for m in history if "eval/accuracy" in m), None)
    last = next((m for m in reversed(history) if "eval/accuracy" in m), None)
    if first and last:
        print(f"\n{'metric':<24} {'start':>8} {'end':>8}")
        for key in (k.format(k=cfg.pass_k) for k in END_TABLE_KEYS):
            if key in first and key in last:
                print(f"{key:<24} {first[key]:>8.3f} {last[key]:>8.3f}")
    print(f"run directory: {run_dir}")
    return 0


def sft_checkpoint(task, task_name: str, model_cfg, sft_cfg, out: Path) -> int:
    """Train a warm start on ``task``'s gold solutions and write it (with its AdamW state by
    parameter name: RL's ``--init-optimizer-state``) to the new directory ``out``."""
    from sandbox.model.checkpoint import save_checkpoint
    from sandbox.train.sft import train_sft_with_optimizer

    if out.exists():
        raise ConfigError(f"out={str(out)!r} is not allowed: it already exists (runs are never overwritten)")
    try:
        model, summary, optimizer = train_sft_with_optimizer(task, model_cfg, sft_cfg)
    except KeyboardInterrupt:  # SFT writes its checkpoint only when done and does not resume
        print(f"\ninterrupted: nothing was written to {out}", file=sys.stderr)
        return 130
    state = {"task": task_name, "task_fields": task_fields(task), "summary": summary}
    save_checkpoint(out, model, state, optimizer, by_name=True)
    print(json.dumps({k: v for k, v in summary.items() if k != "sft/config"}, indent=2))
    print(f"checkpoint: {out}")
    return 0


def prm_checkpoint_from(init: str, train_cfg, out: Path) -> int:
    """Train a PRM on samples of the warm start ``init`` (its backbone, too) and save it to ``out``."""
    from sandbox.model.policy import TinyPolicy
    from sandbox.prm.discriminative import save_scorer
    from sandbox.train import recipes
    from sandbox.train.prm_train import train_prm

    if out.exists():
        raise ConfigError(f"out={str(out)!r} is not allowed: it already exists (checkpoints are never overwritten)")
    model, task, state = recipes.load(init)
    scorer, info = train_prm(TinyPolicy(model), task, train_cfg)
    save_scorer(out, scorer, {"init": init, "task": state["task"], "task_fields": state["task_fields"], **info})
    print(json.dumps(info, indent=2))
    print(f"PRM checkpoint: {out}  (reward-sandbox train --variant prm-mc --prm {out} ...)")
    return 0
