"""The small interface the trainer talks to, satisfied by the tiny model and by any
``transformers`` causal LM.

    policy.module                    the nn.Module (parameters, train/eval, state_dict)
    policy.tokenizer                 encode/decode, bos/eos/pad ids
    policy.logits(tokens)            [B, T, V] for right-padded rows (a plain causal pass)
    policy.sample(prompts, cfg, keys, ignore_eos=False) -> Samples   (CPU tensors, any model device)

and, for either module, ``final_hidden_states(module, tokens)`` (what the LM head reads),
``output_layer(module)`` (the LM head itself) and ``logits_and_hidden_states(module, tokens)`` (both
from one pass).

Both sample with a KV cache and the same keyed token choice (``choose_tokens``), so the
behaviour log-probs are what ``token_logprobs(policy.logits(tokens), tokens, T)`` recomputes.
The tiny model uses the sandbox sampler; a Hugging Face model is decoded through its own
forward with ``past_key_values`` (left-padded prompts, an attention mask and position ids).
"""

from __future__ import annotations

import torch

from sandbox.model.model import TinyLlama
from sandbox.model.sampler import Samples, SamplingConfig, decode, sample
from sandbox.model.tokenizer import CharTokenizer


def final_hidden_states(module: torch.nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """[B, T, d] the hidden states the LM head reads: ``TinyLlama.hidden_states`` (the final norm's
    output), or for a ``transformers`` causal LM the last of ``output_hidden_states`` (for Llama-style
    models also the final norm's output)."""
    if hasattr(module, "hidden_states"):
        return module.hidden_states(tokens)
    return module(input_ids=tokens, output_hidden_states=True).hidden_states[-1]


def logits_and_hidden_states(module: torch.nn.Module, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits [B, T, V], ``final_hidden_states`` [B, T, d]) of one causal pass, for the cost of the
    logits alone: ``TinyLlama``'s forward is its LM head on ``hidden_states`` (so the logits are the
    forward's, bit for bit); a ``transformers`` model returns both from one call."""
    if hasattr(module, "hidden_states"):
        hidden = module.hidden_states(tokens)
        return output_layer(module)(hidden), hidden
    out = module(input_ids=tokens, output_hidden_states=True)
    return out.logits, out.hidden_states[-1]


def output_layer(module: torch.nn.Module) -> torch.nn.Module:
    """The LM head (hidden states -> logits): ``TinyLlama.lm_head``, or a ``transformers`` model's
    output embeddings."""
    return module.lm_head if isinstance(module, TinyLlama) else module.get_output_embeddings()


class TinyPolicy:
    def __init__(self, model: TinyLlama, tokenizer: CharTokenizer | None = None):
        self.module = model
        self.tokenizer = tokenizer or CharTokenizer()

    def logits(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits on the model's device (``tokens`` are moved there)."""
        return self.module(tokens.to(next(self.module.parameters()).device))

    def sample(self, prompts, cfg: SamplingConfig, keys, ignore_eos: bool = False) -> Samples:
        return sample(self.module, prompts, cfg, keys, self.tokenizer.eos_id, self.tokenizer.pad_id, ignore_eos)


class HFPolicy:
    """A ``transformers`` ``AutoModelForCausalLM`` behind the policy interface.

    ``tokenizer`` is any object with ``encode``/``decode`` and ``bos_id``/``eos_id``/``pad_id``
    (the sandbox's character tokenizer for the toy tasks).
    """

    def __init__(self, model, tokenizer):
        self.module = model
        self.tokenizer = tokenizer

    def logits(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits on the model's device (``tokens`` are moved there)."""
        return self.module(input_ids=tokens.to(next(self.module.parameters()).device)).logits

    def sample(self, prompts, cfg: SamplingConfig, keys, ignore_eos: bool = False) -> Samples:
        cache = {}

        def forward(chunk, slot, positions, real):
            out = self.module(
                input_ids=chunk,
                attention_mask=real.long(),
                position_ids=positions,
                past_key_values=cache.get("past"),
                use_cache=True,
            )
            cache["past"] = out.past_key_values
            return out.logits[:, -1]

        device = next(self.module.parameters()).device
        return decode(forward, prompts, cfg, keys, self.tokenizer.eos_id, self.tokenizer.pad_id, ignore_eos, device)
