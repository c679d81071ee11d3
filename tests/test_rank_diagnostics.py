"""The effective-rank diagnostic of the RL trainer: logged beside the entropy, changes nothing else."""

import copy

import pytest
import torch

from sandbox.model.policy import TinyPolicy
from sandbox.model.tokenizer import CharTokenizer
from sandbox.rollout.effective_rank import response_effective_ranks
from sandbox.train.distributed import current_world
from sandbox.train.rank_diagnostics import EffectiveRankLog
from sandbox.train.rl import RLConfig, Trainer, deterministic

SMALL = dict(problems_per_step=4, group_size=4, eval_every=0, eval_problems=16, pass_problems=4, pass_k=2, progress=False, drift_every=0)
DIAG = ("diag/effective_rank", "diag/effective_rank_d1", "diag/effective_rank_d2")


def run(warmstart_tiny, **fields):
    model, task, _ = warmstart_tiny
    trainer = Trainer(RLConfig(**{**SMALL, **fields}), task, TinyPolicy(copy.deepcopy(model)))
    return trainer, trainer.train()


@pytest.mark.slow
def test_logged_beside_the_entropy_and_no_other_number_changes(warmstart_tiny):
    on_trainer, on = run(warmstart_tiny, steps=3)
    off_trainer, off = run(warmstart_tiny, steps=3, effective_rank=False)
    assert [{k: v for k, v in deterministic(m).items() if not k.startswith("diag/")} for m in on] == [deterministic(m) for m in off]
    for p, q in zip(on_trainer.policy.module.parameters(), off_trainer.policy.module.parameters()):
        assert torch.equal(p, q)
    assert all("loss/entropy" in m and "diag/effective_rank" in m for m in on)
    assert not any(k.startswith("diag/") for m in off for k in m)
    series = [m["diag/effective_rank"] for m in on]
    assert all(1.0 <= value <= 64 for value in series)  # at most a response's length (<= max_new_tokens)
    assert "diag/effective_rank_d1" not in on[0] and "diag/effective_rank_d2" not in on[1]
    assert on[1]["diag/effective_rank_d1"] == pytest.approx(series[1] - series[0])
    assert on[2]["diag/effective_rank_d2"] == pytest.approx(series[2] - 2 * series[1] + series[0])
    again = run(warmstart_tiny, steps=3)[1]
    assert [m["diag/effective_rank"] for m in again] == series  # deterministic


def test_the_step_value_is_the_mean_over_rows_with_two_or_more_response_tokens():
    hidden = torch.randn(3, 6, 4)
    mask = torch.tensor([[0, 1, 1, 1, 0, 0], [0, 0, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=torch.bool)
    log = EffectiveRankLog()
    value = log.metrics(hidden, mask, current_world(False))["diag/effective_rank"]
    ranks = response_effective_ranks(hidden, mask)
    assert value == pytest.approx(float(ranks[[0, 2]].mean()))
    assert log.metrics(None, None, current_world(False)) == {}  # no rows anywhere: nothing logged
    restored = EffectiveRankLog()
    restored.load_state(log.state())
    assert restored.metrics(hidden, mask, current_world(False)) == log.metrics(hidden, mask, current_world(False))


def first_step_rank(policy, task, **fields) -> float:
    return Trainer(RLConfig(**{**SMALL, "steps": 1, **fields}), task, policy).train()[0]["diag/effective_rank"]


@pytest.mark.parametrize("buckets", [1, 2])
def test_the_update_forward_gives_the_rank_of_a_forward_of_its_own(warmstart_tiny, buckets):
    """With one minibatch the hidden states come from the update's forward (in its row order, cut
    per length bucket); with two, from a no-grad forward before the update. The first step's batch
    and weights are the same either way, so its rank is too (up to float rounding)."""
    model, task, _ = warmstart_tiny
    shared = first_step_rank(TinyPolicy(copy.deepcopy(model)), task, minibatches=1, update_buckets=buckets)
    own = first_step_rank(TinyPolicy(copy.deepcopy(model)), task, minibatches=2)
    assert shared == pytest.approx(own, rel=1e-5)


def test_a_transformers_model_gives_the_same_rank_from_its_update_forward(warmstart_tiny):
    transformers = pytest.importorskip("transformers")
    from sandbox.model.policy import HFPolicy

    _, task, _ = warmstart_tiny
    tok = CharTokenizer()
    config = transformers.LlamaConfig(vocab_size=tok.vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config)
    ranks = [first_step_rank(HFPolicy(copy.deepcopy(model), tok), task, minibatches=m, max_new_tokens=24) for m in (1, 2)]
    assert ranks[0] == pytest.approx(ranks[1], rel=1e-5)
