"""A small randomly initialised policy for tests of pieces that score with a model (DRO's R3, its
query filter, rubric gates, L2T's information gain): one layer, d_model 32, the character vocabulary,
96 positions; the same weights for the same seed."""

from __future__ import annotations

import torch

from sandbox.model.model import ModelConfig, TinyLlama
from sandbox.model.policy import TinyPolicy
from sandbox.model.tokenizer import CharTokenizer


def small_random_policy(seed: int = 0) -> TinyPolicy:
    """A fresh one-layer ``TinyPolicy`` whose weights are drawn after ``torch.manual_seed(seed)``."""
    torch.manual_seed(seed)
    cfg = ModelConfig(vocab_size=CharTokenizer().vocab_size, d_model=32, n_layers=1, n_heads=2, n_kv_heads=2, d_ff=64, max_seq_len=96)
    return TinyPolicy(TinyLlama(cfg))
