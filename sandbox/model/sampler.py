"""Batched KV-cache sampler: temperature, top-p, per-row stop at end-of-sequence.

    prefill the right-padded prompts once → for each new token:
        p = softmax(logits / T);  keep the smallest top set with mass ≥ top_p
        token = argmax(log p[kept] + Gumbel noise keyed by (row key, step))
        record log p(token)   # temperature-scaled, *before* top-p truncation
        decode that token for every row at its own position (rows never shift)

Decoding modes (``sample(..., decode_mode=)``): ``eager`` writes each token at an integer cache slot
and attends over the cache up to it (shapes grow by one each step); ``static`` writes at a tensor
slot and attends over the whole cache under a mask (every step has the same shapes, the same
numbers up to float rounding); ``compiled`` is ``static`` through ``torch.compile`` -- with CUDA
graphs on a GPU (mode ``reduce-overhead``). A compiled step is specialised to its (batch, cache
length): each new pair compiles once. Measured by ``reward-sandbox bench sampler --compile``
(compile time, tokens/s and the break-even number of tokens, side by side with eager): on the
2-core CPU, 1.25-1.31x the eager step after 3-9 s of compiling, so it pays off only after 0.3-0.9 M
generated tokens at one shape (results.md, "Benchmark: sampler"); RL changes shapes every step,
so ``eager`` is the default.

The behaviour log-probs are exactly what ``token_logprobs(model(tokens), tokens, T)``
recomputes on the returned sequences (a test checks cached == uncached). Temperature 0 is
greedy decoding; its log-probs are then scored at temperature 1.

Output rows are laid out as the rest of the sandbox expects: prompt, response, padding
(right-padded), with a response mask that covers the sampled tokens including ``<eos>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn.functional as F

from sandbox.rng import counter_bases, uniform_from_bases


@dataclass
class SamplingConfig:
    max_new_tokens: int = 64
    """Most tokens generated per row (a row that reaches it is truncated)."""
    temperature: float = 1.0
    """Softmax temperature; 0 means greedy decoding."""
    top_p: float = 1.0
    """Nucleus sampling mass in (0, 1]; 1 disables it."""

    def validate(self) -> None:
        from toy_envs.base import check

        check(self.max_new_tokens >= 1, "max_new_tokens", "an integer >= 1", self.max_new_tokens)
        check(self.temperature >= 0, "temperature", ">= 0 (0 = greedy)", self.temperature)
        check(0 < self.top_p <= 1, "top_p", "in (0, 1]", self.top_p)


@dataclass
class Samples:
    tokens: torch.Tensor
    """[B, T] prompt then response then padding."""
    response_mask: torch.Tensor
    """[B, T] bool, True on sampled tokens (``<eos>`` included)."""
    logprobs: torch.Tensor
    """[B, T] float32 behaviour log-probs on response tokens, 0 elsewhere."""
    prompt_lens: torch.Tensor
    """[B] prompt length of each row."""
    response_lens: torch.Tensor
    """[B] number of sampled tokens of each row."""
    truncated: torch.Tensor
    """[B] bool, the row hit max_new_tokens without sampling ``<eos>``."""


def choose_tokens(logits: torch.Tensor, noise_bases: torch.Tensor | None, cfg: SamplingConfig):
    """Pick one token per row; returns (tokens [B], their behaviour log-probs [B]). ``noise_bases``
    [B] are this step's column of ``sandbox.rng.counter_bases(keys, steps)``: the Gumbel noise is
    ``keyed_uniform(keys, step, vocab)``'s (None: greedy, no noise)."""
    if cfg.temperature == 0:
        logp = logits.float().log_softmax(-1)
        tokens = logp.argmax(-1)
        return tokens, logp.gather(-1, tokens[:, None]).squeeze(-1)
    logp = (logits.float() / cfg.temperature).log_softmax(-1)
    candidates = logp
    if cfg.top_p < 1.0:
        sorted_logp, order = logp.sort(-1, descending=True)
        mass_before = sorted_logp.exp().cumsum(-1) - sorted_logp.exp()
        drop_sorted = mass_before >= cfg.top_p  # the top token always stays
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        candidates = logp.masked_fill(drop, float("-inf"))
    gumbel = -torch.log(-torch.log(uniform_from_bases(noise_bases, logits.shape[-1])))
    tokens = (candidates.double() + gumbel).argmax(-1)
    return tokens, logp.gather(-1, tokens[:, None]).squeeze(-1)


def sample(
    model,
    prompts: list[list[int]],
    cfg: SamplingConfig,
    keys: torch.Tensor,
    eos_id: int,
    pad_id: int,
    ignore_eos: bool = False,
    decode_mode: str = "eager",
) -> Samples:
    """Sample one response per prompt from the tiny model. ``keys`` [B] (``sandbox.rng``) key
    each row's noise; ``ignore_eos`` keeps every row generating to ``max_new_tokens``;
    ``decode_mode`` is one of ``DECODE_MODES`` (the module docstring)."""
    if decode_mode not in DECODE_MODES:
        raise ValueError(f"decode_mode: expected one of {', '.join(DECODE_MODES)}, got {decode_mode!r}")
    longest = max((len(p) for p in prompts), default=0)
    if longest + cfg.max_new_tokens > model.cfg.max_seq_len:
        raise ValueError(
            f"max_new_tokens={cfg.max_new_tokens} plus the longest prompt ({longest}) exceeds "
            f"the model's max_seq_len={model.cfg.max_seq_len}"
        )
    fused = model.fused_weights()
    total = longest + cfg.max_new_tokens
    cache = model.new_cache(len(prompts), total)
    step = decode_step(decode_mode, next(model.parameters()).device.type)
    if decode_mode == "compiled" and cache.k[0].is_cuda:  # CUDA graphs replay fixed addresses
        for tensor in (*cache.k, *cache.v):
            torch._dynamo.mark_static_address(tensor)

    def forward(chunk, slot, positions, real):
        if slot == 0:  # prefill: causal within the prompt, never onto left padding
            t = chunk.shape[1]
            causal = torch.ones(t, t, dtype=torch.bool, device=chunk.device).tril()
            # a left-padding query sees no real key; let it see itself so its softmax stays finite
            mask = (causal[None] & real[:, None, :]) | torch.eye(t, dtype=torch.bool, device=chunk.device)
            return model(chunk, cache, 0, positions, mask[:, None], fused)[:, -1]
        if decode_mode == "eager":
            return model(chunk, cache, slot, positions, real[:, None, None, :], fused)[:, 0]
        seen = F.pad(real, (0, total - real.shape[1]))  # the slots after this one hold no key yet
        slots = torch.tensor([slot], device=chunk.device)
        return step(model, chunk, cache, slots, positions, seen[:, None, None, :], fused)

    return decode(forward, prompts, cfg, keys, eos_id, pad_id, ignore_eos, next(model.parameters()).device)


DECODE_MODES = ("eager", "static", "compiled")


def static_step(model, token, cache, slots, positions, mask, fused):
    """One decode step with static shapes: ``token`` [B, 1] written at cache slot ``slots`` [1],
    attending over the whole cache under ``mask`` [B, 1, 1, cache length]; the logits [B, vocab]."""
    return model(token, cache, slots, positions, mask, fused)[:, 0]


@lru_cache(maxsize=None)
def decode_step(mode: str, device_type: str):
    """``static_step`` as run in ``mode``: as is (``eager`` does not call it, ``static``), or compiled
    once per process and device type (``compiled``; CUDA graphs on a GPU)."""
    if mode != "compiled":
        return static_step
    return torch.compile(static_step, dynamic=False, fullgraph=True, mode="reduce-overhead" if device_type == "cuda" else None)


def decode(forward, prompts, cfg: SamplingConfig, keys, eos_id: int, pad_id: int, ignore_eos: bool, device) -> Samples:
    """The decode loop shared by every policy; ``forward(chunk, slot, positions, real)`` returns
    the last position's logits for ``chunk`` written at cache slots ``[slot, slot+len)``.

    Prompts are *left*-aligned (row b starts at slot ``pad[b]``) so that each decode step writes
    one shared slot: cache writes are slices, the padding mask ``real`` is built once, and each
    token keeps its true position ``slot − pad[b]`` for RoPE. Rows are shifted back to the
    right-padded layout at the end. Runs in inference mode on ``device``; the returned tensors
    are CPU copies made outside it, so they can enter autograd (the RL loss uses them) and the
    rollout bookkeeping stays on the CPU whatever the model's device (``sandbox.train.accel``).
    """
    cfg.validate()
    batch = len(prompts)
    if batch == 0 or min(len(p) for p in prompts) == 0:
        raise ValueError("prompts: need at least one prompt, each with at least one token")
    if keys.shape != (batch,):
        raise ValueError(f"keys: expected shape ({batch},), got {tuple(keys.shape)}")
    with torch.inference_mode():
        prompt_lens = torch.tensor([len(p) for p in prompts], device=device)
        longest = int(prompt_lens.max())
        total = longest + cfg.max_new_tokens
        pad = longest - prompt_lens
        slots = torch.arange(total, device=device)
        positions = (slots[None, :] - pad[:, None]).clamp(min=0)  # [B, total]
        real = slots[None, :] >= pad[:, None]  # [B, total]: not left padding
        tokens = torch.full((batch, total), pad_id, dtype=torch.long, device=device)
        for b, p in enumerate(prompts):
            tokens[b, longest - len(p) : longest] = torch.tensor(p, device=device)
        logprobs = torch.zeros(batch, total, device=device)
        sampled = torch.zeros(batch, total, dtype=torch.bool, device=device)
        # the keyed noise of every step hashed from the row keys at once (``sandbox.rng``)
        noise = counter_bases(keys.to(device), cfg.max_new_tokens) if cfg.temperature > 0 else None

        logits = forward(tokens[:, :longest], 0, positions[:, :longest], real[:, :longest])
        done = torch.zeros(batch, dtype=torch.bool, device=device)
        for step in range(cfg.max_new_tokens):
            slot = longest + step
            new, new_logp = choose_tokens(logits, None if noise is None else noise[:, step], cfg)
            live = ~done
            tokens[:, slot] = torch.where(live, new, pad_id)
            logprobs[:, slot] = torch.where(live, new_logp, 0.0)
            sampled[:, slot] = live
            if not ignore_eos:
                done = done | (new == eos_id)
            if step == cfg.max_new_tokens - 1 or bool(done.all()):
                break
            logits = forward(tokens[:, slot : slot + 1], slot, positions[:, slot : slot + 1], real[:, : slot + 1])
        out = right_padded(tokens, logprobs, sampled, prompt_lens, pad, eos_id, pad_id, ignore_eos)
    return Samples(**{name: value.cpu().clone() for name, value in vars(out).items()})


def right_padded(tokens, logprobs, sampled, prompt_lens, pad, eos_id: int, pad_id: int, ignore_eos: bool) -> Samples:
    """Shift left-aligned rows (row b's real tokens start at ``pad[b]``) to the right-padded layout."""
    batch, total = tokens.shape
    device = tokens.device
    response_lens = sampled.sum(-1)
    width = int((prompt_lens + response_lens).max())
    index = (torch.arange(width, device=device)[None, :] + pad[:, None]).clamp(max=total - 1)
    inside = torch.arange(width, device=device)[None, :] < (prompt_lens + response_lens)[:, None]
    tokens = torch.where(inside, tokens.gather(1, index), pad_id)
    logprobs = torch.where(inside, logprobs.gather(1, index), 0.0)
    response_mask = inside & sampled.gather(1, index)
    rows = torch.arange(batch, device=device)
    last = tokens[rows, prompt_lens + response_lens - 1]
    truncated = torch.ones(batch, dtype=torch.bool, device=device) if ignore_eos else last != eos_id
    return Samples(tokens, response_mask, logprobs, prompt_lens, response_lens, truncated)
