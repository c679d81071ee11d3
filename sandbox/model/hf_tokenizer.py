"""Any Hugging Face tokenizer behind the sandbox's tokenizer interface, and loading a local
``AutoModelForCausalLM`` directory as a policy.

The sandbox needs from a tokenizer: ``encode(text, bos, eos)``, ``decode(ids)`` (stopping at
end-of-sequence), ``bos_id``/``eos_id``/``pad_id``, ``vocab_size``, and ``char_counts(ids)``:
how many characters of the decoded text each token contributes, which maps a task's step spans
(character offsets) onto tokens. The character tokenizer answers that trivially; a subword
tokenizer answers it from the lengths of decoded prefixes, so a token that merges the end of
one line with the start of the next is assigned to the step where its first character falls.

Prompts are plain text (no chat template): the toy tasks' prompts are written for a model
that continues them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from toy_envs.base import check


class HFTokenizer:
    """Adapter from a ``transformers`` tokenizer to the sandbox interface."""

    def __init__(self, tokenizer):
        self.hf = tokenizer
        check(tokenizer.eos_token_id is not None, "tokenizer.eos_token", "a tokenizer with an end-of-sequence token", None)
        self.eos_id = int(tokenizer.eos_token_id)
        self.bos_id = None if tokenizer.bos_token_id is None else int(tokenizer.bos_token_id)
        self.pad_id = int(tokenizer.pad_token_id) if tokenizer.pad_token_id is not None else self.eos_id

    @property
    def vocab_size(self) -> int:
        return len(self.hf)

    def encode(self, text: str, bos: bool = False, eos: bool = False) -> list[int]:
        ids = list(self.hf(text, add_special_tokens=False)["input_ids"])
        head = [self.bos_id] if bos and self.bos_id is not None else []
        return head + ids + ([self.eos_id] if eos else [])

    def decode(self, ids: Sequence[int] | torch.Tensor, stop_at_eos: bool = True) -> str:
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        if stop_at_eos and self.eos_id in ids:
            ids = ids[: ids.index(self.eos_id)]
        return self.hf.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)

    def char_counts(self, ids: Sequence[int]) -> list[int]:
        """Characters each token adds to ``decode(ids)``, from the decoded prefixes."""
        counts, previous = [], 0
        for i in range(1, len(ids) + 1):
            length = len(self.decode(ids[:i]))
            counts.append(max(length - previous, 0))
            previous = max(previous, length)
        return counts


def load_hf_policy(path: str | Path, device: str = "cpu"):
    """An ``HFPolicy`` for the model directory ``path`` (``config.json`` + weights), read locally.

    The tokenizer is the directory's own when it has one (``tokenizer.json`` or
    ``tokenizer_config.json``); a directory without one (e.g. written by ``export_hf``) gets the
    sandbox's character tokenizer, whose vocabulary size must then match the model's.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from sandbox.model.policy import HFPolicy
    from sandbox.model.tokenizer import CharTokenizer

    path = Path(path)
    check((path / "config.json").exists(), "init", "hf:<a local model directory with config.json>", f"hf:{path}")
    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True).to(device)
    if (path / "tokenizer.json").exists() or (path / "tokenizer_config.json").exists():
        tokenizer = HFTokenizer(AutoTokenizer.from_pretrained(path, local_files_only=True))
    else:
        tokenizer = CharTokenizer()
        vocab = model.config.vocab_size
        check(vocab == tokenizer.vocab_size, "init", f"a model with the character tokenizer's vocabulary ({tokenizer.vocab_size}) or a directory with its own tokenizer", f"hf:{path} (vocab_size {vocab})")
    return HFPolicy(model, tokenizer)
