"""Checkpoints: safetensors for tensors, JSON for everything else, written atomically.

A checkpoint is a directory::

    model.safetensors     the weights (sandbox names)
    optimizer.safetensors optimizer tensors, flattened as ``{param_index}.{key}`` (optional; the
                          state to resume the same run), or as ``{param_name}.{key}`` when
                          saved ``by_name`` (an SFT warm start's AdamW state, which another
                          optimizer over the same model can start from: ``load_named_optimizer_state``)
    state.json            model config, optimizer hyper-parameters and scalar state, any
                          caller state (step, RNG states, config of the run, metrics), and the
                          size and sha256 of each .safetensors file (``files``)

It is written into a temporary sibling directory and renamed into place, so a reader sees
either the whole checkpoint or none of it; an existing checkpoint is never overwritten.
``load_checkpoint`` first checks every file (``verify_checkpoint``): a missing, truncated or
altered one is a ``DamagedFileError`` naming it, never a traceback from deep inside a reader.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from sandbox.errors import DamagedFileError
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


def _split_optimizer_by_name(optimizer: torch.optim.Optimizer, model: torch.nn.Module) -> tuple[dict[str, torch.Tensor], dict]:
    """The optimizer's per-parameter tensors keyed ``{param_name}.{key}`` (names from
    ``model.named_parameters()``), its scalar state likewise, and its hyper-parameters."""
    names = {id(p): n for n, p in model.named_parameters()}
    tensors, scalars = {}, {}
    for group in optimizer.param_groups:
        for param in group["params"]:
            if id(param) not in names:
                raise ValueError("the optimizer holds a parameter that is not the model's; it cannot be saved by name")
            for key, value in optimizer.state.get(param, {}).items():
                if isinstance(value, torch.Tensor):
                    tensors[f"{names[id(param)]}.{key}"] = value.detach().contiguous().cpu()
                else:
                    scalars[f"{names[id(param)]}.{key}"] = value
    groups = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.state_dict()["param_groups"]]
    return tensors, {"keyed_by": "name", "param_groups": groups, "scalars": scalars}


def _join_optimizer(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict] = {}
    for name, value in [*tensors.items(), *meta["scalars"].items()]:
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    # JSON turns tuples (e.g. Adam's betas) into lists; give them back as tuples.
    groups = [{k: (tuple(v) if isinstance(v, list) and k != "params" else v) for k, v in g.items()} for g in meta["param_groups"]]
    return {"state": state, "param_groups": groups}


def file_digest(path: Path) -> dict:
    """{"size": bytes, "sha256": hex digest} of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return {"size": path.stat().st_size, "sha256": h.hexdigest()}


def verify_checkpoint(path: str | Path) -> dict:
    """The parsed ``state.json`` of the checkpoint at ``path`` after checking that every file it
    lists has its recorded size and sha256 (checkpoints written before checksums were recorded
    are checked for presence only); ``DamagedFileError`` naming the first file that does not."""
    path = Path(path)
    if not path.is_dir():
        raise DamagedFileError(f"checkpoint {path}: missing (not a directory)")
    state_file = path / "state.json"
    if not state_file.exists():
        raise DamagedFileError(f"checkpoint {path}: state.json is missing (not a checkpoint)")
    try:
        meta = json.loads(state_file.read_text())
        if not isinstance(meta, dict) or "model_config" not in meta or "state" not in meta:
            raise ValueError("no model_config or state")
    except (ValueError, UnicodeDecodeError) as err:
        raise DamagedFileError(f"checkpoint {path}: state.json is damaged ({err})") from None
    expected = meta.get("files")
    if expected is None:  # written before checksums were recorded: presence only
        expected = dict.fromkeys(["model.safetensors"] + (["optimizer.safetensors"] if "optimizer" in meta else []))
    for name, recorded in expected.items():
        file = path / name
        if not file.exists():
            raise DamagedFileError(f"checkpoint {path}: {name} is missing")
        if recorded is None:
            continue
        if file.stat().st_size != recorded["size"]:
            raise DamagedFileError(f"checkpoint {path}: {name} is damaged ({file.stat().st_size} bytes, {recorded['size']} written)")
        if file_digest(file)["sha256"] != recorded["sha256"]:
            raise DamagedFileError(f"checkpoint {path}: {name} is damaged (its sha256 differs from the one written)")
    return meta


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
    by_name: bool = False,
) -> Path:
    """Write a checkpoint directory at ``path`` (which must not exist yet); ``by_name`` keys the
    optimizer state by the model's parameter names instead of positions."""
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
            tensors, meta["optimizer"] = _split_optimizer_by_name(optimizer, model) if by_name else _split_optimizer(optimizer)
            save_file(tensors, str(tmp / "optimizer.safetensors"))
        meta["files"] = {f.name: file_digest(f) for f in sorted(tmp.glob("*.safetensors"))}
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


def _load_tensors(path: Path, name: str, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """A safetensors file of a verified checkpoint; one that still cannot be read (a checkpoint
    without recorded checksums) is a ``DamagedFileError`` naming it."""
    try:
        return load_file(str(path / name), device=str(device))
    except Exception as err:  # safetensors raises its own error type on a truncated header
        raise DamagedFileError(f"checkpoint {path}: {name} is damaged ({type(err).__name__}: {err})") from None


def load_checkpoint(
    path: str | Path,
    optimizer: torch.optim.Optimizer | None = None,
    device: str | torch.device = "cpu",
) -> tuple[TinyLlama, dict]:
    """The model and the caller state saved at ``path``; fills ``optimizer`` if given."""
    path = Path(path)
    meta = verify_checkpoint(path)
    if "hf" in meta["model_config"]:
        raise ValueError(f"{path} holds a transformers model; load it with transformers (from_pretrained) instead")
    model = TinyLlama(ModelConfig(**meta["model_config"]))
    weights = _load_tensors(path, "model.safetensors")
    if model.cfg.tie_embeddings:
        weights["lm_head.weight"] = weights["embed_tokens.weight"]
    model.load_state_dict(weights)
    model.to(device)
    if optimizer is not None:
        if "optimizer" not in meta:
            raise ValueError(f"checkpoint {path} holds no optimizer state")
        if meta["optimizer"].get("keyed_by") == "name":
            raise ValueError(f"checkpoint {path} holds optimizer state keyed by parameter name: read it with load_named_optimizer_state")
        tensors = _load_tensors(path, "optimizer.safetensors", device)
        optimizer.load_state_dict(_join_optimizer(tensors, meta["optimizer"]))
    return model, meta["state"]


def has_named_optimizer_state(path: str | Path) -> bool:
    """Whether the checkpoint at ``path`` holds optimizer state keyed by parameter name (reads
    its ``state.json`` only; False for anything that is not a readable checkpoint)."""
    try:
        meta = json.loads((Path(path) / "state.json").read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(meta, dict) and isinstance(meta.get("optimizer"), dict) and meta["optimizer"].get("keyed_by") == "name"


def load_named_optimizer_state(path: str | Path) -> tuple[dict[str, dict[str, torch.Tensor]], list[dict]]:
    """(per-parameter state ``{param_name: {"exp_avg": …, "exp_avg_sq": …, "step": …}}``, the
    saved hyper-parameter groups) of a checkpoint saved ``by_name``, after verifying its files."""
    path = Path(path)
    meta = verify_checkpoint(path)
    if not has_named_optimizer_state(path):
        raise ValueError(f"checkpoint {path} holds no optimizer state keyed by parameter name")
    state: dict[str, dict] = {}
    for name, value in [*_load_tensors(path, "optimizer.safetensors").items(), *meta["optimizer"]["scalars"].items()]:
        param, key = name.rsplit(".", 1)
        state.setdefault(param, {})[key] = value
    return state, meta["optimizer"]["param_groups"]
