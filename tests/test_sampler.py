import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from sandbox.model.model import ModelConfig, TinyLlama, token_logprobs
from sandbox.model.sampler import SamplingConfig, sample
from sandbox.model.tokenizer import CharTokenizer
from sandbox.rng import row_keys
from toy_envs.base import ConfigError

tok = CharTokenizer()


def model_with_eos_bias(eos_gain: float = 0.0, seed: int = 0, scale: float = 10.0):
    torch.manual_seed(seed)
    model = TinyLlama(
        ModelConfig(vocab_size=tok.vocab_size, d_model=64, n_layers=2, n_heads=4, n_kv_heads=2, d_ff=96, max_seq_len=96)
    ).eval()
    with torch.no_grad():  # scale the logits up so sampling is not uniform, and make <eos> common
        model.lm_head.weight.mul_(scale)
        model.lm_head.weight[tok.eos_id] *= 1.0 + eos_gain
    return model


MODEL = model_with_eos_bias(eos_gain=0.3)
PROMPTS = [tok.encode(s, bos=True) for s in ["3 +4 *2\n", "12 -5 *3 +1 mod 7\n", "1\n", "45 *9 -2 +3 +8\n"]]


def run(cfg, prompts=PROMPTS, model=MODEL, seed=0, **kw):
    keys = row_keys(seed, [(0, i, 0) for i in range(len(prompts))])
    return sample(model, prompts, cfg, keys, tok.eos_id, tok.pad_id, **kw)


@pytest.mark.parametrize("temperature,top_p", [(1.0, 1.0), (0.7, 0.9), (1.3, 0.5), (0.0, 1.0)])
def test_cached_logprobs_equal_uncached_forward(temperature, top_p):
    out = run(SamplingConfig(max_new_tokens=40, temperature=temperature, top_p=top_p))
    with torch.no_grad():
        full = token_logprobs(MODEL(out.tokens), out.tokens, temperature)
    torch.testing.assert_close(full * out.response_mask, out.logprobs, atol=2e-5, rtol=1e-5)


def test_layout_mask_and_stop_at_eos():
    out = run(SamplingConfig(max_new_tokens=30), prompts=PROMPTS * 8, seed=3)
    stopped = ~out.truncated
    assert stopped.any() and out.truncated.any()  # the biased model stops some rows, not all
    for b in range(out.tokens.shape[0]):
        p, r = int(out.prompt_lens[b]), int(out.response_lens[b])
        assert out.tokens[b, :p].tolist() == (PROMPTS * 8)[b]
        assert out.response_mask[b].nonzero().flatten().tolist() == list(range(p, p + r))
        assert (out.tokens[b, p + r :] == tok.pad_id).all()
        assert (out.logprobs[b][~out.response_mask[b]] == 0).all()
        response = out.tokens[b, p : p + r].tolist()
        assert 1 <= r <= 30
        if out.truncated[b]:
            assert r == 30 and tok.eos_id not in response
        else:
            assert response.index(tok.eos_id) == r - 1  # nothing after the first <eos>


@given(st.integers(1, 12), st.integers(0, 1000))
def test_max_new_tokens_respected_and_ignore_eos_fills_it(n, seed):
    out = run(SamplingConfig(max_new_tokens=n), seed=seed)
    assert int(out.response_lens.max()) <= n
    full = run(SamplingConfig(max_new_tokens=n), seed=seed, ignore_eos=True)
    assert full.response_lens.tolist() == [n] * len(PROMPTS)


def test_row_sample_does_not_depend_on_batch_composition():
    cfg = SamplingConfig(max_new_tokens=25, temperature=1.0)
    together = run(cfg)
    keys = row_keys(0, [(0, 2, 0)])
    alone = sample(MODEL, [PROMPTS[2]], cfg, keys, tok.eos_id, tok.pad_id)
    p, r = int(alone.prompt_lens[0]), int(alone.response_lens[0])
    assert together.tokens[2, p : p + r].tolist() == alone.tokens[0, p : p + r].tolist()


def test_same_keys_same_samples_different_keys_differ():
    cfg = SamplingConfig(max_new_tokens=25, temperature=1.0)
    assert torch.equal(run(cfg, seed=5).tokens, run(cfg, seed=5).tokens)
    assert not torch.equal(run(cfg, seed=5).tokens, run(cfg, seed=6).tokens)


def test_tiny_top_p_is_greedy():
    greedy = run(SamplingConfig(max_new_tokens=20, temperature=0.0))
    nucleus = run(SamplingConfig(max_new_tokens=20, temperature=1.0, top_p=1e-6))
    assert torch.equal(greedy.tokens, nucleus.tokens)


def test_sampling_frequencies_match_the_policy():
    """First-token frequencies over many keyed rows match softmax(logits / T) (chi-square-free check)."""
    model = model_with_eos_bias(seed=1)
    prompts = [PROMPTS[0]] * 4000
    with torch.no_grad():
        probs = (model(torch.tensor([PROMPTS[0]]))[0, -1] / 0.8).softmax(-1)
    out = run(SamplingConfig(max_new_tokens=1, temperature=0.8), prompts=prompts, model=model)
    first = out.tokens[:, len(PROMPTS[0])]
    freq = torch.bincount(first, minlength=tok.vocab_size).float() / len(prompts)
    assert (freq - probs).abs().max() < 0.03


@pytest.mark.parametrize(
    "field,cfg",
    [
        ("max_new_tokens", SamplingConfig(max_new_tokens=0)),
        ("temperature", SamplingConfig(temperature=-1)),
        ("top_p", SamplingConfig(top_p=0)),
    ],
)
def test_bad_sampling_config_names_the_field(field, cfg):
    with pytest.raises(ConfigError, match=field):
        run(cfg)


def test_prompt_plus_budget_longer_than_model_is_a_clear_error():
    with pytest.raises(ValueError, match="max_seq_len"):
        run(SamplingConfig(max_new_tokens=90))


def test_samples_can_enter_autograd():
    out = run(SamplingConfig(max_new_tokens=10))
    model = model_with_eos_bias()
    logp = token_logprobs(model(out.tokens), out.tokens)
    (logp * out.response_mask).sum().backward()
    assert model.lm_head.weight.grad is not None


@pytest.mark.hf
@pytest.mark.parametrize("temperature", [1.0, 0.0])
def test_hf_policy_sampling_matches_its_uncached_forward(temperature):
    transformers = pytest.importorskip("transformers")
    from sandbox.model.policy import HFPolicy

    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=tok.vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
    )
    policy = HFPolicy(transformers.LlamaForCausalLM(config).eval(), tok)
    keys = row_keys(0, [(0, i, 0) for i in range(len(PROMPTS))])
    out = policy.sample(PROMPTS, SamplingConfig(max_new_tokens=15, temperature=temperature), keys)
    with torch.no_grad():
        full = token_logprobs(policy.logits(out.tokens), out.tokens, temperature)
    torch.testing.assert_close(full * out.response_mask, out.logprobs, atol=2e-5, rtol=1e-5)
    for b, p in enumerate(PROMPTS):
        assert out.tokens[b, : len(p)].tolist() == p


@pytest.mark.parametrize("temperature,top_p", [(0.0, 1.0), (1.0, 1.0), (0.7, 0.9)])
def test_static_decode_steps_sample_what_the_eager_ones_do(temperature, top_p):
    """The static-shape step (a tensor cache slot, attention over the whole cache under a mask:
    what ``decode_mode="compiled"`` compiles) against the eager step that slices the cache, on
    prompts of four lengths (left padding), grouped-query attention and rows that stop early.
    ``compiled`` itself is this function through ``torch.compile``: not run here (its compile
    takes ~14 s of wall time even on a one-layer model); ``reward-sandbox bench sampler
    --compile`` checks its tokens equal the eager sampler's on every run, and tests/test_gpu.py
    checks the CUDA-graph form where a GPU is lent."""
    cfg = SamplingConfig(max_new_tokens=30, temperature=temperature, top_p=top_p)
    eager, static = run(cfg, prompts=PROMPTS * 2, seed=5), run(cfg, prompts=PROMPTS * 2, seed=5, decode_mode="static")
    assert torch.equal(eager.tokens, static.tokens) and torch.equal(eager.response_mask, static.response_mask)
    assert (~eager.truncated).any()
    torch.testing.assert_close(static.logprobs, eager.logprobs, atol=2e-5, rtol=1e-5)


def test_an_unknown_decode_mode_is_refused_before_decoding():
    with pytest.raises(ValueError, match="decode_mode: expected one of eager, static, compiled, got 'fast'"):
        run(SamplingConfig(max_new_tokens=4), decode_mode="fast")
