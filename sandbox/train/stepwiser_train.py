"""Training the StepWiser chunk judge (``sandbox.prm.stepwiser_judge``), and its cached recipes.

    pools       ← the policy's samples of train / eval problems, every step a chunk labelled by the
                  chosen rule (MC completions from the policy where it needs them), class-balanced
    cold start  ← SFT on templated verification lines whose verdict is flipped with probability
                  ``error_rate`` (the recomputation then agrees with the flipped verdict)
    GRPO        ← the project's ``Trainer`` with the ``outcome-grpo`` variant on the ``ChunkTask``
                  (reward 1[written verdict = the chunk's label])

StepWiser: Xiong et al. 2025, "StepWiser: Stepwise Generative Judges for Wiser Reasoning", arXiv
2508.19229 (the cut-downs are stated in ``sandbox.prm.stepwiser_judge``).

Judges by name (``STEPWISER_RECIPES`` in ``sandbox.train.stepwiser_config``, built by
``build_stepwiser``: a directory holding ``cold/``, the SFT cold start, and ``judge/``, after GRPO)
are recipes of the one table of cached models, ``sandbox.train.recipes``: ``recipes.load("tiny-stepwiser")`` is the trained judge,
``recipes.load("tiny-stepwiser:cold")`` its cold start.
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict
from pathlib import Path

import torch

from sandbox.model.checkpoint import save_checkpoint
from sandbox.model.model import TinyLlama
from sandbox.model.policy import TinyPolicy
from sandbox.prm.stepwiser_judge import Chunk, ChunkTask, balanced_pool, chunks_of, solution_chunks_of
from sandbox.prm.verification import NO, YES, erring_recompute, recompute
from sandbox.rng import row_key
from sandbox.train.judge_sft import chain_batch
from sandbox.train.prm_train import label_solutions, sample_solutions
from sandbox.train.rl import LARGE_UPDATE, RLConfig, Trainer
from sandbox.train.sft import sft_loss
from sandbox.train.stepwiser_config import StepWiserConfig, StepWiserRecipe
from sandbox.train.toolkit import keyed_batches, learning_rate, optimizer_step, set_learning_rate
from toy_envs.base import SPLITS, ConfigError


def grpo_config(cfg: StepWiserConfig) -> RLConfig:
    """The trainer's config of the judge's GRPO stage: the judge's own lr and problems per step on
    the Adam update it was measured with (``LARGE_UPDATE``)."""
    update = {**LARGE_UPDATE, "lr": cfg.rl_lr, "problems_per_step": cfg.rl_problems_per_step}
    return RLConfig(**update, variant="outcome-grpo", seed=cfg.seed, steps=cfg.rl_steps,
                    group_size=cfg.rl_group_size, temperature=cfg.temperature, eval_every=0,
                    eval_problems=0, pass_problems=0, progress=False)


def build_chunk_task(policy, task, cfg: StepWiserConfig) -> ChunkTask:
    """Class-balanced train and eval pools from ``policy``'s samples of train / eval problems: step
    chunks labelled by ``cfg.labels`` (MC completions from ``policy`` where the rule needs them), or
    with ``cfg.unit = "solution"`` whole solutions labelled by the oracle's verdict."""
    cfg.validate()
    pools = {}
    for split in SPLITS:
        data = cfg.data_config(split)
        solutions = sample_solutions(policy, task, data, split=split)
        if cfg.unit == "solution":
            chunks = solution_chunks_of(task, solutions)
        else:
            chunks = chunks_of(task, solutions, label_solutions(policy, task, solutions, data))
        pools[split] = balanced_pool(chunks, cfg.seed, split, cfg.max_per_class)
    chunk_task = ChunkTask(pools["train"], pools["eval"])
    try:
        chunk_task.validate()
    except ConfigError as err:
        raise ConfigError(f"{err}; the policy's samples gave too few bad (or good) chunks: raise n_problems / eval_problems") from None
    return chunk_task


# ---- cold start --------------------------------------------------------------------------------


def templated_line(chunk: Chunk, modulus: int | None, error_rate: float, rng: random.Random) -> str:
    """The chunk's verification line, its verdict flipped with probability ``error_rate`` (the
    recomputation then agrees with the flipped verdict: for a solution chunk, a good solution gets
    one keyed step line recomputed off by 1..3, a bad one every step line's stated result confirmed)."""
    if rng.random() >= error_rate:
        return chunk.line
    if not chunk.steps:
        return f"{erring_recompute(chunk.step, modulus, chunk.good, rng)} {NO if chunk.good else YES}"
    lines = [i for i, step in enumerate(chunk.steps) if step.kind == "step"]
    wrong = rng.choice(lines) if chunk.good and lines else None
    parts = [erring_recompute(step, modulus, chunk.good, rng) if (not chunk.good or i == wrong) else recompute(step, modulus)
             for i, step in enumerate(chunk.steps)]
    return ",".join(parts) + f" {NO if chunk.good else YES}"


def cold_start(model: TinyLlama, chunk_task: ChunkTask, modulus: int | None, cfg: StepWiserConfig) -> tuple[TinyLlama, dict]:
    """A copy of ``model`` SFT-trained on templated lines of the train pool (masked NLL of the line
    and eos; line i of epoch e uses noise keyed by (seed, e, i))."""
    cfg.validate()
    judge = TinyLlama(model.cfg)
    judge.load_state_dict(model.state_dict())
    tok = TinyPolicy(judge).tokenizer
    optimizer = torch.optim.AdamW(judge.parameters(), lr=cfg.sft_lr, betas=(0.9, 0.98))
    pool, losses, t0 = chunk_task.train_pool, [], time.perf_counter()
    batches = keyed_batches(len(pool), cfg.sft_batch_size, (cfg.seed, "judge-sft"), span_epochs=True)
    judge.train()
    for step in range(cfg.sft_steps):
        batch = next(batches)
        lines = [templated_line(pool[i], modulus, cfg.error_rate, random.Random(row_key(cfg.seed, "judge-sft-line", e, i)))
                 for e, i in batch]
        tokens, mask = chain_batch([chunk_task.prompt(pool[i]) for _, i in batch], lines, tok, judge.cfg.max_seq_len)
        loss = sft_loss(judge, tokens, mask, tok.pad_id)
        set_learning_rate(optimizer, learning_rate(step, cfg.sft_lr, 10))
        optimizer_step(optimizer, loss, judge.parameters(), 1.0)
        losses.append(loss.item())
    judge.eval()
    return judge, {"judge/sft_loss": sum(losses[-10:]) / len(losses[-10:]), "judge/sft_s": time.perf_counter() - t0}


def train_stepwiser(policy, task, cfg: StepWiserConfig) -> tuple[TinyLlama, TinyLlama, ChunkTask, dict]:
    """Pools → cold start → GRPO (``Trainer``, outcome-grpo on the ``ChunkTask``); returns
    (cold-start judge, trained judge, the chunk task, info). The judge starts from ``policy``'s weights."""
    cfg.validate()
    t0 = time.perf_counter()
    chunk_task = build_chunk_task(policy, task, cfg)
    info = {"judge/train_chunks": len(chunk_task.train_pool), "judge/eval_chunks": len(chunk_task.eval_pool),
            "judge/pool_s": time.perf_counter() - t0}
    cold, sft_info = cold_start(policy.module, chunk_task, getattr(task, "modulus", None), cfg)
    info.update(sft_info)
    judge = TinyLlama(cold.cfg)
    judge.load_state_dict(cold.state_dict())
    t1 = time.perf_counter()
    history = Trainer(grpo_config(cfg), chunk_task, TinyPolicy(judge)).train()
    judge.eval()
    info.update({"judge/rl_s": time.perf_counter() - t1, "judge/rl_reward_first": history[0]["rollout/reward_mean"],
                 "judge/rl_reward_last": history[-1]["rollout/reward_mean"]})
    return cold, judge, chunk_task, info


# ---- StepWiser chunk judges --------------------------------------------------------------------

def build_stepwiser(name: str, recipe: StepWiserRecipe, init, out: Path) -> None:
    """Train recipe ``name`` from ``init`` (the loaded (model, task, state) of its warm start) and
    save ``out/cold`` and ``out/judge``."""
    model, task, state = init
    cold, judge, _, info = train_stepwiser(TinyPolicy(model), task, recipe.train)
    meta = {"recipe": name, "init": recipe.init, "task": state["task"], "task_fields": state["task_fields"],
            "train": asdict(recipe.train), **info}
    save_checkpoint(out / "cold", cold, meta)
    save_checkpoint(out / "judge", judge, meta)
