"""A tiny Llama-style decoder: RMSNorm, rotary position embeddings, SwiGLU, no biases.

Module and parameter names mirror Hugging Face's ``LlamaForCausalLM`` (``embed_tokens``,
``layers.i.self_attn.q_proj``, ``mlp.gate_proj``, ``input_layernorm``, ``norm``, ``lm_head``),
so exporting is a rename (``sandbox.model.hf``) and the logits agree with ``transformers``.

    h = x + Attn(RMSNorm(x)),   out = h + W_down( SiLU(W_gate RMSNorm(h)) * W_up RMSNorm(h) )
    RoPE (rotate-half convention): q' = q·cos(pθ) + rotate_half(q)·sin(pθ), θ_i = base^(-2i/d_head)

Three ways to call ``forward``:
  * ``forward(tokens)``: full causal pass (training, scoring). Rows are right-padded, so a
    plain causal mask is enough: padding only ever follows the real tokens.
  * ``forward(tokens, cache=cache)``: prefill, positions 0..T-1, keys/values written to ``cache``.
  * ``forward(tokens[:, None], cache=cache, positions=pos)``: one decode step, row b at position
    ``pos[b]``; each row attends to cache slots 0..pos[b], so rows of different lengths share
    one batch without left padding and every token keeps its true position.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


@dataclass
class ModelConfig:
    vocab_size: int = 100
    """Number of token ids (the tokenizer's vocab size)."""
    d_model: int = 128
    """Residual stream width."""
    n_layers: int = 4
    """Number of transformer blocks."""
    n_heads: int = 4
    """Query heads per attention layer."""
    n_kv_heads: int = 4
    """Key/value heads (grouped-query attention when fewer than n_heads)."""
    d_ff: int = 384
    """SwiGLU hidden width."""
    max_seq_len: int = 256
    """Longest sequence (prompt + response) the rotary tables and caches cover."""
    rope_theta: float = 10000.0
    """Rotary base."""
    norm_eps: float = 1e-5
    """RMSNorm epsilon."""
    tie_embeddings: bool = False
    """Share the input embedding with the output projection."""

    def validate(self) -> None:
        from toy_envs.base import check

        for name in ("vocab_size", "d_model", "n_layers", "n_heads", "n_kv_heads", "d_ff", "max_seq_len"):
            check(getattr(self, name) >= 1, name, "an integer >= 1", getattr(self, name))
        check(self.d_model % self.n_heads == 0, "d_model", f"a multiple of n_heads={self.n_heads}", self.d_model)
        check((self.d_model // self.n_heads) % 2 == 0, "d_model", "d_model/n_heads even (rotary pairs)", self.d_model)
        check(self.n_heads % self.n_kv_heads == 0, "n_kv_heads", f"a divisor of n_heads={self.n_heads}", self.n_kv_heads)
        check(self.rope_theta > 0, "rope_theta", "> 0", self.rope_theta)
        check(self.norm_eps > 0, "norm_eps", "> 0", self.norm_eps)

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    def to_dict(self) -> dict:
        return asdict(self)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(x.dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def rope_tables(cfg: ModelConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin of shape [max_seq_len, head_dim] (frequencies repeated for both halves)."""
    inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, cfg.head_dim, 2, dtype=torch.float32) / cfg.head_dim))
    angles = torch.outer(torch.arange(cfg.max_seq_len, dtype=torch.float32), inv_freq)
    angles = torch.cat((angles, angles), dim=-1)
    return angles.cos(), angles.sin()


class KVCache:
    """Preallocated keys and values, [B, n_kv_heads, max_len, head_dim] per layer."""

    def __init__(self, cfg: ModelConfig, batch: int, max_len: int, device, dtype):
        shape = (batch, cfg.n_kv_heads, max_len, cfg.head_dim)
        self.k = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(cfg.n_layers)]
        self.v = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(cfg.n_layers)]


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
        self.q_proj = nn.Linear(cfg.d_model, cfg.n_heads * cfg.head_dim, bias=False)
        self.k_proj = nn.Linear(cfg.d_model, cfg.n_kv_heads * cfg.head_dim, bias=False)
        self.v_proj = nn.Linear(cfg.d_model, cfg.n_kv_heads * cfg.head_dim, bias=False)
        self.o_proj = nn.Linear(cfg.n_heads * cfg.head_dim, cfg.d_model, bias=False)

    def forward(self, x, cos, sin, cache_kv=None, positions=None):
        q = rearrange(self.q_proj(x), "b t (h d) -> b h t d", h=self.n_heads)
        k = rearrange(self.k_proj(x), "b t (h d) -> b h t d", h=self.n_kv_heads)
        v = rearrange(self.v_proj(x), "b t (h d) -> b h t d", h=self.n_kv_heads)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        gqa = self.n_kv_heads != self.n_heads
        if cache_kv is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=gqa)
        elif positions is None:  # prefill
            cache_k, cache_v = cache_kv
            t = x.shape[1]
            cache_k[:, :, :t] = k
            cache_v[:, :, :t] = v
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=gqa)
        else:  # one decode step per row, at its own position
            cache_k, cache_v = cache_kv
            rows = torch.arange(x.shape[0], device=x.device)
            cache_k[rows, :, positions] = k[:, :, 0]
            cache_v[rows, :, positions] = v[:, :, 0]
            span = int(positions.max()) + 1
            visible = torch.arange(span, device=x.device)[None, :] <= positions[:, None]
            y = F.scaled_dot_product_attention(
                q, cache_k[:, :, :span], cache_v[:, :, :span], attn_mask=visible[:, None, None, :], enable_gqa=gqa
            )
        return self.o_proj(rearrange(y, "b h t d -> b t (h d)"))


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        self.up_proj = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        self.down_proj = nn.Linear(cfg.d_ff, cfg.d_model, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x, cos, sin, cache_kv=None, positions=None):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, cache_kv, positions)
        return x + self.mlp(self.post_attention_layernorm(x))


class TinyLlama(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.lm_head.weight = self.embed_tokens.weight
        cos, sin = rope_tables(cfg)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # scaled residual projections (GPT-2)
            if name.endswith(("o_proj.weight", "down_proj.weight")):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * cfg.n_layers))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)

    def new_cache(self, batch: int, max_len: int | None = None) -> KVCache:
        p = self.embed_tokens.weight
        return KVCache(self.cfg, batch, max_len or self.cfg.max_seq_len, p.device, p.dtype)

    def forward(self, tokens: torch.Tensor, cache: KVCache | None = None, positions: torch.Tensor | None = None):
        """Logits [B, T, vocab] (see the module docstring for the three call forms)."""
        t = tokens.shape[1]
        if t > self.cfg.max_seq_len:
            raise ValueError(f"sequence length {t} exceeds max_seq_len={self.cfg.max_seq_len}")
        if positions is None:
            cos, sin = self.rope_cos[:t], self.rope_sin[:t]
        else:
            cos, sin = self.rope_cos[positions][:, None, None], self.rope_sin[positions][:, None, None]
        x = self.embed_tokens(tokens)
        for i, layer in enumerate(self.layers):
            cache_kv = None if cache is None else (cache.k[i], cache.v[i])
            x = layer(x, cos, sin, cache_kv, positions)
        return self.lm_head(self.norm(x))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """log π(tokens[:, t] | tokens[:, :t]) under the temperature-scaled policy, [B, T].

    Position 0 (no context) gets 0. ``logits`` come from ``model(tokens)``. A temperature of 0
    (greedy decoding) scores under the untempered policy (temperature 1).
    """
    scaled = logits[:, :-1].float() / (temperature if temperature > 0 else 1.0)
    picked = scaled.log_softmax(-1).gather(-1, tokens[:, 1:, None]).squeeze(-1)
    return F.pad(picked, (1, 0))
