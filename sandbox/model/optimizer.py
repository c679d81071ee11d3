"""One clipped optimizer step, the one every training loop takes (SFT, the PRM / judge trainers,
the critic, the implicit PRM, the PPO update).

It lives on the model floor, below the reward pieces whose auxiliary models (critic, implicit
PRM) train themselves; ``sandbox.train.toolkit`` gathers it with the other training helpers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

from sandbox.errors import require_finite
from toy_envs.base import check


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
