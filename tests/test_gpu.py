"""The CUDA subset (``pytest -m gpu``): every test here skips cleanly without a CUDA GPU.

Run on a GPU machine:  pytest -m gpu -q
These have not yet been run on a GPU by this project (no GPU was available); gpu/README.md
says so and holds the table their figures go into.
"""

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.is_available() is False)"),
]

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(problems_per_step=4, group_size=4, eval_every=0, eval_problems=16, pass_problems=4, pass_k=2, progress=False)


@pytest.mark.parametrize("variant, extra", [
    ("outcome-grpo", {"kl_coef": 0.05, "reference_sync_every": 1}),
    ("dapo", {}),
    ("ppo-gae", {}),  # a critic on the device
    ("prime", {}),  # an implicit PRM on the device
    ("dro", {}),  # reference-scored rewards
    ("tree-grpo", {}),  # the tree sampler
])
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_cuda_trainer_step_mixed_precision(warmstart_tiny, variant, extra, precision):
    from sandbox.model.policy import TinyPolicy
    from sandbox.train.rl import RLConfig, Trainer

    model, task, _ = warmstart_tiny
    policy = TinyPolicy(copy.deepcopy(model))
    cfg = RLConfig(**SMALL, **extra, variant=variant, steps=1, temperature=1.3, device="cuda", precision=precision, gradient_checkpointing=True)
    trainer = Trainer(cfg, task, policy, None, TinyPolicy(copy.deepcopy(model).eval()))
    before = [p.detach().clone() for p in policy.module.parameters()]
    (metrics,) = trainer.train()
    assert all(p.is_cuda and p.dtype == torch.float32 for p in policy.module.parameters())
    assert torch.isfinite(torch.tensor(metrics["loss/policy"]))
    if precision == "bf16" or torch.isfinite(torch.tensor(metrics["loss/grad_norm"])):  # fp16 may skip an overflowing step
        assert any(not torch.equal(a, b) for a, b in zip(before, policy.module.parameters()))


def test_cuda_samples_match_their_recomputed_logprobs(warmstart_tiny):
    """The sampler's behaviour log-probs on CUDA equal the training pass's (fp32), and come back on the CPU."""
    from sandbox.model.model import token_logprobs
    from sandbox.model.policy import TinyPolicy
    from sandbox.model.sampler import SamplingConfig
    from sandbox.rng import row_keys

    model, task, _ = warmstart_tiny
    policy = TinyPolicy(copy.deepcopy(model).cuda().eval())
    tok = policy.tokenizer
    prompts = [tok.encode(task.prompt(task.problem(i)), bos=True) for i in range(8)]
    out = policy.sample(prompts, SamplingConfig(max_new_tokens=24), row_keys(0, [(i,) for i in range(8)]))
    assert out.tokens.device.type == "cpu"
    with torch.no_grad():
        recomputed = token_logprobs(policy.logits(out.tokens), out.tokens.cuda()).cpu()
    torch.testing.assert_close(recomputed * out.response_mask, out.logprobs, atol=1e-4, rtol=1e-4)


def test_cuda_graph_decode_samples_what_the_eager_sampler_does(warmstart_tiny):
    """``decode_mode="compiled"`` on CUDA (static shapes, ``torch.compile`` with CUDA graphs):
    the same greedy and sampled tokens as the eager sampler, log-probs within float tolerance."""
    from sandbox.model.sampler import SamplingConfig, sample
    from sandbox.model.tokenizer import CharTokenizer
    from sandbox.rng import row_keys

    model, task, _ = warmstart_tiny
    model = copy.deepcopy(model).cuda().eval()
    tok = CharTokenizer()
    prompts = [tok.encode(task.prompt(task.problem(i)), bos=True) for i in range(16)]
    keys = row_keys(0, [(i,) for i in range(16)])
    for temperature in (0.0, 1.0):
        cfg = SamplingConfig(max_new_tokens=24, temperature=temperature)
        eager = sample(model, prompts, cfg, keys, tok.eos_id, tok.pad_id)
        for _ in range(2):  # the second call replays the recorded graphs
            graphed = sample(model, prompts, cfg, keys, tok.eos_id, tok.pad_id, decode_mode="compiled")
            assert torch.equal(graphed.tokens, eager.tokens)
            torch.testing.assert_close(graphed.logprobs, eager.logprobs, atol=1e-4, rtol=1e-4)


@pytest.mark.hf
def test_cuda_hf_llama_bf16_with_gradient_checkpointing(warmstart_tiny):
    transformers = pytest.importorskip("transformers")
    from sandbox.model.policy import HFPolicy
    from sandbox.model.tokenizer import CharTokenizer
    from sandbox.train.rl import RLConfig, Trainer

    _, task, _ = warmstart_tiny
    tok = CharTokenizer()
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=tok.vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
    )
    policy = HFPolicy(transformers.LlamaForCausalLM(config), tok)
    cfg = RLConfig(**{**SMALL, "steps": 2, "variant": "random", "max_new_tokens": 24}, device="cuda", precision="bf16", gradient_checkpointing=True)
    history = Trainer(cfg, task, policy).train()
    assert all(torch.isfinite(torch.tensor(m["loss/policy"])) for m in history)


def test_scale_recipe_smoke():
    from sandbox.bench.scale import ScaleBenchConfig, format_scale_bench, run_scale_bench

    results = run_scale_bench(ScaleBenchConfig(device="cuda", precision="bf16", steps=2, sample_rows=8, peak_tflops=100.0))
    assert results["train/tokens_per_s"] > 0 and 0 < results["train/mfu"] < 1
    assert "| train |" in format_scale_bench(results)


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 CUDA GPUs")
def test_fsdp_on_two_gpus_matches_one_gpu(tmp_path, warmstart_tiny):
    from safetensors.torch import load_file

    args = [
        "--init", "tiny", "--variant", "dapo", "--steps", "2", "--problems-per-step", "4", "--group-size", "4",
        "--eval-every", "0", "--eval-problems", "0", "--pass-problems", "0", "--threads", "1", "--progress", "false",
        "--device", "cuda",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    runs = {"one": [sys.executable, "-m", "sandbox.train"], "two": [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "sandbox.train", "--fsdp"]}
    for name, cmd in runs.items():
        done = subprocess.run([*cmd, *args, "--run-dir", str(tmp_path / name)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
    weights = [load_file(tmp_path / n / "checkpoints" / "step-000002" / "model.safetensors") for n in runs]
    for key, value in weights[0].items():
        torch.testing.assert_close(weights[1][key], value, atol=1e-4, rtol=0)  # CUDA kernels and TF32: looser than the CPU test
    metrics = [json.loads(line) for line in (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()]
    assert metrics[-1]["step"] == 1
