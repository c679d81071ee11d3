from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import torch

import toy_envs
from sandbox.model.model import ModelConfig
from sandbox.model.tokenizer import CharTokenizer
from sandbox.train.sft import SFTConfig, noisy_answer, sft_batch, train_sft

tok = CharTokenizer()
TASK = toy_envs.make_task("arithmetic", n_steps=2, operators="+-", start_max=20)
SMALL = ModelConfig(vocab_size=tok.vocab_size, d_model=32, n_layers=1, n_heads=2, n_kv_heads=2, d_ff=64, max_seq_len=64)


def test_batch_masks_exactly_the_gold_response_and_eos():
    tokens, mask = sft_batch(TASK, tok, range(5))
    for b in range(5):
        problem = TASK.problem(b)
        assert tok.decode(tokens[b][mask[b]], stop_at_eos=False) == TASK.gold_solution(problem)
        assert tokens[b][mask[b]][-1] == tok.eos_id
        assert tok.decode(tokens[b][~mask[b]]) == TASK.prompt(problem)


def test_lr_schedule_warms_up_then_decays():
    cfg = SFTConfig(steps=100, warmup_steps=10, lr=1.0)
    assert cfg.lr_at(0) == 0.1 and cfg.lr_at(9) == 1.0
    assert cfg.lr_at(10) > cfg.lr_at(50) > cfg.lr_at(99) >= 0


def test_short_sft_lowers_the_loss_and_is_deterministic():
    losses = []
    cfg = SFTConfig(steps=30, batch_size=16, lr=5e-3, eval_problems=0)
    model_a, _ = train_sft(TASK, SMALL, cfg, progress=False, log=lambda r: losses.append(r["sft/loss"]))
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5
    model_b, _ = train_sft(TASK, SMALL, cfg, progress=False)
    for a, b in zip(model_a.state_dict().values(), model_b.state_dict().values()):
        assert torch.equal(a, b)


def test_noisy_answer_changes_the_answer_line_and_keeps_a_confidence_line():
    assert noisy_answer("1+2=3\n#3\nconf: 0.7\n") == "1+2=3\n#4\nconf: 0.7\n"
    assert noisy_answer("1+2=3\n#3\n") == "1+2=3\n#4\n"
    assert noisy_answer("1+2=3\n") == "1+2=3\n"


def test_sft_can_continue_from_a_model_without_touching_it():
    task, cfg = TASK, SMALL
    sft = SFTConfig(steps=2, batch_size=4, eval_problems=0)
    base, _ = train_sft(task, cfg, sft, progress=False)
    before = {k: v.clone() for k, v in base.state_dict().items()}
    continued, _ = train_sft(task, cfg, replace(sft, steps=1), progress=False, init=base)
    assert all(torch.equal(before[k], v) for k, v in base.state_dict().items())
    fresh, _ = train_sft(task, cfg, replace(sft, steps=1), progress=False)
    assert not torch.equal(continued.lm_head.weight, fresh.lm_head.weight)
    with pytest.raises(ValueError, match="init model config"):
        train_sft(task, replace(cfg, d_ff=32), sft, progress=False, init=base)


MIXED = toy_envs.make_task("arithmetic", n_steps_mix="1:1,4:1", operators="+-", start_max=20)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 8), start=st.integers(0, 500))
def test_length_buckets_give_the_whole_batch_loss_and_gradient_without_the_padding(n, start):
    """The buckets partition the rows (each row once, its tokens and mask intact up to its length);
    their summed loss and its gradient equal the one-pass batch's (an oracle: the padded batch at
    once) to float32 rounding, as ``sft_loss`` computes it; a bucket is never wider than its longest row."""
    from sandbox.model.model import TinyLlama, token_logprobs
    from sandbox.train.sft import length_buckets, sft_loss

    tokens, mask = sft_batch(MIXED, tok, range(start, start + 8))
    buckets = length_buckets(tokens, mask, tok.pad_id, n)
    rows = sorted(tuple(r[r != tok.pad_id].tolist()) for b, _ in buckets for r in b)
    assert rows == sorted(tuple(r[r != tok.pad_id].tolist()) for r in tokens) and len(buckets) == min(n, 8)
    assert all(int((b != tok.pad_id).sum(1).max()) == b.shape[1] for b, _ in buckets)
    assert sum(int(m.sum()) for _, m in buckets) == int(mask.sum())
    torch.manual_seed(0)
    model = TinyLlama(SMALL)

    def loss_and_grads(loss_of):
        model.zero_grad()
        loss = loss_of()
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in model.parameters()]

    whole, whole_grads = loss_and_grads(lambda: -(token_logprobs(model(tokens), tokens) * mask).sum() / mask.sum())
    split, split_grads = loss_and_grads(lambda: sft_loss(model, tokens, mask, tok.pad_id, n))
    assert torch.allclose(whole, split, rtol=1e-5, atol=1e-6)
    assert all(torch.allclose(a, b, rtol=1e-4, atol=1e-6) for a, b in zip(whole_grads, split_grads))


def test_length_buckets_is_checked_and_one_bucket_is_the_batch_itself():
    from sandbox.train.sft import length_buckets

    tokens, mask = sft_batch(MIXED, tok, range(4))
    assert length_buckets(tokens, mask, tok.pad_id, 1) == [(tokens, mask)]
    for bad in (0, 65):
        with pytest.raises(toy_envs.ConfigError, match="^length_buckets="):
            SFTConfig(length_buckets=bad).validate()
