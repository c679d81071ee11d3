"""A tiny Llama-style decoder: RMSNorm, rotary position embeddings, SwiGLU, no biases.

Module and parameter names mirror Hugging Face's ``LlamaForCausalLM`` (``embed_tokens``,
``layers.i.self_attn.q_proj``, ``mlp.gate_proj``, ``input_layernorm``, ``norm``, ``lm_head``),
so exporting is a rename (``sandbox.model.hf``) and the logits agree with ``transformers``.

    h = x + Attn(RMSNorm(x)),   out = h + W_down( SiLU(W_gate RMSNorm(h)) * W_up RMSNorm(h) )
    RoPE (rotate-half convention): q' = q·cos(pθ) + rotate_half(q)·sin(pθ), θ_i = base^(-2i/d_head)

``forward(tokens)`` is the training and scoring pass. Rows are right-padded, so a plain causal
mask is enough: padding only ever follows the real tokens. The sampler (``sampler.py``) adds a
KV cache, per-row positions and a padding mask, and passes q|k|v and gate|up weights
concatenated once per call, so each layer does two matmuls where the formula shows five.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn
from torch.utils.checkpoint import checkpoint


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
    """x / sqrt(mean(x²) + eps) · w, normalised in float32 as Llama does.

    The normalisation is ``F.rms_norm`` (one call instead of five tensor ops: a decode step of the
    small models is mostly per-op dispatch), the same numbers bit for bit as the written-out
    ``x32 * rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)``, values and gradients
    (tests/test_model.py checks it against that formula)."""

    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight * F.rms_norm(x.float(), (x.shape[-1],), eps=self.eps).to(x.dtype)


def rope(x: torch.Tensor, cos: torch.Tensor, signed_sin: torch.Tensor) -> torch.Tensor:
    """x·cos + rotate_half(x)·sin, rotate_half(x1 | x2) = (−x2 | x1), computed as
    x·cos + (x2 | x1)·(−sin | sin) (``rope_tables``' ``signed_sin``): the same numbers bit for bit
    (the sign moves from one factor to the other), in four operations instead of seven."""
    return x * cos + x.roll(x.shape[-1] // 2, dims=-1) * signed_sin


def rope_tables(cfg: ModelConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and signed sin, [max_seq_len, head_dim]: the frequencies repeated for both halves, the
    first half of sin negated (``rope``)."""
    inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, cfg.head_dim, 2, dtype=torch.float32) / cfg.head_dim))
    angles = torch.outer(torch.arange(cfg.max_seq_len, dtype=torch.float32), inv_freq)
    return torch.cat((angles, angles), dim=-1).cos(), torch.cat((-angles.sin(), angles.sin()), dim=-1)


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

    def forward(self, x, cos, signed_sin, cache_kv=None, slot: int = 0, mask=None, qkv_weight=None):
        # One matmul for q, k and v (the sampler passes the concatenated weight once per call).
        if qkv_weight is None:
            qkv_weight = torch.cat((self.q_proj.weight, self.k_proj.weight, self.v_proj.weight))
        qk, v = rearrange(F.linear(x, qkv_weight), "b t (h d) -> b h t d", d=self.head_dim).split(
            (self.n_heads + self.n_kv_heads, self.n_kv_heads), dim=1)
        q, k = rope(qk, cos, signed_sin).split((self.n_heads, self.n_kv_heads), dim=1)  # q and k rotated at once
        if cache_kv is not None and torch.is_tensor(slot):  # static shapes: write at the slots in
            cache_k, cache_v = cache_kv  # ``slot`` [t], attend over the whole cache (the mask hides the rest)
            cache_k.index_copy_(2, slot, k)
            cache_v.index_copy_(2, slot, v)
            k, v = cache_k, cache_v
        elif cache_kv is not None:  # write this chunk at cache slots [slot, slot+t), attend to all so far
            cache_k, cache_v = cache_kv
            t = x.shape[1]
            cache_k[:, :, slot : slot + t] = k
            cache_v[:, :, slot : slot + t] = v
            k, v = cache_k[:, :, : slot + t], cache_v[:, :, : slot + t]
        if self.n_kv_heads != self.n_heads:
            k = k.repeat_interleave(self.n_heads // self.n_kv_heads, dim=1)
            v = v.repeat_interleave(self.n_heads // self.n_kv_heads, dim=1)
        if mask is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.o_proj(rearrange(y, "b h t d -> b t (h d)"))


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        self.up_proj = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        self.down_proj = nn.Linear(cfg.d_ff, cfg.d_model, bias=False)

    def forward(self, x, gate_up_weight=None):
        if gate_up_weight is None:
            gate_up_weight = torch.cat((self.gate_proj.weight, self.up_proj.weight))
        gate, up = F.linear(x, gate_up_weight).chunk(2, dim=-1)
        return self.down_proj(F.silu(gate) * up)


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x, cos, signed_sin, cache_kv=None, slot=0, mask=None, fused=None):
        qkv_weight, gate_up_weight = fused if fused is not None else (None, None)
        x = x + self.self_attn(self.input_layernorm(x), cos, signed_sin, cache_kv, slot, mask, qkv_weight)
        return x + self.mlp(self.post_attention_layernorm(x), gate_up_weight)


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
        cos, signed_sin = rope_tables(cfg)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_signed_sin", signed_sin, persistent=False)
        self.gradient_checkpointing = False
        """Recompute each block's activations in the backward pass (``gradient_checkpointing_enable``)."""
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # scaled residual projections (GPT-2)
            if name.endswith(("o_proj.weight", "down_proj.weight")):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * cfg.n_layers))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)

    def gradient_checkpointing_enable(self) -> None:
        """Training passes keep only each block's input and recompute the block in the backward
        pass (``torch.utils.checkpoint``, non-reentrant); same gradients, less activation memory.
        Named like the ``transformers`` switch so callers treat both models alike."""
        self.gradient_checkpointing = True

    def new_cache(self, batch: int, max_len: int | None = None) -> KVCache:
        """Keys and values in the parameters' dtype, or the autocast dtype when autocast is on
        (the attention then reads keys, values and queries of one dtype)."""
        p = self.embed_tokens.weight
        dtype = torch.get_autocast_dtype(p.device.type) if torch.is_autocast_enabled(p.device.type) else p.dtype
        return KVCache(self.cfg, batch, max_len or self.cfg.max_seq_len, p.device, dtype)

    def fused_weights(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per layer, the concatenated q|k|v and gate|up weights (the sampler builds them once)."""
        return [
            (
                torch.cat((b.self_attn.q_proj.weight, b.self_attn.k_proj.weight, b.self_attn.v_proj.weight)),
                torch.cat((b.mlp.gate_proj.weight, b.mlp.up_proj.weight)),
            )
            for b in self.layers
        ]

    def forward(self, tokens, cache=None, slot: int = 0, positions=None, mask=None, fused=None):
        """Logits [B, T, vocab].

        ``model(tokens)`` is the plain causal pass. The sampler also passes ``cache`` (keys and
        values go to slots ``[slot, slot+T)``), per-row ``positions`` [B, T] for the rotary
        tables, a boolean attention ``mask`` [B, 1, T, slot+T], and ``fused`` weights. A tensor
        ``slot`` [T] of cache slots is the static-shape form (``sampler.sample(..., decode_mode=)``):
        the chunk is written there and attends over the whole cache under a mask [B, 1, T, cache
        length], so every decode step has the same shapes.
        """
        return self.lm_head(self.hidden_states(tokens, cache, slot, positions, mask, fused))

    def hidden_states(self, tokens, cache=None, slot: int = 0, positions=None, mask=None, fused=None):
        """The final-norm hidden states [B, T, d_model] that ``lm_head`` reads (heads such as a
        PRM's step scorer or a value head read them too); arguments as in ``forward``."""
        t = tokens.shape[1]
        if t > self.cfg.max_seq_len or (not torch.is_tensor(slot) and slot + t > self.cfg.max_seq_len):
            raise ValueError(f"sequence length {slot + t} exceeds max_seq_len={self.cfg.max_seq_len}")
        if positions is None:
            cos, signed_sin = self.rope_cos[:t], self.rope_signed_sin[:t]
        else:
            cos, signed_sin = self.rope_cos[positions][:, None], self.rope_signed_sin[positions][:, None]
        x = self.embed_tokens(tokens)
        recompute = self.gradient_checkpointing and self.training and cache is None and torch.is_grad_enabled()
        for i, layer in enumerate(self.layers):
            if recompute:
                x = checkpoint(layer, x, cos, signed_sin, None, slot, mask, None if fused is None else fused[i], use_reentrant=False)
                continue
            cache_kv = None if cache is None else (cache.k[i], cache.v[i])
            x = layer(x, cos, signed_sin, cache_kv, slot, mask, None if fused is None else fused[i])
        return self.norm(x)

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
