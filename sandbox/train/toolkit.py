"""The training toolkit: the pieces every training loop here is made of.

    for step in range(steps):
        rows  = next(batches)                               keyed_batches / keyed_minibatches
        batch = pad_rows(...)                               right-padded token rows
        loss  = ...                                         the loop's own loss
        set_learning_rate(optimizer, learning_rate(step, ...))
        optimizer_step(optimizer, loss, parameters, max_norm, scaler)
    with evaluating(model): ...                             scoring / sampling in eval mode

SFT, the PRM / ORM / SPRM scorers, the ThinkPRM judge, the StepWiser judge's cold start, the
critic, the implicit PRM and the RL update all use these. Each function is small and pure
apart from the optimizer / module it is handed. Where two loops computed the same quantity
with different floating-point rounding (the warm-up of the learning rate; whether a batch may
span two epochs), the function takes the variant as an argument so that every loop keeps its
exact numbers.

``pad_rows`` and ``evaluating`` live in ``sandbox.rollout.batching`` (samplers and scorers below
this floor need them too) and are re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator

import torch

from sandbox.errors import require_finite
from sandbox.rng import row_key
from sandbox.rollout.batching import evaluating, pad_rows
from sandbox.train.accel import as_float
from toy_envs.base import check, is_int

__all__ = [
    "WARMUP_FORMS", "evaluating", "keyed_batches", "keyed_minibatches", "keyed_permutation", "learning_rate",
    "optimizer_step", "pad_rows", "set_learning_rate",
]


def keyed_permutation(n: int, key: tuple) -> torch.Tensor:
    """A permutation of 0..n−1 drawn by ``torch.randperm`` from a generator seeded with
    ``row_key(*key)``: a pure function of (n, key)."""
    check(is_int(n) and n >= 0, "n", "an integer >= 0 (rows to permute)", n)
    return torch.randperm(n, generator=torch.Generator().manual_seed(row_key(*key)))


def keyed_minibatches(n_rows: int, minibatches: int, key: tuple) -> list[torch.Tensor]:
    """One keyed pass over ``n_rows`` rows (``keyed_permutation(n_rows, key)``) cut by
    ``torch.chunk`` into ``min(minibatches, n_rows)`` parts: chunks of ⌈n / k⌉ rows, the last
    one smaller, and fewer than k chunks where ⌈n / k⌉ · (k − 1) ≥ n; no chunks for no rows. The PPO epochs and the critic's epochs use it, with the
    (seed, tag, step, epoch) of the pass as ``key``."""
    check(is_int(minibatches) and minibatches >= 1, "minibatches", "an integer >= 1", minibatches)
    if n_rows == 0:
        return []
    return list(keyed_permutation(n_rows, key).chunk(min(minibatches, n_rows)))


def keyed_batches(n_rows: int, batch_size: int, key: tuple, span_epochs: bool = False) -> Iterator[list[tuple[int, int]]]:
    """Endless batches of ``(epoch, row)`` pairs: epoch e is ``keyed_permutation(n_rows, key + (e,))``,
    the epochs one after the other, each batch the next ``batch_size`` rows of that stream.

    With ``batch_size <= n_rows`` both settings give the same batches. With more rows asked
    than there are, ``span_epochs=False`` (the scorer and ThinkPRM judge SFT) returns the rest
    of the stream but at most one new epoch per batch, so a batch holds each row at most once
    when it starts on an epoch boundary; ``span_epochs=True`` (the StepWiser cold start) draws
    epochs until ``batch_size`` rows are there, so every batch is full and may repeat rows."""
    check(is_int(n_rows) and n_rows >= 1, "n_rows", "an integer >= 1 (rows to draw batches from)", n_rows)
    check(is_int(batch_size) and batch_size >= 1, "batch_size", "an integer >= 1", batch_size)
    stream: list[tuple[int, int]] = []
    epoch = 0
    while True:
        while len(stream) < (batch_size if span_epochs else min(batch_size, n_rows)):
            stream += [(epoch, row) for row in keyed_permutation(n_rows, (*key, epoch)).tolist()]
            epoch += 1
            if not span_epochs:
                break
        batch, stream = stream[:batch_size], stream[batch_size:]
        yield batch


WARMUP_FORMS = ("fraction", "product")
"""How the warm-up's lr is rounded: ``fraction`` = peak · min(1, (s+1)/W) (RL, the StepWiser
cold start), ``product`` = peak · (s+1) / W evaluated left to right (SFT, ThinkPRM judge SFT).
The same number in exact arithmetic; the last bit can differ, and each loop keeps its own."""


def learning_rate(
    step: int, peak: float, warmup_steps: int = 0, total_steps: int | None = None, floor_ratio: float = 1.0,
    warmup: str = "fraction",
) -> float:
    """The learning rate at optimizer step ``step`` (from 0): linear warm-up over the first
    ``warmup_steps`` steps to ``peak``, then

    - ``total_steps`` None: constant ``peak``;
    - otherwise cosine decay to ``floor = peak · floor_ratio`` at ``total_steps`` and the floor
      after it: floor + (peak − floor) · ½ (1 + cos(π · min(1, (s − W) / max(1, total − W)))).

    ``warmup`` picks the rounding of the warm-up (``WARMUP_FORMS``). With ``floor_ratio`` 1 the
    cosine branch returns ``peak`` exactly (peak + 0 · …)."""
    check(is_int(step) and step >= 0, "step", "an integer >= 0", step)
    check(is_int(warmup_steps) and warmup_steps >= 0, "warmup_steps", "an integer >= 0", warmup_steps)
    check(warmup in WARMUP_FORMS, "warmup", f"one of {WARMUP_FORMS}", warmup)
    check(0 <= floor_ratio <= 1, "floor_ratio", "in [0, 1]", floor_ratio)
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps if warmup == "product" else peak * min(1.0, (step + 1) / warmup_steps)
    if total_steps is None:
        return peak
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    floor = peak * floor_ratio
    return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Every parameter group of ``optimizer`` at ``lr``."""
    for group in optimizer.param_groups:
        group["lr"] = lr


def optimizer_step(
    optimizer: torch.optim.Optimizer,
    loss: torch.Tensor | None,
    parameters: Iterable[torch.nn.Parameter],
    max_norm: float,
    scaler: torch.amp.GradScaler | None = None,
    sync_gradients: Callable[[], None] | None = None,
    where: str | None = None,
    what: str = "the gradient norm",
) -> float:
    """One clipped optimizer step on ``loss``; returns the global gradient norm before clipping.

    In order: clear the gradients; backward of ``loss`` (scaled by ``scaler``, fp16 loss
    scaling; no backward for ``None``, a process with nothing to add); ``sync_gradients()``
    (data parallelism's all-reduce); unscale; clip the global norm of ``parameters``'
    gradients to ``max_norm``; with ``where`` given and no loss scaling active, a
    ``NonFiniteError`` naming ``where`` and ``what`` for a non-finite norm (an active scaler
    skips such a step itself); the step; the scaler's update. Without a scaler (or with a
    disabled one) this is plain backward, clip, step: the same numbers."""
    check(max_norm > 0, "max_norm", "> 0 (the gradient clip)", max_norm)
    optimizer.zero_grad(set_to_none=True)
    if loss is not None:
        (loss if scaler is None else scaler.scale(loss)).backward()
    if sync_gradients is not None:
        sync_gradients()
    if scaler is not None:
        scaler.unscale_(optimizer)
    norm = as_float(torch.nn.utils.clip_grad_norm_(parameters, max_norm))
    if where is not None and (scaler is None or not scaler.is_enabled()):
        require_finite(norm, where, what)
    if scaler is None:
        optimizer.step()
    else:
        scaler.step(optimizer)
        scaler.update()
    return norm
