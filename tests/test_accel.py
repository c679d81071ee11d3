"""Device, mixed precision, gradient checkpointing and the scale bench, exercised on the CPU
(``sandbox.train.accel``; the CUDA checks are in tests/test_gpu.py, ``pytest -m gpu``)."""

import copy

import pytest
import torch

from sandbox.model.model import ModelConfig, TinyLlama
from sandbox.model.policy import TinyPolicy
from sandbox.model.tokenizer import CharTokenizer
from sandbox.train import accel
from sandbox.train.rl import RLConfig, Trainer
from toy_envs.base import ConfigError

SMALL = dict(problems_per_step=4, group_size=4, eval_every=0, eval_problems=8, pass_problems=0, progress=False)


@pytest.mark.parametrize("field, value", [("device", "tpu"), ("device", "cuda:x"), ("precision", "fp8"), ("precision", "")])
def test_device_and_precision_are_validated_naming_the_field(field, value):
    from sandbox.bench.scale import ScaleBenchConfig
    from sandbox.train.sft import SFTConfig

    for cls in (RLConfig, SFTConfig, ScaleBenchConfig):
        with pytest.raises(ConfigError, match=field):
            cls(**{field: value}).validate()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_without_cuda_is_a_clear_error_and_auto_means_cpu():
    with pytest.raises(ConfigError, match="device"):
        RLConfig(device="cuda").validate()
    assert accel.resolve_device("auto") == torch.device("cpu")


def tiny_model(seed: int = 0) -> TinyLlama:
    torch.manual_seed(seed)
    cfg = ModelConfig(vocab_size=CharTokenizer().vocab_size, d_model=32, n_layers=3, n_heads=4, n_kv_heads=2, d_ff=64, max_seq_len=64)
    return TinyLlama(cfg)


def grads(module, loss_fn) -> list[torch.Tensor]:
    module.zero_grad(set_to_none=True)
    loss_fn(module).backward()
    return [p.grad.clone() for p in module.parameters()]


def test_gradient_checkpointing_gives_the_plain_gradients_tiny_model():
    model = tiny_model()
    tokens = torch.randint(0, model.cfg.vocab_size, (3, 20), generator=torch.Generator().manual_seed(1))

    def loss(m):
        return m(tokens).float().log_softmax(-1)[..., 5].mean()

    model.train()
    plain = grads(model, loss)
    accel.enable_gradient_checkpointing(model)
    assert model.gradient_checkpointing
    recomputed = grads(model, loss)
    for a, b in zip(plain, recomputed):
        torch.testing.assert_close(b, a, atol=1e-6, rtol=1e-5)


@pytest.mark.hf
def test_gradient_checkpointing_gives_the_plain_gradients_transformers_llama():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=40, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
    )
    model = transformers.LlamaForCausalLM(config).train()
    tokens = torch.randint(0, 40, (2, 16), generator=torch.Generator().manual_seed(1))

    def loss(m):
        return m(input_ids=tokens).logits.float().log_softmax(-1)[..., 3].mean()

    plain = grads(model, loss)
    accel.enable_gradient_checkpointing(model)
    assert getattr(model, "is_activation_checkpointing", None) or model.is_gradient_checkpointing
    for a, b in zip(plain, grads(model, loss)):
        torch.testing.assert_close(b, a, atol=1e-6, rtol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_rl_step_on_cpu(warmstart_tiny, precision):
    """The autocast path (and fp16's loss scaling) end to end: a step of a KL-regularised
    variant with gradient checkpointing; finite losses, fp32 master weights that moved."""
    model, task, _ = warmstart_tiny
    policy = TinyPolicy(copy.deepcopy(model))
    before = [p.detach().clone() for p in policy.module.parameters()]
    cfg = RLConfig(**SMALL, variant="random", steps=1, kl_coef=0.05, precision=precision, gradient_checkpointing=True, warmup_steps=0)
    trainer = Trainer(cfg, task, policy, None, TinyPolicy(copy.deepcopy(model).eval()))
    (metrics,) = trainer.train()
    assert torch.isfinite(torch.tensor([metrics["loss/policy"], metrics["loss/grad_norm"], metrics["loss/kl_ref"]])).all()
    assert all(p.dtype == torch.float32 for p in policy.module.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, policy.module.parameters()))
    assert trainer.scaler.is_enabled() == (precision == "fp16")
    assert 0 <= metrics["eval/accuracy"] <= 1  # greedy evaluation also ran under autocast


def test_bf16_sft_and_an_explicit_cpu_device_match_the_default_in_fp32():
    """device='cpu' is the default (bit-identical); bf16 SFT trains with a finite loss."""
    import toy_envs
    from sandbox.train.sft import SFTConfig, train_sft

    task = toy_envs.TASKS["arithmetic"](n_steps=2)
    cfg = ModelConfig(vocab_size=CharTokenizer().vocab_size, d_model=32, n_layers=2, n_heads=2, n_kv_heads=2, d_ff=64, max_seq_len=96)
    base = dict(steps=4, batch_size=8, eval_problems=0)
    default, _ = train_sft(task, cfg, SFTConfig(**base), progress=False)
    explicit, _ = train_sft(task, cfg, SFTConfig(**base, device="auto" if not torch.cuda.is_available() else "cpu"), progress=False)
    for a, b in zip(default.state_dict().values(), explicit.state_dict().values()):
        assert torch.equal(a, b)
    _, summary = train_sft(task, cfg, SFTConfig(**base, precision="bf16", gradient_checkpointing=True), progress=False)
    assert torch.isfinite(torch.tensor(summary["sft/loss"]))


def test_flops_formula_and_peak_table():
    from sandbox.bench.scale import PEAK_TFLOPS, decoding_flops, matmul_parameters, peak_tflops, training_flops_per_token

    model = tiny_model()
    c = model.cfg
    per_block = c.d_model * (c.n_heads + 2 * c.n_kv_heads) * c.head_dim + c.n_heads * c.head_dim * c.d_model + 3 * c.d_model * c.d_ff
    n = matmul_parameters(model)
    assert n == c.n_layers * per_block + c.d_model * c.vocab_size
    assert training_flops_per_token(n, c.n_layers, c.d_model, 10) == 6 * n + 12 * c.n_layers * c.d_model * 10
    assert decoding_flops(n, 2, 8, torch.tensor([1, 2, 3])) == 3 * 2 * n + 4 * 2 * 8 * 6
    assert PEAK_TFLOPS["H100"]["bf16"] == 989.0 and PEAK_TFLOPS["A100"]["bf16"] == 312.0
    assert peak_tflops(torch.device("cpu"), "bf16")[0] is None  # no MFU on the CPU unless given
    assert peak_tflops(torch.device("cpu"), "bf16", 2.5)[0] == 2.5


def test_bench_scale_command_on_cpu(capsys, tmp_path):
    import json

    from sandbox.cli import main

    out = tmp_path / "scale.json"
    argv = ["bench", "scale", "--steps", "1", "--warmup-steps", "0", "--batch-size", "4", "--sample-rows", "2", "--n-steps", "3"]
    assert main([*argv, "--json", str(out)]) == 0
    results = json.loads(out.read_text())
    assert results["train/tokens_per_s"] > 0 and results["sample/tokens_per_s"] > 0
    assert "train/mfu" not in results  # the CPU has no table entry
    assert main([*argv, "--precision", "bf16", "--peak-tflops", "0.5", "--json", str(out)]) == 0
    results = json.loads(out.read_text())
    assert 0 < results["train/mfu"] == pytest.approx(results["train/tflops_per_s"] / 0.5)
    assert "| train |" in capsys.readouterr().out


def test_model_flag_is_the_documented_spelling_of_init(tmp_path, capsys):
    from sandbox.cli import main

    for flag in (["--model", "no-such-dir"], ["--model=no-such-dir"]):
        assert main(["train", *flag, "--run-dir", str(tmp_path / "r"), "--threads", "1"]) == 2
        assert "init='no-such-dir'" in capsys.readouterr().err


def test_fsdp_needs_several_processes(warmstart_tiny):
    model, task, _ = warmstart_tiny
    with pytest.raises(ConfigError, match="fsdp"):
        Trainer(RLConfig(**SMALL, fsdp=True), task, TinyPolicy(copy.deepcopy(model)))
