"""Export a sandbox model to a Hugging Face ``LlamaForCausalLM`` directory.

The tiny model already uses Llama's parameter names, so the export is a rename
(``model.`` prefix on everything but ``lm_head``) plus a ``config.json``. The files are
written with ``safetensors`` and plain JSON, so exporting does not need ``transformers``;
loading the directory does (``transformers.LlamaForCausalLM.from_pretrained(path)``).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from sandbox.model.model import ModelConfig, TinyLlama
from sandbox.model.tokenizer import CharTokenizer


def hf_config(cfg: ModelConfig, tokenizer: CharTokenizer) -> dict:
    """A ``LlamaConfig`` as a dict, equivalent to ``cfg``."""
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.d_model,
        "intermediate_size": cfg.d_ff,
        "num_hidden_layers": cfg.n_layers,
        "num_attention_heads": cfg.n_heads,
        "num_key_value_heads": cfg.n_kv_heads,
        "head_dim": cfg.head_dim,
        "max_position_embeddings": cfg.max_seq_len,
        "rms_norm_eps": cfg.norm_eps,
        "rope_theta": cfg.rope_theta,
        "rope_parameters": {"rope_type": "default", "rope_theta": cfg.rope_theta},
        "hidden_act": "silu",
        "attention_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": cfg.tie_embeddings,
        "bos_token_id": tokenizer.bos_id,
        "eos_token_id": tokenizer.eos_id,
        "pad_token_id": tokenizer.pad_id,
        "torch_dtype": "float32",
    }


def hf_state_dict(model: TinyLlama) -> dict[str, torch.Tensor]:
    """The model's weights under Hugging Face Llama names (tied weights stored once)."""
    out = {}
    for name, tensor in model.state_dict().items():
        if name == "lm_head.weight":
            if not model.cfg.tie_embeddings:
                out[name] = tensor
        else:
            out[f"model.{name}"] = tensor
    return {k: v.detach().contiguous().cpu() for k, v in out.items()}


def export_hf(model: TinyLlama, tokenizer: CharTokenizer, directory: str | Path) -> Path:
    """Write ``config.json`` and ``model.safetensors`` into a new ``directory``."""
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise FileExistsError(f"{directory} exists and is not empty; choose a new directory")
    directory.mkdir(parents=True, exist_ok=True)
    save_file(hf_state_dict(model), str(directory / "model.safetensors"), metadata={"format": "pt"})
    (directory / "config.json").write_text(json.dumps(hf_config(model.cfg, tokenizer), indent=2))
    return directory
