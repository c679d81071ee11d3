import pytest
import torch

from hypothesis import given
from hypothesis import strategies as st

from sandbox.model.model import ModelConfig, RMSNorm, TinyLlama, rope, rope_tables, token_logprobs
from sandbox.model.tokenizer import CharTokenizer
from toy_envs.base import ConfigError

VOCAB = CharTokenizer().vocab_size


def small(**overrides):
    fields = dict(vocab_size=VOCAB, d_model=64, n_layers=2, n_heads=4, n_kv_heads=2, d_ff=96, max_seq_len=64)
    fields.update(overrides)
    torch.manual_seed(0)
    return TinyLlama(ModelConfig(**fields)).eval()


@given(head_dim=st.sampled_from([2, 4, 16, 32]), length=st.integers(1, 12), seed=st.integers(0, 2**31 - 1),
       grad=st.booleans())
def test_rope_is_the_rotate_half_formula_bit_for_bit(head_dim, length, seed, grad):
    """q' = q·cos + rotate_half(q)·sin, rotate_half(x1 | x2) = (−x2 | x1), written with the textbook
    tables (oracle), against ``rope``'s roll and signed sin: equal exactly, and so are the gradients."""
    cfg = ModelConfig(vocab_size=VOCAB, d_model=head_dim * 2, n_layers=1, n_heads=2, n_kv_heads=2, d_ff=8, max_seq_len=16)
    inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    angles = torch.outer(torch.arange(16, dtype=torch.float32), inv_freq)
    cos, sin = torch.cat((angles, angles), -1).cos()[:length], torch.cat((angles, angles), -1).sin()[:length]
    x = torch.randn(3, 2, length, head_dim, generator=torch.Generator().manual_seed(seed), requires_grad=grad)
    x1, x2 = x.chunk(2, dim=-1)
    expected = x * cos + torch.cat((-x2, x1), dim=-1) * sin
    table_cos, signed_sin = rope_tables(cfg)
    got = rope(x, table_cos[:length], signed_sin[:length])
    assert torch.equal(got, expected)
    if grad:
        upstream = torch.randn_like(got)
        assert torch.equal(*(torch.autograd.grad(y, x, upstream)[0] for y in (got, expected)))


@given(shape=st.sampled_from([(1, 1, 8), (64, 1, 64), (5, 31, 64), (2, 7, 128), (3, 4, 48)]), scale=st.sampled_from([1e-3, 1.0, 1e3]),
       seed=st.integers(0, 2**31 - 1), dtype=st.sampled_from([torch.float32, torch.bfloat16]))
def test_rms_norm_is_the_written_out_formula_bit_for_bit(shape, scale, seed, dtype):
    """w · (x32 · rsqrt(mean(x32²) + eps)) cast back to x's dtype (oracle, the Llama formula written
    out) against ``RMSNorm``'s ``F.rms_norm``: equal exactly, and so are the gradients of x and w."""
    generator = torch.Generator().manual_seed(seed)
    norm = RMSNorm(shape[-1], 1e-5)
    with torch.no_grad():
        norm.weight.copy_(torch.randn(shape[-1], generator=generator))
    x = (torch.randn(shape, generator=generator) * scale).to(dtype).requires_grad_()
    x32 = x.float()
    expected = norm.weight * (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + 1e-5)).to(x.dtype)
    got = norm(x)
    assert got.dtype == expected.dtype and torch.equal(got, expected)
    upstream = torch.randn(shape, generator=generator)
    grads = [torch.autograd.grad(y, (x, norm.weight), upstream) for y in (got, expected)]
    assert all(torch.equal(a, b) for a, b in zip(*grads))


def test_logits_shape_and_causality():
    model = small()
    x = torch.randint(0, VOCAB, (2, 20))
    y = x.clone()
    y[:, 10:] = torch.randint(0, VOCAB, (2, 10))
    with torch.no_grad():
        a, b = model(x), model(y)
    assert a.shape == (2, 20, VOCAB)
    torch.testing.assert_close(a[:, :10], b[:, :10])  # later tokens never change earlier logits


def test_right_padding_does_not_change_real_tokens():
    model = small()
    x = torch.randint(4, VOCAB, (1, 12))
    padded = torch.cat([x, torch.zeros(1, 8, dtype=torch.long)], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(model(padded)[:, :12], model(x))


def test_token_logprobs_matches_manual_log_softmax():
    model = small()
    x = torch.randint(0, VOCAB, (3, 9))
    with torch.no_grad():
        logits = model(x)
    lp = token_logprobs(logits, x, temperature=0.5)
    manual = torch.log_softmax(logits[0, 3] / 0.5, -1)[x[0, 4]]
    torch.testing.assert_close(lp[0, 4], manual)
    assert torch.all(lp[:, 0] == 0)


def test_too_long_sequence_is_a_clear_error():
    with pytest.raises(ValueError, match="max_seq_len"):
        small()(torch.zeros(1, 65, dtype=torch.long))


@pytest.mark.parametrize(
    "field,value", [("d_model", 66), ("n_kv_heads", 3), ("n_layers", 0), ("norm_eps", 0.0), ("d_model", 36)]
)
def test_bad_config_names_the_field(field, value):
    cfg = ModelConfig(vocab_size=VOCAB, **{field: value}) if field != "d_model" or value != 36 else ModelConfig(
        vocab_size=VOCAB, d_model=36, n_heads=4
    )
    with pytest.raises(ConfigError, match=field):
        cfg.validate()


@pytest.mark.hf
@pytest.mark.parametrize("n_kv_heads,tie", [(4, False), (2, False), (1, True)])
def test_logits_equal_transformers_llama(tmp_path, n_kv_heads, tie):
    transformers = pytest.importorskip("transformers")
    from sandbox.model.hf import export_hf

    model = small(n_kv_heads=n_kv_heads, tie_embeddings=tie)
    export_hf(model, CharTokenizer(), tmp_path / "hf")
    hf = transformers.LlamaForCausalLM.from_pretrained(tmp_path / "hf").eval()
    x = torch.randint(0, VOCAB, (3, 40))
    with torch.no_grad():
        torch.testing.assert_close(hf(x).logits, model(x), atol=1e-5, rtol=1e-5)


def test_export_refuses_non_empty_directory(tmp_path):
    from sandbox.model.hf import export_hf

    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "keep.txt").write_text("x")
    with pytest.raises(FileExistsError):
        export_hf(small(), CharTokenizer(), tmp_path / "hf")
