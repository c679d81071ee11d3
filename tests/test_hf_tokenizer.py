"""Hugging Face models and tokenizers through the sandbox: step ids from a subword tokenizer,
and `reward-sandbox train --init hf:<dir>` on local directories (no download)."""

import json
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.rollout.rollouts import response_step_ids
from toy_envs import ArithmeticChain

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

pytestmark = pytest.mark.hf
TASK = ArithmeticChain(n_steps=2, operators="+-", start_max=50)


@pytest.fixture(scope="module")
def subword_tokenizer():
    """A BPE tokenizer trained here on gold solutions, merging across line ends (e.g. '\\n#')."""
    from tokenizers import Tokenizer, decoders, models, trainers

    texts = [TASK.prompt(TASK.problem(i)) + TASK.gold_solution(TASK.problem(i)) for i in range(400)]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.decoder = decoders.Fuse()
    alphabet = sorted(set("".join(texts)) | set("0123456789+-*=#\n "))
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=160, special_tokens=["<pad>", "<bos>", "<eos>", "<unk>"], initial_alphabet=alphabet))
    hf = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>"
    )
    from sandbox.model.hf_tokenizer import HFTokenizer

    return HFTokenizer(hf)


@settings(max_examples=25)
@given(index=st.integers(0, 10_000))
def test_subword_step_ids_follow_each_tokens_first_character(subword_tokenizer, index):
    problem = TASK.problem(index, split="eval")
    text = TASK.gold_solution(problem)
    ids = subword_tokenizer.encode(text, eos=True)
    counts = subword_tokenizer.char_counts(ids)
    assert sum(counts) == len(subword_tokenizer.decode(ids)) == len(text)
    assert any(c > 1 for c in counts)  # really multi-character tokens
    steps = TASK.segment(text)
    got = response_step_ids(ids, steps, counts)
    # brute force: the step whose span holds the token's first character; <eos> joins the last
    starts = [sum(counts[:i]) for i in range(len(ids))]
    expected = [next((s.index for s in steps if s.start <= c < s.end), steps[-1].index) for c in starts]
    assert got == expected


def train(argv: list[str]) -> int:
    from sandbox.cli import main

    return main(["train", *argv, "--threads", "1", "--progress", "false"])


def small_run(run_dir: Path, init: str, variant: str = "random") -> list[dict]:
    code = train([
        "--init", init, "--variant", variant, "--steps", "2", "--problems-per-step", "4", "--group-size", "4",
        "--max-new-tokens", "24", "--lr", "1e-3", "--warmup-steps", "0", "--eval-every", "0",
        "--eval-problems", "8", "--pass-problems", "0", "--task-n-steps", "2", "--task-operators", "+-",
        "--task-start-max", "50", "--run-dir", str(run_dir),
    ])
    assert code == 0
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_train_on_a_local_hf_llama_with_its_own_subword_tokenizer(tmp_path, subword_tokenizer):
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=len(subword_tokenizer.hf), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
        bos_token_id=subword_tokenizer.bos_id, eos_token_id=subword_tokenizer.eos_id, pad_token_id=subword_tokenizer.pad_id,
    )
    model_dir = tmp_path / "model"
    transformers.LlamaForCausalLM(config).save_pretrained(model_dir)
    subword_tokenizer.hf.save_pretrained(model_dir)
    history = [m for m in small_run(tmp_path / "run", f"hf:{model_dir}") if m["step"] >= 0]
    assert len(history) == 2
    assert all(torch.isfinite(torch.tensor(m["loss/policy"])) for m in history)
    assert history[-1]["rollout/advantage_abs_mean"] > 0


@pytest.mark.slow
def test_an_exported_sandbox_model_trains_through_hf_like_the_tiny_model(tmp_path, warmstart_tiny):
    """The exported directory has no tokenizer files, so the character tokenizer is used; the
    HF forward equals the tiny model's, so the first step's samples and rewards are the same."""
    from sandbox.model.hf import export_hf
    from sandbox.model.tokenizer import CharTokenizer

    model, _, _ = warmstart_tiny
    export_hf(model, CharTokenizer(), tmp_path / "exported")
    hf = small_run(tmp_path / "hf", f"hf:{tmp_path / 'exported'}", variant="outcome-grpo")
    tiny = small_run(tmp_path / "tiny", "tiny", variant="outcome-grpo")
    first_hf, first_tiny = (next(m for m in h if m["step"] == 0) for h in (hf, tiny))
    for key in ("rollout/accuracy", "rollout/reward_mean", "rollout/response_len"):
        assert first_hf[key] == pytest.approx(first_tiny[key]), key


def test_a_directory_without_config_is_one_clear_error(tmp_path):
    from sandbox.model.hf_tokenizer import load_hf_policy
    from toy_envs.base import ConfigError

    with pytest.raises(ConfigError, match="init"):
        load_hf_policy(tmp_path)
