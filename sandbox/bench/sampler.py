"""Benchmark: the sandbox KV-cache sampler against ``transformers`` ``generate()``.

Both decode the *same weights* (the warm-start model, exported to a Hugging Face directory and
loaded as ``LlamaForCausalLM``) on the same prompts, in float32, with the same thread count,
for exactly ``new_tokens`` new tokens per row (end-of-sequence ignored: our sampler with
``ignore_eos``, HF with no ``eos_token_id``), HF with ``use_cache=True``. One warm-up call of
each is excluded; each figure is the median of ``repeats`` timed calls, taken alternately so
both see the same machine state. Reported: tokens/s of each and their ratio, greedy and
sampled (temperature 1, no top-k/top-p on either side).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass

import torch

from sandbox.model.hf import export_hf
from sandbox.model.sampler import SamplingConfig, sample
from sandbox.model.tokenizer import CharTokenizer
from sandbox.rng import row_keys


@dataclass
class SamplerBenchConfig:
    batch_size: int = 64
    """Rows decoded together."""
    new_tokens: int = 64
    """Tokens generated per row (end-of-sequence ignored)."""
    repeats: int = 3
    """Timed calls per contender (the median is reported)."""
    threads: int = 2
    """torch threads for both contenders."""
    preset: str = "tiny"
    """Warm-start preset whose weights are decoded."""

    def validate(self) -> None:
        from toy_envs.base import check

        check(self.batch_size >= 1, "batch_size", ">= 1", self.batch_size)
        check(self.new_tokens >= 1, "new_tokens", ">= 1", self.new_tokens)
        check(self.repeats >= 1, "repeats", ">= 1", self.repeats)
        check(self.threads >= 1, "threads", ">= 1", self.threads)


def run_sampler_bench(cfg: SamplerBenchConfig) -> dict:
    from transformers import LlamaForCausalLM

    from sandbox.train import recipes

    cfg.validate()
    torch.set_num_threads(cfg.threads)
    model, task, _ = recipes.load(cfg.preset)
    model.eval()
    tok = CharTokenizer()
    with tempfile.TemporaryDirectory() as tmp:
        export_hf(model, tok, f"{tmp}/hf")
        hf = LlamaForCausalLM.from_pretrained(f"{tmp}/hf", torch_dtype=torch.float32).eval()
    prompts = [tok.encode(task.prompt(task.problem(i, split="eval")), bos=True) for i in range(cfg.batch_size)]
    width = max(map(len, prompts))
    hf_ids = torch.tensor([[tok.pad_id] * (width - len(p)) + p for p in prompts])  # left-padded for generate()
    hf_mask = (torch.arange(width)[None, :] >= torch.tensor([width - len(p) for p in prompts])[:, None]).long()
    keys = row_keys(0, [(i,) for i in range(cfg.batch_size)])

    def ours(temperature: float):
        sc = SamplingConfig(max_new_tokens=cfg.new_tokens, temperature=temperature)
        out = sample(model, prompts, sc, keys, tok.eos_id, tok.pad_id, ignore_eos=True)
        assert int(out.response_lens.min()) == cfg.new_tokens

    @torch.no_grad()
    def theirs(temperature: float):
        kwargs = dict(do_sample=True, temperature=temperature, top_k=0, top_p=1.0) if temperature > 0 else dict(do_sample=False)
        out = hf.generate(
            input_ids=hf_ids,
            attention_mask=hf_mask,
            max_new_tokens=cfg.new_tokens,
            min_new_tokens=None,
            eos_token_id=None,
            pad_token_id=tok.pad_id,
            use_cache=True,
            **kwargs,
        )
        assert out.shape[1] == width + cfg.new_tokens

    results = {}
    for mode, temperature in (("greedy", 0.0), ("sampled", 1.0)):
        for fn in (ours, theirs):
            fn(temperature)  # warm-up
        times = {"sandbox": [], "hf": []}
        for _ in range(cfg.repeats):
            for name, fn in (("sandbox", ours), ("hf", theirs)):
                start = time.perf_counter()
                fn(temperature)
                times[name].append(time.perf_counter() - start)
        tokens = cfg.batch_size * cfg.new_tokens
        ours_tps = tokens / statistics.median(times["sandbox"])
        hf_tps = tokens / statistics.median(times["hf"])
        results[mode] = {"sandbox_tokens_per_s": ours_tps, "hf_tokens_per_s": hf_tps, "ratio": ours_tps / hf_tps}
    results["setup"] = {
        "parameters": model.num_parameters(),
        "batch_size": cfg.batch_size,
        "new_tokens": cfg.new_tokens,
        "threads": cfg.threads,
        "repeats": cfg.repeats,
        "torch": torch.__version__,
    }
    return results


def format_sampler_bench(results: dict) -> str:
    setup = results["setup"]
    lines = [
        f"sampler benchmark: {setup['parameters']:,} parameters, batch {setup['batch_size']}, "
        f"{setup['new_tokens']} new tokens, {setup['threads']} threads, median of {setup['repeats']}",
        f"{'mode':<8} {'sandbox tok/s':>14} {'HF generate tok/s':>18} {'ratio':>7}",
    ]
    for mode in ("greedy", "sampled"):
        r = results[mode]
        lines.append(f"{mode:<8} {r['sandbox_tokens_per_s']:>14,.0f} {r['hf_tokens_per_s']:>18,.0f} {r['ratio']:>6.2f}x")
    return "\n".join(lines)
