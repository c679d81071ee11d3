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
  ranks (``all_reduce_gradients``), which is the single-process gradient of the chunk; clipping
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
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    """This process's place among the data-parallel processes."""

    rank: int = 0
    """0 .. size − 1; rank 0 writes the run directory."""
    size: int = 1
    """Number of processes."""

    @property
    def active(self) -> bool:
        return self.size > 1

    def shard(self, items: list) -> list:
        """The items this rank owns: positions rank, rank + size, …"""
        return items[self.rank :: self.size]


def current_world() -> World:
    """The world of an initialised process group, else a single process."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size())
    return World()


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


def gather_lists(world: World, values: list) -> list:
    """The concatenation, in rank order, of every rank's ``values`` (picklable items)."""
    if not world.active:
        return list(values)
    out: list = [None] * world.size
    dist.all_gather_object(out, list(values))
    return [v for part in out for v in part]


def sum_scalars(world: World, values: list[float]) -> list[float]:
    """Element-wise sum over ranks of a list of floats (float64)."""
    if not world.active:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(t)
    return t.tolist()


def all_reduce_gradients(world: World, module: torch.nn.Module) -> None:
    """Sum every parameter's gradient over ranks (one flat buffer, one collective)."""
    if not world.active:
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


def barrier(world: World) -> None:
    if world.active:
        dist.barrier()
