"""Training the StepWiser chunk judge (``sandbox.prm.stepwiser_judge``), and its cached recipes.

    pools       ← the policy's samples of train / eval problems, every step a chunk labelled by the
                  chosen rule (MC completions from the policy where it needs them), class-balanced
    cold start  ← SFT on templated verification lines whose verdict is flipped with probability
                  ``error_rate`` (the recomputation then agrees with the flipped verdict)
    GRPO        ← the project's ``Trainer`` with the ``outcome-grpo`` variant on the ``ChunkTask``
                  (reward 1[written verdict = the chunk's label])

StepWiser: Xiong et al. 2025, "StepWiser: Stepwise Generative Judges for Wiser Reasoning", arXiv
2508.19229 (the cut-downs are stated in ``sandbox.prm.stepwiser_judge``).

Recipes, trained once per cache like the other judges (``sandbox.train.judge_recipes``):

    STEPWISER_RECIPES[name] = (warm-start preset, StepWiserConfig)

``stepwiser_checkpoint(name)`` returns a directory holding ``cold/`` (the SFT cold start) and
``judge/`` (after GRPO); ``load_stepwiser(name, which)`` loads either.
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from sandbox.layers import source_files
from sandbox.model.checkpoint import load_checkpoint, save_checkpoint
from sandbox.model.model import TinyLlama, token_logprobs
from sandbox.model.policy import TinyPolicy
from sandbox.prm.labels import LABELLERS
from sandbox.prm.stepwiser_judge import Chunk, ChunkTask, balanced_pool, chunks_of
from sandbox.prm.verification import NO, YES, erring_recompute
from sandbox.rng import row_key
from sandbox.train.artifact_cache import artifact_path, build_once
from sandbox.train.judge_sft import chain_batch
from sandbox.train.prm_train import PRMTrainConfig, label_solutions, sample_solutions
from sandbox.train.rl import LARGE_UPDATE, RLConfig, Trainer
from sandbox.train.toolkit import keyed_batches, learning_rate, optimizer_step, set_learning_rate
from sandbox.train.warmstart import load_warmstart, preset_path
from toy_envs.base import SPLITS, ConfigError, check, is_int


# ---- config ------------------------------------------------------------------------------------


@dataclass
class StepWiserConfig:
    labels: str = "oracle-valid"
    """Labelling rule of the chunks (``sandbox.prm.labels``): oracle-valid, abs-q, rel-ratio, rel-effective, ..."""
    n_problems: int = 128
    """Train-split problems the policy solves for the train pool."""
    eval_problems: int = 64
    """Eval-split problems the policy solves for the held-out pool."""
    group_size: int = 2
    """Policy samples per problem."""
    n_completions: int = 4
    """K, MC completions per step end (MC-based labelling rules)."""
    max_per_class: int = 0
    """At most this many good (and as many bad) chunks per pool; 0 = as many as the rarer class has."""
    error_rate: float = 0.3
    """Cold start: probability that a templated line's verdict is flipped (with an agreeing recomputation)."""
    sft_steps: int = 100
    """Cold start: SFT optimizer steps."""
    sft_batch_size: int = 32
    """Cold start: lines per SFT step."""
    sft_lr: float = 2e-3
    """Cold start: AdamW learning rate (constant after a 10-step warm-up)."""
    rl_steps: int = 30
    """GRPO steps (``Trainer`` with the outcome-grpo variant)."""
    rl_problems_per_step: int = 16
    """Chunks per GRPO step."""
    rl_group_size: int = 8
    """Judge samples per chunk."""
    rl_lr: float = 2e-4
    """GRPO AdamW learning rate."""
    n_samples: int = 4
    """N, sampled chains averaged per judged chunk (scores and sampled verdict accuracy)."""
    temperature: float = 1.0
    """Sampling temperature of the policy's solutions, the judge's GRPO samples and its scoring chains."""
    seed: int = 0
    """Keys the solutions, MC completions, pool order, templated errors, batch order and judge samples."""

    def validate(self) -> None:
        check(self.labels in LABELLERS, "labels", f"one of {sorted(LABELLERS)}", self.labels)
        for name in ("n_problems", "eval_problems", "group_size", "n_completions", "sft_steps", "sft_batch_size",
                     "rl_steps", "rl_problems_per_step", "rl_group_size", "n_samples"):
            check(is_int(getattr(self, name)) and getattr(self, name) >= 1, name, "an integer >= 1", getattr(self, name))
        check(is_int(self.max_per_class) and self.max_per_class >= 0, "max_per_class", "an integer >= 0", self.max_per_class)
        check(0 <= self.error_rate <= 1, "error_rate", "in [0, 1]", self.error_rate)
        check(self.sft_lr > 0, "sft_lr", "> 0", self.sft_lr)
        check(self.rl_lr > 0, "rl_lr", "> 0", self.rl_lr)
        check(self.temperature > 0, "temperature", "> 0", self.temperature)

    def data_config(self, split: str) -> PRMTrainConfig:
        n = self.n_problems if split == "train" else self.eval_problems
        return PRMTrainConfig(labels=self.labels, n_problems=n, group_size=self.group_size,
                              temperature=self.temperature, n_completions=self.n_completions, seed=self.seed)

    def rl_config(self) -> RLConfig:
        # the judge's own lr and problems per step on the Adam update it was measured with (LARGE_UPDATE)
        update = {**LARGE_UPDATE, "lr": self.rl_lr, "problems_per_step": self.rl_problems_per_step}
        return RLConfig(**update, variant="outcome-grpo", seed=self.seed, steps=self.rl_steps,
                        group_size=self.rl_group_size, temperature=self.temperature, eval_every=0,
                        eval_problems=0, pass_problems=0, progress=False)


def build_chunk_task(policy, task, cfg: StepWiserConfig) -> ChunkTask:
    """Class-balanced train and eval pools from ``policy``'s samples of train / eval problems,
    labelled by ``cfg.labels`` (MC completions from ``policy`` where the rule needs them)."""
    cfg.validate()
    pools = {}
    for split in SPLITS:
        data = cfg.data_config(split)
        solutions = sample_solutions(policy, task, data, split=split)
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
    recomputation then agrees with the flipped verdict)."""
    if rng.random() < error_rate:
        return f"{erring_recompute(chunk.step, modulus, chunk.good, rng)} {NO if chunk.good else YES}"
    return chunk.line


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
        loss = -(token_logprobs(judge(tokens), tokens) * mask).sum() / mask.sum()
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
    history = Trainer(cfg.rl_config(), chunk_task, TinyPolicy(judge)).train()
    judge.eval()
    info.update({"judge/rl_s": time.perf_counter() - t1, "judge/rl_reward_first": history[0]["rollout/reward_mean"],
                 "judge/rl_reward_last": history[-1]["rollout/reward_mean"]})
    return cold, judge, chunk_task, info


# ---- StepWiser chunk judges --------------------------------------------------------------------

STEPWISER_RECIPES: dict[str, tuple[str, StepWiserConfig]] = {
    "tiny-stepwiser": ("tiny", StepWiserConfig()),
}
"""Recipe name -> (warm-start preset of the policy whose samples make the pools and whose weights
start the judge, ``StepWiserConfig``). dev.py build_caches builds them with one thread."""


def stepwiser_recipe_path(name: str) -> Path:
    check(name in STEPWISER_RECIPES, "recipe", f"one of {sorted(STEPWISER_RECIPES)}", name)
    init, cfg = STEPWISER_RECIPES[name]
    return artifact_path("stepwiser", name, {"init": preset_path(init).name, "cfg": asdict(cfg)},
                         source_files("sandbox.train.stepwiser_train"))


def stepwiser_checkpoint(name: str) -> Path:
    """The directory of recipe ``name`` (``cold/`` and ``judge/`` checkpoints), trained on first use."""
    path = stepwiser_recipe_path(name)
    init, cfg = STEPWISER_RECIPES[name]

    def build(out: Path) -> None:
        model, task, state = load_warmstart(init)
        cold, judge, _, info = train_stepwiser(TinyPolicy(model), task, cfg)
        meta = {"recipe": name, "init": init, "task": state["task"], "task_fields": state["task_fields"], "cfg": asdict(cfg), **info}
        save_checkpoint(out / "cold", cold, meta)
        save_checkpoint(out / "judge", judge, meta)

    return build_once(path, build, done="judge/state.json")


def load_stepwiser(name: str, which: str = "judge") -> tuple[TinyLlama, dict]:
    """(model, state) of recipe ``name``'s trained judge (``which="judge"``) or its cold start (``"cold"``)."""
    check(which in ("judge", "cold"), "which", "judge or cold", which)
    return load_checkpoint(stepwiser_checkpoint(name) / which)
