"""Supervised warm start on gold solutions.

    L(θ) = − Σ_t m_t log π_θ(y_t | x, y_<t) / Σ_t m_t,    m_t = 1 on response tokens only

where x is ``<bos> prompt`` and y is ``gold_solution <eos>``. Batches are train-split problems
``step·B … step·B+B−1``, so the data order is a pure function of the config. AdamW with linear
warm-up and cosine decay to a floor (``min_lr_ratio``). The result is a model that is right part of the time — the
starting point of every RL run, PRM and benchmark.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass

import torch

from sandbox.config import check_finite_fields
from sandbox.errors import require_finite
from sandbox.eval.accuracy import evaluate_accuracy
from sandbox.model.model import ModelConfig, TinyLlama, token_logprobs
from sandbox.model.tokenizer import CharTokenizer
from sandbox.rng import row_key
from sandbox.train import accel
from sandbox.train.progress import progress_bar
from sandbox.train.toolkit import learning_rate, length_groups, optimizer_step, pad_rows, set_learning_rate


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
    answer_noise: float = 0.0
    """Fraction of demonstrations whose answer line is made wrong (its last number + 1): imperfect
    demonstrations that teach a systematic flaw for RL to remove (0 = clean gold solutions)."""
    eval_every: int = 0
    """Also measure greedy accuracy on 64 held-out problems every this many steps (0: never)."""
    device: str = "cpu"
    """Where the model trains: cpu, cuda, cuda:<i> or auto (``sandbox.train.accel``)."""
    precision: str = "fp32"
    """fp32, bf16 or fp16 autocast for the forward pass (fp32 master weights; fp16 adds loss scaling)."""
    gradient_checkpointing: bool = False
    """Recompute each block's activations in the backward pass."""
    length_buckets: int = 1
    """Forward passes per step over the batch's rows sorted by length, each cut to its longest row
    (``length_buckets``): the same loss and gradient up to summation order, without most of the
    compute on padding when prompts differ in length (1: the whole batch in one pass)."""

    def lr_at(self, step: int) -> float:
        """Linear warm-up over ``warmup_steps`` (lr·(s+1)/W), cosine decay to lr·``min_lr_ratio`` at
        ``steps`` (``toolkit.learning_rate``, its ``product`` warm-up rounding)."""
        return learning_rate(step, self.lr, self.warmup_steps, self.steps, self.min_lr_ratio, warmup="product")

    def validate(self) -> None:
        from toy_envs.base import check

        check_finite_fields(self)
        check(self.steps >= 1, "steps", "an integer >= 1", self.steps)
        check(self.batch_size >= 1, "batch_size", "an integer >= 1", self.batch_size)
        check(1 <= self.length_buckets <= self.batch_size, "length_buckets", "an integer in [1, batch_size]", self.length_buckets)
        check(self.lr > 0, "lr", "> 0", self.lr)
        check(0 <= self.warmup_steps, "warmup_steps", ">= 0", self.warmup_steps)
        check(0 <= self.min_lr_ratio <= 1, "min_lr_ratio", "in [0, 1]", self.min_lr_ratio)
        check(self.weight_decay >= 0, "weight_decay", ">= 0", self.weight_decay)
        check(self.grad_clip > 0, "grad_clip", "> 0", self.grad_clip)
        check(self.eval_problems >= 0, "eval_problems", ">= 0", self.eval_problems)
        check(self.eval_every >= 0, "eval_every", ">= 0", self.eval_every)
        check(0 <= self.answer_noise <= 1, "answer_noise", "in [0, 1]", self.answer_noise)
        accel.check_device(self.device)
        accel.check_precision(self.precision)


def noisy_answer(solution: str) -> str:
    """The solution with the last run of digits of its answer line (the first line starting with
    ``#``; a confidence line after it is kept as is) increased by one (a wrong answer)."""
    lines = solution.split("\n")
    at = next((i for i, line in enumerate(lines) if line.startswith("#")), None)
    match = None if at is None else re.search(r"(\d+)(\D*)$", lines[at])
    if match is None:
        return solution
    lines[at] = lines[at][: match.start(1)] + str(int(match.group(1)) + 1) + match.group(2)
    return "\n".join(lines)


def sft_batch(task, tokenizer: CharTokenizer, indices, split: str = "train", answer_noise: float = 0.0, seed: int = 0):
    """Right-padded ``<bos> prompt gold <eos>`` rows and a mask on the gold+eos tokens; with
    ``answer_noise`` that fraction of problems (keyed by (seed, index)) gets a wrong answer line."""
    rows, masks = [], []
    for i in indices:
        problem = task.problem(i, split=split)
        prompt = tokenizer.encode(task.prompt(problem), bos=True)
        solution = task.gold_solution(problem)
        if answer_noise and keyed_fraction(seed, "answer_noise", i) < answer_noise:
            solution = noisy_answer(solution)
        response = tokenizer.encode(solution, eos=True)
        rows.append(prompt + response)
        masks.append([False] * len(prompt) + [True] * len(response))
    return pad_rows(rows, tokenizer.pad_id), pad_rows(masks, False, torch.bool)


def length_buckets(tokens: torch.Tensor, mask: torch.Tensor, pad_id: int, n: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The right-padded rows sorted by length (stably) into ``n`` contiguous groups, each cut to its
    longest row: the cut columns are padding, which no kept position attends to (causal) and the
    mask leaves out of the loss. ``n = 1``: the batch as it is."""
    if n == 1:
        return [(tokens, mask)]
    lengths = (tokens != pad_id).sum(1)
    return [(tokens[rows, : int(lengths[rows].max())], mask[rows, : int(lengths[rows].max())]) for rows in length_groups(lengths, n)]


def sft_loss(model, tokens: torch.Tensor, mask: torch.Tensor, pad_id: int, buckets: int = 1, device="cpu", precision: str = "fp32") -> torch.Tensor:
    """Mean negative log-likelihood of the masked tokens, ``-(log p · mask).sum() / mask.sum()``,
    in ``buckets`` forward passes over the rows sorted by length (``length_buckets``; 1: one pass)."""
    terms = []
    for rows, row_mask in length_buckets(tokens, mask, pad_id, buckets):
        with accel.autocast(device, precision):
            logits = model(rows)
        logp = token_logprobs(logits, rows)  # float32 whatever the autocast dtype
        terms.append(-(logp * row_mask).sum() / mask.sum())
    return sum(terms[1:], terms[0])


def keyed_fraction(seed: int, *parts) -> float:
    """A uniform number in [0, 1) that is a pure function of (seed, *parts)."""
    return row_key(seed, *parts) / 2**32


def train_sft(task, model_cfg: ModelConfig, cfg: SFTConfig, progress: bool = True, log=None, init=None):
    """Train a model on gold solutions, a fresh one or a copy of ``init`` (a ``TinyLlama`` with
    config ``model_cfg``, e.g. another warm start, left untouched); returns (model, summary dict)."""
    model, summary, _ = train_sft_with_optimizer(task, model_cfg, cfg, progress, log, init)
    return model, summary


def train_sft_with_optimizer(task, model_cfg: ModelConfig, cfg: SFTConfig, progress: bool = True, log=None, init=None):
    """``train_sft`` that also returns its AdamW after the last step: (model, summary, optimizer),
    whose state a warm-start checkpoint keeps for RL to start from (``RLConfig.init_optimizer_state``)."""
    cfg.validate()
    tokenizer = CharTokenizer()
    if model_cfg.vocab_size != tokenizer.vocab_size:
        raise ValueError(f"model vocab_size={model_cfg.vocab_size} must equal the tokenizer's {tokenizer.vocab_size}")
    torch.manual_seed(cfg.seed)
    model = TinyLlama(model_cfg)
    if init is not None:
        if init.cfg != model_cfg:
            raise ValueError(f"init model config {init.cfg} differs from model_cfg {model_cfg}")
        model.load_state_dict(init.state_dict())
    device = accel.resolve_device(cfg.device)
    model.to(device)
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.98))
    scaler = accel.grad_scaler(device, cfg.precision)
    start = time.perf_counter()
    model.train()
    bar = progress_bar(progress, range(cfg.steps), desc="sft", leave=False)
    loss_value = float("nan")
    for step in bar:
        indices = range(step * cfg.batch_size, (step + 1) * cfg.batch_size)
        tokens, mask = sft_batch(task, tokenizer, indices, answer_noise=cfg.answer_noise, seed=cfg.seed)
        tokens, mask = tokens.to(device), mask.to(device)
        loss = sft_loss(model, tokens, mask, tokenizer.pad_id, cfg.length_buckets, device, cfg.precision)
        set_learning_rate(optimizer, cfg.lr_at(step))
        require_finite(loss, f"sft step {step}", "the loss")
        optimizer_step(optimizer, loss, model.parameters(), cfg.grad_clip, scaler, where=f"sft step {step}")
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
    return model, summary, optimizer
