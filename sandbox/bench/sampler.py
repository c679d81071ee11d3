"""Benchmark: the sandbox KV-cache sampler against ``transformers`` ``generate()``.

Both decode the *same weights* (the warm-start model, exported to a Hugging Face directory and
loaded as ``LlamaForCausalLM``) on the same prompts, in float32, with the same thread count,
for exactly ``new_tokens`` new tokens per row (end-of-sequence ignored: our sampler with
``ignore_eos``, HF with no ``eos_token_id``), HF with ``use_cache=True``. One warm-up call of
each is excluded; each figure is the median of ``repeats`` timed calls, taken alternately so
both see the same machine state. Reported: tokens/s of each and their ratio, greedy and
sampled (temperature 1, no top-k/top-p on either side).

``--compile`` adds the sampler's compiled decode step (``sample(..., decode_mode="compiled")``:
static shapes through ``torch.compile``) as a third contender timed in the same alternation. Its
compile time is the first compiled call's time less the median of its timed calls; the
break-even number of generated tokens is that time over the per-token saving against the eager
sampler (``never`` where the compiled step is not faster). The compiled tokens are checked equal
to the eager sampler's before any timing counts.
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
    compile: bool = False
    """Also time the compiled decode step (compile time and break-even reported)."""

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

    def ours(temperature: float, decode_mode: str = "eager"):
        sc = SamplingConfig(max_new_tokens=cfg.new_tokens, temperature=temperature)
        out = sample(model, prompts, sc, keys, tok.eos_id, tok.pad_id, ignore_eos=True, decode_mode=decode_mode)
        assert int(out.response_lens.min()) == cfg.new_tokens
        return out.tokens

    def compiled(temperature: float):
        return ours(temperature, "compiled")

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

    contenders = {"sandbox": ours, "hf": theirs, **({"compiled": compiled} if cfg.compile else {})}
    results = {}
    for mode, temperature in (("greedy", 0.0), ("sampled", 1.0)):
        first = {}
        for name, fn in contenders.items():  # warm-up (the compiled step compiles here, once)
            start = time.perf_counter()
            out = fn(temperature)
            first[name] = time.perf_counter() - start
            if name == "compiled" and not torch.equal(out, ours(temperature)):
                raise RuntimeError("the compiled decode step sampled other tokens than the eager sampler")
        times = {name: [] for name in contenders}
        for _ in range(cfg.repeats):
            for name, fn in contenders.items():
                start = time.perf_counter()
                fn(temperature)
                times[name].append(time.perf_counter() - start)
        tokens = cfg.batch_size * cfg.new_tokens
        tps = {name: tokens / statistics.median(times[name]) for name in contenders}
        results[mode] = {"sandbox_tokens_per_s": tps["sandbox"], "hf_tokens_per_s": tps["hf"], "ratio": tps["sandbox"] / tps["hf"]}
        if cfg.compile:
            if mode == "greedy":  # compiled in this warm-up; the sampled mode reuses the compiled step
                compile_s = first["compiled"] - statistics.median(times["compiled"])
            saving = 1 / tps["sandbox"] - 1 / tps["compiled"]  # seconds saved per generated token
            results[mode].update({
                "compiled_tokens_per_s": tps["compiled"],
                "compiled_ratio": tps["compiled"] / tps["hf"],
                "break_even_tokens": compile_s / saving if saving > 0 else None,
            })
            results["compile_s"] = compile_s
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
    if "compile_s" in results:
        lines.append(f"compiled decode step: compiled once in {results['compile_s']:.1f} s; break-even = that time over the per-token saving")
        lines.append(f"{'mode':<8} {'compiled tok/s':>14} {'vs generate':>12} {'vs eager':>9} {'break-even tokens':>18}")
        for mode in ("greedy", "sampled"):
            r = results[mode]
            even = "never" if r["break_even_tokens"] is None else f"{r['break_even_tokens']:,.0f}"
            lines.append(f"{mode:<8} {r['compiled_tokens_per_s']:>14,.0f} {r['compiled_ratio']:>11.2f}x "
                         f"{r['compiled_tokens_per_s'] / r['sandbox_tokens_per_s']:>8.2f}x {even:>18}")
    return "\n".join(lines)
