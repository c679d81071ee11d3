"""Supervised warm start on gold solutions.

    L(θ) = − Σ_t m_t log π_θ(y_t | x, y_<t) / Σ_t m_t,    m_t = 1 on response tokens only

where x is ``<bos> prompt`` and y is ``gold_solution <eos>``. Batches are train-split problems
``step·B … step·B+B−1``, so the data order is a pure function of the config. AdamW with linear
warm-up and cosine decay to a floor (``min_lr_ratio``). The result is a model that is right part of the time — the
starting point of every RL run, PRM and benchmark.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import torch
from tqdm import tqdm

from sandbox.eval.accuracy import evaluate_accuracy
from sandbox.model.model import ModelConfig, TinyLlama, token_logprobs
from sandbox.model.tokenizer import CharTokenizer


@dataclass
class SFTConfig:
    steps: int = 400
    """Optimizer steps."""
    batch_size: int = 64
    """Problems per step."""
    lr: float = 3e-3
    """Peak learning rate."""
    warmup_steps: int = 20
    """Linear warm-up steps."""
    min_lr_ratio: float = 0.1
    """Cosine decay floor as a fraction of lr. Decaying to zero lets the model settle where even a
    small later step (RL) is unstable; a floor keeps it stable at learning rates near lr·ratio."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    grad_clip: float = 1.0
    """Max global gradient norm."""
    seed: int = 0
    """Seeds the model initialisation."""
    eval_problems: int = 256
    """Held-out problems for the final greedy accuracy (0 skips it)."""
    eval_every: int = 0
    """Also measure greedy accuracy on 64 held-out problems every this many steps (0: never)."""

    def validate(self) -> None:
        from toy_envs.base import check

        check(self.steps >= 1, "steps", "an integer >= 1", self.steps)
        check(self.batch_size >= 1, "batch_size", "an integer >= 1", self.batch_size)
        check(self.lr > 0, "lr", "> 0", self.lr)
        check(0 <= self.warmup_steps, "warmup_steps", ">= 0", self.warmup_steps)
        check(0 <= self.min_lr_ratio <= 1, "min_lr_ratio", "in [0, 1]", self.min_lr_ratio)
        check(self.weight_decay >= 0, "weight_decay", ">= 0", self.weight_decay)
        check(self.grad_clip > 0, "grad_clip", "> 0", self.grad_clip)
        check(self.eval_problems >= 0, "eval_problems", ">= 0", self.eval_problems)
        check(self.eval_every >= 0, "eval_every", ">= 0", self.eval_every)


def sft_batch(task, tokenizer: CharTokenizer, indices, split: str = "train"):
    """Right-padded ``<bos> prompt gold <eos>`` rows and a mask on the gold+eos tokens."""
    rows, masks = [], []
    for i in indices:
        problem = task.problem(i, split=split)
        prompt = tokenizer.encode(task.prompt(problem), bos=True)
        response = tokenizer.encode(task.gold_solution(problem), eos=True)
        rows.append(prompt + response)
        masks.append([False] * len(prompt) + [True] * len(response))
    width = max(len(r) for r in rows)
    tokens = torch.full((len(rows), width), tokenizer.pad_id, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.bool)
    for b, (r, m) in enumerate(zip(rows, masks)):
        tokens[b, : len(r)] = torch.tensor(r)
        mask[b, : len(m)] = torch.tensor(m)
    return tokens, mask


def lr_at(step: int, cfg: SFTConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + (cfg.lr - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def train_sft(task, model_cfg: ModelConfig, cfg: SFTConfig, progress: bool = True, log=None):
    """Train a fresh model on gold solutions; returns (model, summary dict)."""
    cfg.validate()
    tokenizer = CharTokenizer()
    if model_cfg.vocab_size != tokenizer.vocab_size:
        raise ValueError(f"model vocab_size={model_cfg.vocab_size} must equal the tokenizer's {tokenizer.vocab_size}")
    torch.manual_seed(cfg.seed)
    model = TinyLlama(model_cfg)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.98))
    start = time.perf_counter()
    model.train()
    bar = tqdm(range(cfg.steps), desc="sft", disable=None if progress else True, leave=False)  # None: off when not a TTY
    loss_value = float("nan")
    for step in bar:
        tokens, mask = sft_batch(task, tokenizer, range(step * cfg.batch_size, (step + 1) * cfg.batch_size))
        logp = token_logprobs(model(tokens), tokens)
        loss = -(logp * mask).sum() / mask.sum()
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, cfg)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        loss_value = loss.item()
        bar.set_postfix(loss=f"{loss_value:.3f}")
        record = {"sft/step": step, "sft/loss": loss_value}
        if cfg.eval_every and (step + 1) % cfg.eval_every == 0:
            record["eval/accuracy"] = evaluate_accuracy(model, task, tokenizer, 64)["eval/accuracy"]
            model.train()
            bar.write(f"sft step {step + 1}: loss {loss_value:.3f}, greedy accuracy {record['eval/accuracy']:.3f}")
        if log is not None:
            log(record)
    summary = {"sft/loss": loss_value, "sft/seconds": time.perf_counter() - start, "sft/config": asdict(cfg)}
    if cfg.eval_problems:
        summary.update(evaluate_accuracy(model, task, tokenizer, cfg.eval_problems))
    model.eval()
    return model, summary
