"""Where and how the models compute: device, mixed precision, activation recomputation, FSDP.

One set of knobs, shared by the RL trainer (``RLConfig``) and SFT (``SFTConfig``):

* ``device``: ``cpu`` (the default: every figure and test of the project is defined on it),
  ``cuda`` / ``cuda:<i>`` (under ``torchrun`` each process takes ``cuda:LOCAL_RANK``), or
  ``auto`` (CUDA when available, else the CPU). **The models live on the device** -- the
  policy, the frozen or lagged reference, the auxiliary models (critic, implicit PRM) -- and so
  do the sampler's KV cache and decode loop and every forward/backward pass. **The rollout
  bookkeeping stays on the CPU**: ``Samples`` come back from the decode loop on the CPU, and
  rollouts, token rewards and advantages (built from parsed text and verdicts, a few kB per
  step) are CPU tensors; each minibatch is moved to the device for the loss. This boundary sits
  in a handful of places (``decode``, ``Policy.logits``, ``PPOUpdate``, the auxiliary
  models), so reward code never meets a device mismatch.
* ``precision``: ``fp32`` (default), ``bf16`` or ``fp16``. Mixed precision is
  ``torch.autocast(device_type, dtype)`` around the forward passes (sampling, scoring, the
  loss's forward); master weights, optimizer state, log-probs (``token_logprobs`` upcasts the
  logits) and the loss stay float32. ``fp16`` adds a ``GradScaler`` (loss scaling; a step whose
  gradients overflow is skipped and the scale halves). bf16 and fp16 autocast also run on the
  CPU, so CPU tests exercise these paths (slowly: they are meant for CUDA).
* ``gradient_checkpointing``: recompute each transformer block's activations in the backward
  pass (``torch.utils.checkpoint`` for the tiny model, ``gradient_checkpointing_enable()`` for a
  ``transformers`` model). The gradients are those of the plain pass (up to float rounding).
* ``fsdp`` (RL under ``torchrun`` only): FSDP2 (``torch.distributed.fsdp.fully_shard``) wraps
  every transformer block and then the whole policy; parameters, gradients and AdamW state are
  sharded across processes. The trainer's data-parallel design is kept: each process still
  samples its own problems and the loss uses the minibatch's global denominators; FSDP's
  reduce-scatter averages the gradients and each process's loss share is scaled by the number
  of processes, so the gradient is the sum ``World.sync_gradients`` forms without FSDP. Rank-local inference (sampling, scoring, evaluation on rank 0) runs on
  gathered weights (``full_weights``: every process all-gathers once, computes without
  collectives, then reshards), because the processes decode different numbers of tokens and
  FSDP's per-forward all-gathers would otherwise deadlock. So FSDP saves memory in the update
  (gradients, optimizer state); the full weights must fit for sampling, as in the hybrid
  engines of large RL systems. The reference policy (KL) stays an unsharded copy.

Keyed sampling noise (``sandbox.rng.keyed_uniform``) is integer arithmetic on the row keys: the
same numbers on every device. The *logits* of a CUDA run differ from the CPU's in the last
bits (other kernels, TF32 or bf16), so samples whose top candidates are within rounding can
differ between devices; CPU runs are bit-identical to runs before this module existed.
"""

from __future__ import annotations

import contextlib
import os

import torch
from torch import nn

from toy_envs.base import check

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def check_device(name: str, field: str = "device") -> None:
    """``name`` is auto, cpu, cuda or cuda:<i>, and CUDA is there when it names it."""
    base, _, index = name.partition(":")
    check(base in DEVICES and (not index or (base == "cuda" and index.isdigit())), field, "auto, cpu, cuda or cuda:<i>", name)
    if base == "cuda":
        check(torch.cuda.is_available(), field, "cpu or auto on a machine without CUDA (torch.cuda.is_available() is False)", name)
        if index:
            check(int(index) < torch.cuda.device_count(), field, f"cuda:<i> with i < {torch.cuda.device_count()}", name)


def check_precision(name: str, field: str = "precision") -> None:
    check(name in PRECISIONS, field, f"one of {sorted(PRECISIONS)}", name)


def resolve_device(name: str) -> torch.device:
    """The device ``name`` means in this process: ``auto`` → CUDA if available; a bare ``cuda``
    under ``torchrun`` → ``cuda:LOCAL_RANK`` (also made the current CUDA device)."""
    check_device(name)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        name = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    device = torch.device(name)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device


def autocast(device: torch.device, precision: str):
    """``torch.autocast`` for bf16/fp16 on ``device``; a no-op context for fp32."""
    check_precision(precision)
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=PRECISIONS[precision])


def grad_scaler(device: torch.device, precision: str) -> torch.amp.GradScaler:
    """Loss scaling for fp16 (enabled only then; a disabled scaler passes everything through)."""
    return torch.amp.GradScaler(device.type, enabled=precision == "fp16")


def enable_gradient_checkpointing(module: nn.Module) -> None:
    """Activation recomputation per transformer block: the tiny model's and transformers' own switch."""
    if not hasattr(module, "gradient_checkpointing_enable"):
        raise TypeError(f"{type(module).__name__} has no gradient_checkpointing_enable()")
    if getattr(getattr(module, "config", None), "model_type", None) is not None:  # transformers
        if hasattr(module, "activation_checkpointing_enable"):  # the name since transformers 5
            module.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            module.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    else:
        module.gradient_checkpointing_enable()


# ---- FSDP ------------------------------------------------------------------------------------
def transformer_blocks(module: nn.Module) -> list[nn.Module]:
    """The repeated blocks to shard one by one: the tiny model's ``layers``, a transformers
    decoder's ``model.layers`` (Llama, Qwen2, Mistral…) or ``transformer.h`` (GPT-2 style)."""
    for path in ("layers", "model.layers", "transformer.h", "gpt_neox.layers"):
        obj = module
        for part in path.split("."):
            obj = getattr(obj, part, None)
        if isinstance(obj, nn.ModuleList):
            return list(obj)
    raise TypeError(f"{type(module).__name__}: no list of transformer blocks found to shard")


def fsdp_units(module: nn.Module) -> list[nn.Module]:
    """The FSDP-wrapped modules inside ``module`` (the root last), empty without FSDP."""
    from torch.distributed.fsdp import FSDPModule

    return [m for m in module.modules() if isinstance(m, FSDPModule)][::-1]


def is_fsdp(module: nn.Module) -> bool:
    from torch.distributed.fsdp import FSDPModule

    return isinstance(module, FSDPModule)


def shard_policy(module: nn.Module, device: torch.device) -> nn.Module:
    """FSDP2 in place: each transformer block, then the root (embeddings, final norm, head).
    FSDP's reduce-scatter averages gradients over the N processes; the trainer multiplies each
    process's share of the loss by N, so the result is the sum (a divide factor of 1 would need
    the PREMUL_SUM reduction, which gloo lacks)."""
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    # the mesh on the trainer's device (FSDP's default is CUDA whenever CUDA exists)
    mesh = init_device_mesh(device.type, (dist.get_world_size(),))
    for block in transformer_blocks(module):
        fully_shard(block, mesh=mesh)
    fully_shard(module, mesh=mesh)
    return module


@contextlib.contextmanager
def full_weights(module: nn.Module):
    """Inside: every FSDP unit's weights gathered (one collective, on every process), so that
    rank-local inference needs no collectives. Without FSDP: nothing happens."""
    units = fsdp_units(module)
    for unit in units:
        unit.set_reshard_after_forward(False)
        unit.unshard()
    try:
        yield
    finally:
        for unit in units:
            unit.reshard()
            unit.set_reshard_after_forward(True)


def full_state_dict(module: nn.Module) -> dict[str, torch.Tensor]:
    """The unsharded state dict (a collective under FSDP: call it on every process)."""
    if not is_fsdp(module):
        return module.state_dict()
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    return get_model_state_dict(module, options=StateDictOptions(full_state_dict=True))


def as_float(value) -> float:
    """A Python float of a tensor or DTensor (FSDP's gradient norm is a DTensor)."""
    if hasattr(value, "full_tensor"):
        value = value.full_tensor()
    return float(value)


def unsharded_replica(module: nn.Module, state: dict[str, torch.Tensor]) -> nn.Module:
    """A plain CPU module of ``module``'s architecture holding ``state`` (what a checkpoint of
    an FSDP policy writes): a new tiny model from its config, or a transformers model from its
    ``config``."""
    from sandbox.model.model import TinyLlama

    if isinstance(module, TinyLlama):
        replica = TinyLlama(module.cfg)
    else:
        from transformers import AutoModelForCausalLM

        replica = AutoModelForCausalLM.from_config(module.config)
    replica.load_state_dict({k: v.detach().cpu() for k, v in state.items()})
    return replica
