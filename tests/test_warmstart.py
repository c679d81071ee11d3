"""The cached warm-start model: trained once per cache, right part of the time, reusable."""

from sandbox.eval.accuracy import evaluate_accuracy
from sandbox.model.tokenizer import CharTokenizer
from sandbox.train.warmstart import PRESETS, preset_path, warmstart


def test_warmstart_is_cached_and_stable():
    path = warmstart("tiny")
    assert path == preset_path("tiny") == warmstart("tiny")
    assert (path / "model.safetensors").exists()


def test_warm_start_model_is_right_part_of_the_time(warmstart_tiny):
    model, task, state = warmstart_tiny
    metrics = evaluate_accuracy(model, task, CharTokenizer(), 128)
    assert 0.02 < metrics["eval/accuracy"] < 1.0  # room for RL above it, but not at zero
    assert metrics["eval/parse_ok"] > 0.9  # the format is learned
    assert state["sft"] == PRESETS["tiny"].to_dict()["sft"]
