"""Checkpoints: safetensors for tensors, JSON for everything else, written atomically.

A checkpoint is a directory::

    model.safetensors     the weights (sandbox names)
    optimizer.safetensors optimizer tensors, flattened as ``{param_index}.{key}`` (optional)
    state.json            model config, optimizer hyper-parameters and scalar state, and any
                          caller state (step, RNG states, config of the run, metrics)

It is written into a temporary sibling directory and renamed into place, so a reader sees
either the whole checkpoint or none of it; an existing checkpoint is never overwritten.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from sandbox.model.model import ModelConfig, TinyLlama


def _split_optimizer(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, entries in state["state"].items():
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{key}"] = value.detach().contiguous().cpu()
            else:
                scalars[f"{index}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _join_optimizer(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict] = {}
    for name, value in [*tensors.items(), *meta["scalars"].items()]:
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    # JSON turns tuples (e.g. Adam's betas) into lists; give them back as tuples.
    groups = [{k: (tuple(v) if isinstance(v, list) and k != "params" else v) for k, v in g.items()} for g in meta["param_groups"]]
    return {"state": state, "param_groups": groups}


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(
    path: str | Path,
    model: torch.nn.Module,
    state: dict | None = None,
    optimizer: torch.optim.Optimizer | None = None,
) -> Path:
    """Write a checkpoint directory at ``path`` (which must not exist yet)."""
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"checkpoint {path} already exists; checkpoints are never overwritten")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        weights = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
        if isinstance(model, TinyLlama):
            model_config = model.cfg.to_dict()
            if model.cfg.tie_embeddings:
                weights.pop("lm_head.weight")
        else:  # a transformers model: its own config, so the weights can be reloaded by transformers
            model_config = {"hf": model.config.to_dict()}
            weights = {k: v.clone() for k, v in weights.items()}  # safetensors refuses shared storage
        save_file(weights, str(tmp / "model.safetensors"))
        meta = {"model_config": model_config, "state": state or {}}
        if optimizer is not None:
            tensors, meta["optimizer"] = _split_optimizer(optimizer)
            save_file(tensors, str(tmp / "optimizer.safetensors"))
        with open(tmp / "state.json", "w") as f:
            json.dump(meta, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def load_checkpoint(
    path: str | Path,
    optimizer: torch.optim.Optimizer | None = None,
    device: str | torch.device = "cpu",
) -> tuple[TinyLlama, dict]:
    """The model and the caller state saved at ``path``; fills ``optimizer`` if given."""
    path = Path(path)
    if not (path / "state.json").exists():
        raise FileNotFoundError(f"{path} is not a checkpoint (no state.json)")
    meta = json.loads((path / "state.json").read_text())
    if "hf" in meta["model_config"]:
        raise ValueError(f"{path} holds a transformers model; load it with transformers (from_pretrained) instead")
    model = TinyLlama(ModelConfig(**meta["model_config"]))
    weights = load_file(str(path / "model.safetensors"))
    if model.cfg.tie_embeddings:
        weights["lm_head.weight"] = weights["embed_tokens.weight"]
    model.load_state_dict(weights)
    model.to(device)
    if optimizer is not None:
        if "optimizer" not in meta:
            raise ValueError(f"checkpoint {path} holds no optimizer state")
        tensors = load_file(str(path / "optimizer.safetensors"), device=str(device))
        optimizer.load_state_dict(_join_optimizer(tensors, meta["optimizer"]))
    return model, meta["state"]
