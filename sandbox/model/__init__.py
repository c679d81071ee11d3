"""The policy: character tokenizer, tiny Llama-style transformer, KV-cache sampler."""

from sandbox.model.model import ModelConfig, TinyLlama, token_logprobs
from sandbox.model.sampler import Samples, SamplingConfig, sample
from sandbox.model.tokenizer import CharTokenizer

__all__ = ["CharTokenizer", "ModelConfig", "Samples", "SamplingConfig", "TinyLlama", "sample", "token_logprobs"]
