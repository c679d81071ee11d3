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


def test_calibration_warm_start_continues_its_init_and_leaves_room_for_calibration():
    from dataclasses import replace
    from unittest import mock

    from sandbox.train.warmstart import load_warmstart

    model, task, state = load_warmstart("tiny-calib")
    assert task.confidence_line and state["init"] == PRESETS["tiny-calib"].init == "tiny-noisy"
    metrics = evaluate_accuracy(model, task, CharTokenizer(), 128)
    assert metrics["calib/parsed_fraction"] > 0.9  # the confidence line is learned
    assert 0.3 < metrics["eval/accuracy"] < 0.9 and metrics["calib/ece"] > 0.2  # room for calibration
    # the checkpoint's key follows its init's: a changed init preset is a different cache entry
    before = preset_path("tiny-calib")
    changed = replace(PRESETS["tiny-noisy"], sft=replace(PRESETS["tiny-noisy"].sft, steps=601))
    with mock.patch.dict(PRESETS, {"tiny-noisy": changed}):
        assert preset_path("tiny-calib") != before
