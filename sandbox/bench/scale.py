"""Benchmark: train a larger sandbox model on longer chains; tokens/s and model FLOPs utilisation.

    reward-sandbox bench scale                                  # tiny config, CPU (what CI runs)
    bash gpu/scale_sandbox_model.sh                             # ~27M parameters, bf16, CUDA

A fresh TinyLlama of the given size learns k-step arithmetic chains from gold solutions (the
SFT loss of ``sandbox.train.sft``, AdamW, fp32 master weights, autocast at ``precision``);
after ``warmup_steps`` untimed steps, ``steps`` timed steps measure training throughput. Then
``sample_rows`` rollouts (temperature 1, keyed noise, the trainer's sampler) measure decoding
throughput, and greedy accuracy on ``eval_problems`` held-out chains says what was learned.

**FLOPs.** N = the parameters of every matrix multiply (q, k, v, o, gate, up, down per block and
the output head; the input embedding is a lookup and is not counted), L blocks, width d, and
T the length of the sequence a token belongs to (training) or the context it attends to
(decoding). Per token, as in PaLM (Chowdhery et al. 2022, appendix B):

    training  6·N + 12·L·d·T      (forward 2·N + 4·L·d·T: q·kᵀ and attention·v; backward twice that)
    decoding  2·N + 4·L·d·t       (t = the token's own context length, prefill and decode alike)

The attention term counts the full T×T score matrix (the causal mask's skipped half included),
as PaLM does. Training counts every position of the padded batch (the hardware computes them
all); decoding counts only the rows' real prompt and sampled tokens (the decode loop also
computes finished rows, which are not counted), so its MFU is a lower bound. Gradient
checkpointing's recomputed forward is not counted (model FLOPs, not hardware FLOPs).

**MFU** = achieved FLOPs/s ÷ the device's peak dense FLOPs/s at ``precision``. ``PEAK_TFLOPS``
holds vendor datasheet figures (dense, no sparsity) for common GPUs, matched by substring of
``torch.cuda.get_device_name()``; ``peak_tflops`` overrides it. On the CPU, or on a GPU not in
the table, MFU is reported only with a user-given ``peak_tflops``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import torch

from sandbox.rng import row_keys
from sandbox.train import accel
from sandbox.train.toolkit import optimizer_step

PEAK_TFLOPS: dict[str, dict[str, float]] = {
    # substring of torch.cuda.get_device_name() → dense tensor-core TFLOP/s (datasheets); fp32 = TF32
    "H200": {"bf16": 989.0, "fp16": 989.0, "fp32": 494.0},
    "H100 NVL": {"bf16": 835.0, "fp16": 835.0, "fp32": 418.0},
    "H100 PCIe": {"bf16": 756.0, "fp16": 756.0, "fp32": 378.0},
    "H100": {"bf16": 989.0, "fp16": 989.0, "fp32": 494.0},  # SXM (e.g. "NVIDIA H100 80GB HBM3")
    "A100": {"bf16": 312.0, "fp16": 312.0, "fp32": 156.0},
    "L40S": {"bf16": 362.0, "fp16": 362.0, "fp32": 183.0},
    "L4": {"bf16": 121.0, "fp16": 121.0, "fp32": 60.0},
    "A10": {"bf16": 125.0, "fp16": 125.0, "fp32": 62.5},
}
"""Peak dense TFLOP/s by GPU name and precision; the first matching key wins (order matters:
``H100 NVL`` and ``H100 PCIe`` before the SXM default ``H100``)."""


@dataclass
class ScaleBenchConfig:
    d_model: int = 64
    """Residual width (the GPU recipe: 512)."""
    n_layers: int = 2
    """Transformer blocks (the GPU recipe: 8)."""
    n_heads: int = 4
    """Attention heads."""
    d_ff: int = 192
    """SwiGLU hidden width (the GPU recipe: 1536)."""
    n_steps: int = 8
    """Operations per arithmetic chain (longer than the warm starts' 2-4)."""
    batch_size: int = 16
    """Problems per training step."""
    steps: int = 3
    """Timed training steps."""
    warmup_steps: int = 1
    """Untimed training steps first (allocation, kernel selection)."""
    lr: float = 1e-3
    """AdamW learning rate (constant)."""
    sample_rows: int = 16
    """Rollouts decoded for the sampling throughput (0 skips it)."""
    eval_problems: int = 0
    """Held-out problems for greedy accuracy after training (0 skips it)."""
    device: str = "cpu"
    """cpu, cuda, cuda:<i> or auto."""
    precision: str = "fp32"
    """fp32, bf16 or fp16 autocast (fp32 master weights)."""
    gradient_checkpointing: bool = False
    """Recompute each block's activations in the backward pass."""
    peak_tflops: float = 0.0
    """The device's peak dense TFLOP/s at this precision; 0 = the table's value for a known GPU (none for the CPU: MFU omitted)."""
    threads: int = 1
    """torch CPU threads."""
    seed: int = 0
    """Seeds the initialisation and keys the sampling noise."""

    def validate(self) -> None:
        from toy_envs.base import check

        for name in ("d_model", "n_layers", "n_heads", "d_ff", "batch_size", "steps", "threads"):
            check(getattr(self, name) >= 1, name, "an integer >= 1", getattr(self, name))
        for name in ("warmup_steps", "sample_rows", "eval_problems"):
            check(getattr(self, name) >= 0, name, "an integer >= 0", getattr(self, name))
        check(1 <= self.n_steps <= 12, "n_steps", "in [1, 12] (the arithmetic task's range)", self.n_steps)
        check(self.lr > 0, "lr", "> 0", self.lr)
        check(self.peak_tflops >= 0, "peak_tflops", ">= 0 (0: from the table)", self.peak_tflops)
        accel.check_device(self.device)
        accel.check_precision(self.precision)


def matmul_parameters(model) -> int:
    """N of the FLOPs formula: every ``nn.Linear`` weight (the embedding lookup excluded)."""
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))


def training_flops_per_token(n: int, layers: int, width: int, seq_len: int) -> float:
    return 6.0 * n + 12.0 * layers * width * seq_len


def decoding_flops(n: int, layers: int, width: int, contexts: torch.Tensor) -> float:
    """Σ over processed tokens of 2·N + 4·L·d·t, ``contexts`` the tokens' context lengths t."""
    return float(2.0 * n * contexts.numel() + 4.0 * layers * width * contexts.double().sum())


def peak_tflops(device: torch.device, precision: str, override: float = 0.0) -> tuple[float | None, str]:
    """(peak TFLOP/s or None, where it came from)."""
    if override > 0:
        return override, "given"
    if device.type != "cuda":
        return None, "none for the CPU (pass --peak-tflops)"
    name = torch.cuda.get_device_name(device)
    for key, table in PEAK_TFLOPS.items():
        if key in name:
            return table[precision], f"table: {key}"
    return None, f"{name!r} not in the table (pass --peak-tflops)"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_scale_bench(cfg: ScaleBenchConfig) -> dict:
    import toy_envs
    from sandbox.eval.accuracy import default_max_new_tokens, evaluate_accuracy
    from sandbox.model.model import ModelConfig, TinyLlama, token_logprobs
    from sandbox.model.policy import TinyPolicy
    from sandbox.model.sampler import SamplingConfig
    from sandbox.model.tokenizer import CharTokenizer
    from sandbox.train.sft import sft_batch

    cfg.validate()
    torch.set_num_threads(cfg.threads)
    device = accel.resolve_device(cfg.device)
    tok = CharTokenizer()
    task = toy_envs.TASKS["arithmetic"](n_steps=cfg.n_steps)
    budget = default_max_new_tokens(task)
    longest_prompt = max(len(tok.encode(task.prompt(task.problem(i)), bos=True)) for i in range(64))
    model_cfg = ModelConfig(
        vocab_size=tok.vocab_size, d_model=cfg.d_model, n_layers=cfg.n_layers, n_heads=cfg.n_heads,
        n_kv_heads=cfg.n_heads, d_ff=cfg.d_ff, max_seq_len=longest_prompt + budget + 16,
    )
    torch.manual_seed(cfg.seed)
    model = TinyLlama(model_cfg).to(device)
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    n_mm = matmul_parameters(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.98))
    scaler = accel.grad_scaler(device, cfg.precision)

    train_tokens, train_flops, train_seconds, loss = 0, 0.0, 0.0, float("nan")
    model.train()
    for step in range(cfg.warmup_steps + cfg.steps):
        tokens, mask = sft_batch(task, tok, range(step * cfg.batch_size, (step + 1) * cfg.batch_size))
        tokens, mask = tokens.to(device), mask.to(device)
        _sync(device)
        t0 = time.perf_counter()
        with accel.autocast(device, cfg.precision):
            logits = model(tokens)
        logp = token_logprobs(logits, tokens)
        batch_loss = -(logp * mask).sum() / mask.sum()
        optimizer_step(optimizer, batch_loss, model.parameters(), 1.0, scaler)
        loss = batch_loss.item()  # synchronises
        elapsed = time.perf_counter() - t0
        if step >= cfg.warmup_steps:
            b, t = tokens.shape
            train_tokens += b * t
            train_flops += b * t * training_flops_per_token(n_mm, cfg.n_layers, cfg.d_model, t)
            train_seconds += elapsed

    peak, peak_source = peak_tflops(device, cfg.precision, cfg.peak_tflops)
    out = {
        "config": asdict(cfg),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "parameters": model.num_parameters(),
        "matmul_parameters": n_mm,
        "train/tokens_per_s": train_tokens / train_seconds,
        "train/tflops_per_s": train_flops / train_seconds / 1e12,
        "train/final_loss": loss,
        "peak_tflops": peak,
        "peak_source": peak_source,
    }
    if peak:
        out["train/mfu"] = out["train/tflops_per_s"] / peak
    if cfg.sample_rows:
        policy = TinyPolicy(model, tok)
        prompts = [tok.encode(task.prompt(task.problem(i, split="eval")), bos=True) for i in range(cfg.sample_rows)]
        keys = row_keys(cfg.seed, [("scale-bench", i) for i in range(cfg.sample_rows)])
        sampling = SamplingConfig(max_new_tokens=budget, temperature=1.0)
        model.eval()
        with accel.autocast(device, cfg.precision):
            policy.sample(prompts[:1], SamplingConfig(max_new_tokens=4), keys[:1])  # warm-up
            _sync(device)
            t0 = time.perf_counter()
            samples = policy.sample(prompts, sampling, keys)
            _sync(device)
            seconds = time.perf_counter() - t0
        # context length of every processed token: prompt positions 1..p, then p+1.. for sampled ones
        contexts = torch.cat([torch.arange(1, int(p + r) + 1) for p, r in zip(samples.prompt_lens, samples.response_lens)])
        generated = int(samples.response_lens.sum())
        out["sample/tokens_per_s"] = generated / seconds
        out["sample/tflops_per_s"] = decoding_flops(n_mm, cfg.n_layers, cfg.d_model, contexts) / seconds / 1e12
        if peak:
            out["sample/mfu"] = out["sample/tflops_per_s"] / peak
    if cfg.eval_problems:
        with accel.autocast(device, cfg.precision):
            out["eval/accuracy"] = evaluate_accuracy(model, task, tok, cfg.eval_problems, budget)["eval/accuracy"]
    return out


def format_scale_bench(results: dict) -> str:
    cfg = results["config"]
    head = (
        f"scale bench on {results['device']} ({cfg['precision']}): {results['parameters'] / 1e6:.2f}M parameters "
        f"(N = {results['matmul_parameters'] / 1e6:.2f}M in matmuls), {cfg['n_steps']}-step chains, peak: "
        f"{results['peak_tflops'] or '-'} TFLOP/s ({results['peak_source']})"
    )
    lines = [head, "| phase | tokens/s | TFLOP/s | MFU |", "|---|---|---|---|"]
    for phase in ("train", "sample"):
        if f"{phase}/tokens_per_s" in results:
            mfu = results.get(f"{phase}/mfu")
            lines.append(
                f"| {phase} | {results[f'{phase}/tokens_per_s']:,.0f} | {results[f'{phase}/tflops_per_s']:.4f} | "
                f"{'-' if mfu is None else f'{100 * mfu:.1f}%'} |"
            )
    lines.append(f"final training loss {results['train/final_loss']:.3f}")
    if "eval/accuracy" in results:
        lines.append(f"greedy accuracy on {cfg['eval_problems']} held-out chains: {results['eval/accuracy']:.3f}")
    return "\n".join(lines)
