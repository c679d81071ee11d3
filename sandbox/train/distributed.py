"""Data-parallel RL over several processes (``torchrun``), equal to one process on the same batch.

    torchrun --nproc_per_node=N -m sandbox.train --variant grpo ... --run-dir runs/x

How the work is split, and why the result matches the single-process run:

* **Problems are sharded by rank; a group never spans ranks.** Each draw of the trainer names
  the same global problem indices on every rank; rank r samples the problems at positions
  r, r + N, r + 2N, … of that draw, all G rollouts of each. Group statistics (GRPO's mean and
  std, RLOO's leave-one-out, the variance filter) therefore see whole groups, by construction.
  Sampling noise is keyed by (seed, step, problem, rollout), never by rank, so a row is the
  same sample whichever rank draws it.
* **Which groups are kept is decided globally.** After the filters, the ranks all-gather the
  problem indices of their surviving groups; every rank takes the first P of the union in
  problem order — exactly the groups the single process keeps — and refills (DAPO) from the
  same global count.
* **The minibatches are the single process's minibatches.** Rows are ordered globally by
  (problem, rollout); the keyed permutation of the N_global rows is split into the same chunks,
  and each rank computes the loss on its own rows of each chunk, normalised by the chunk's
  *global* token or row count (``global_denominators``). Gradients are then summed across
  ranks (``World.sync_gradients``), which is the single-process gradient of the chunk; clipping
  and the AdamW step then run identically on every rank, so the weights stay equal.
  (``torch.nn.parallel.DistributedDataParallel`` averages gradients of per-rank means instead,
  which differs whenever ranks hold different numbers of tokens; the explicit sum is what
  makes the two runs agree up to float summation order.)
* **Estimators that look beyond a group** (``rpp_baseline``'s whitening over the batch) see only
  their rank's rows: with several processes they whiten per shard. That is the one documented
  difference from a single process.
* **One writer.** Rank 0 owns the run directory, the progress bar, evaluation and checkpoints;
  rollout metrics are computed from per-row values gathered from all ranks; loss diagnostics
  are the mean over ranks.

FSDP (``--fsdp``, for models whose gradients and optimizer state do not fit on one GPU) keeps
this design and shards the policy per transformer block: ``sandbox.train.accel``.

Every collective and every FSDP detail of the trainer sits behind ``World``, whose methods are
the identity or do nothing for one process.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from sandbox.train import accel


@dataclass(frozen=True)
class World:
    """This process's place among the data-parallel processes, and every collective the trainer
    runs. With one process each method is the identity or does nothing, so the trainer reads the
    same with one process or many; with ``fsdp`` the policy's parameters are sharded (FSDP2)."""

    rank: int = 0
    """0 .. size − 1; rank 0 writes the run directory."""
    size: int = 1
    """Number of processes."""
    fsdp: bool = False
    """Whether the policy is sharded over the processes with FSDP2 (``sandbox.train.accel``)."""

    @property
    def active(self) -> bool:
        return self.size > 1

    def shard(self, items: list) -> list:
        """The items this rank owns: positions rank, rank + size, …"""
        return items[self.rank :: self.size]

    # ---- collectives on metadata ------------------------------------------------------------
    def gather(self, values: list) -> list:
        """The concatenation, in rank order, of every rank's ``values`` (picklable items)."""
        if not self.active:
            return list(values)
        out: list = [None] * self.size
        dist.all_gather_object(out, list(values))
        return [v for part in out for v in part]

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sum over ranks of a list of floats (float64)."""
        if not self.active:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(t)
        return t.tolist()

    def sum_counts(self, counts: dict) -> dict:
        """``{key: count}`` summed over ranks (keys in order of first appearance, rank by rank)."""
        total: dict = {}
        for key, count in self.gather(list(counts.items())):
            total[key] = total.get(key, 0) + count
        return total

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` holds on any rank."""
        return self.sum([float(flag)])[0] > 0

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    # ---- the policy's weights and gradients -------------------------------------------------
    def shard_policy(self, module: torch.nn.Module, device: torch.device) -> None:
        """Under FSDP: shard ``module`` per transformer block (``accel.shard_policy``)."""
        if self.fsdp:
            accel.shard_policy(module, device)

    def gradient_share(self, loss: torch.Tensor) -> torch.Tensor:
        """What this process backpropagates of its share of a minibatch's loss: the share itself,
        times the number of processes under FSDP, whose reduce-scatter averages the gradients."""
        return loss * self.size if self.fsdp else loss

    def idle_loss(self, policy, device: torch.device, precision: str) -> torch.Tensor | None:
        """What a process with no rows in a minibatch backpropagates: under FSDP its gradient
        reduce-scatter still needs it, so a zero through one pad token; otherwise nothing (``None``)."""
        if not self.fsdp:
            return None
        with accel.autocast(device, precision):
            idle = policy.logits(torch.full((1, 1), policy.tokenizer.pad_id, device=device))
        return idle.float().sum() * 0.0

    def sync_gradients(self, module: torch.nn.Module) -> None:
        """Sum every parameter's gradient over ranks (one flat buffer, one collective); nothing
        with one process or under FSDP (its reduce-scatter has summed them)."""
        if not self.active or self.fsdp:
            return
        params = [p for p in module.parameters() if p.requires_grad]
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        offset = 0
        for p, g in zip(params, grads):
            n = g.numel()
            p.grad = flat[offset : offset + n].view_as(p).clone()
            offset += n

    def full_weights(self, module: torch.nn.Module):
        """A context in which ``module``'s weights are whole on every process (under FSDP one
        all-gather, so that rank-local inference needs no collectives: ``accel.full_weights``)."""
        return accel.full_weights(module) if self.fsdp else contextlib.nullcontext()

    def full_state_dict(self, module: torch.nn.Module) -> dict[str, torch.Tensor]:
        """``module``'s unsharded state dict (a collective under FSDP: every process calls it)."""
        return accel.full_state_dict(module) if self.fsdp else module.state_dict()

    def checkpoint_parts(self, module: torch.nn.Module, optimizer: torch.optim.Optimizer):
        """(module, optimizer) that a checkpoint of the policy holds: themselves; under FSDP (every
        process calls it: gathering the weights is a collective) a plain replica holding the full
        weights on rank 0 (``None`` elsewhere) and no optimizer, whose state stays sharded."""
        if not self.fsdp:
            return module, optimizer
        state = accel.full_state_dict(module)
        return (accel.unsharded_replica(module, state) if self.rank == 0 else None), None

    def on_rank0(self, measure, inference) -> dict:
        """``measure()`` on rank 0 inside ``inference()`` (a context: autocast, full weights);
        ``{}`` elsewhere. Every process calls it: under FSDP they all gather the weights first."""
        if self.rank != 0 and not self.fsdp:
            return {}
        with inference():
            return measure() if self.rank == 0 else {}


@dataclass(frozen=True)
class Placement:
    """Where one run's models compute: this process among the data-parallel ones, the device and
    the precision of forward passes (what the collector, the update and the measurements share)."""

    world: World
    device: torch.device
    precision: str

    def inference(self, module: torch.nn.Module) -> contextlib.ExitStack:
        """Forward passes outside the loss: autocast at ``precision``; under FSDP on ``module``'s
        weights gathered once per block (``World.full_weights``), so ranks need not run in step."""
        stack = contextlib.ExitStack()
        stack.enter_context(self.world.full_weights(module))
        stack.enter_context(accel.autocast(self.device, self.precision))
        return stack


def current_world(fsdp: bool = False) -> World:
    """The world of an initialised process group, else a single process."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size(), fsdp)
    return World(fsdp=fsdp)


def init_from_env() -> World:
    """Join the process group ``torchrun`` describes (``WORLD_SIZE``, ``RANK``, ``MASTER_ADDR``…):
    gloo for CPU tensors and, where CUDA is available, nccl for CUDA tensors (the gradients of a
    ``--device cuda`` run; the picklable metadata always goes through gloo). A plain single
    process gets ``World()``."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    if not dist.is_initialized():
        dist.init_process_group("cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo")
    return current_world()
