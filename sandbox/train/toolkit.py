"""The training toolkit: the pieces every training loop here is made of.

    for step in range(steps):
        rows  = next(batches)                               keyed_batches / keyed_minibatches
        batch = pad_rows(...)                               right-padded token rows
        for part in length_groups(lengths, n): ...          rows sorted by length, one pass each
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

Each piece lives on the lowest floor that uses it and is re-exported here: the keyed batch
order in ``sandbox.rng`` (the critic, a reward-floor auxiliary model, orders its minibatches),
``pad_rows`` and ``evaluating`` in ``sandbox.rollout.batching`` (samplers and scorers batch rows
and switch models to eval mode); the learning-rate schedule and the optimizer step, used by
training loops only, are defined here (no reward piece steps an optimizer: the trainer takes the
auxiliary models' updates, ``sandbox.train.auxiliary_updates``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch

from sandbox.errors import require_finite
from sandbox.rng import keyed_batches, keyed_minibatches, keyed_permutation
from sandbox.rollout.batching import evaluating, pad_rows
from toy_envs.base import check, is_int

__all__ = [
    "WARMUP_FORMS", "evaluating", "keyed_batches", "keyed_minibatches", "keyed_permutation", "learning_rate",
    "length_groups", "optimizer_step", "pad_rows", "set_learning_rate",
]


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
    return cosine_decay((step - warmup_steps) / max(1, total_steps - warmup_steps), peak, floor_ratio)


def cosine_decay(progress: float, peak: float, floor_ratio: float) -> float:
    """floor + (peak − floor) · ½ (1 + cos(π · min(1, progress))), floor = peak · floor_ratio: the
    decay after warm-up, at ``progress`` from 0 (peak) to 1 (floor) in steps (``learning_rate``) or
    in time (``bench learn``'s wall-clock budget)."""
    floor = peak * floor_ratio
    return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def length_groups(lengths: torch.Tensor, n: int) -> list[torch.Tensor]:
    """Positions of ``lengths`` sorted by length (stably) in ``n`` contiguous groups, empty ones left
    out: the forward passes of a batch cut into length buckets, each pass as wide as its longest
    row (SFT's ``length_buckets``, the RL update's ``update_buckets``)."""
    return [part for part in torch.argsort(lengths, stable=True).tensor_split(n) if len(part)]


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
    norm = torch.nn.utils.clip_grad_norm_(parameters, max_norm)
    norm = float(norm.full_tensor() if hasattr(norm, "full_tensor") else norm)  # FSDP's norm is a DTensor
    if where is not None and (scaler is None or not scaler.is_enabled()):
        require_finite(norm, where, what)
    if scaler is None:
        optimizer.step()
    else:
        scaler.step(optimizer)
        scaler.update()
    return norm
