"""The cached warm-start model: trained once per cache, right part of the time, reusable."""

from sandbox.eval.accuracy import evaluate_accuracy
from sandbox.model.tokenizer import CharTokenizer
from sandbox.train import recipes
from sandbox.train.warmstart import PRESETS


def test_warmstart_is_cached_and_stable():
    path = recipes.build("tiny")
    assert path == recipes.path("tiny") == recipes.build("tiny")
    assert (path / "model.safetensors").exists()


def test_warm_start_model_is_right_part_of_the_time(warmstart_tiny):
    model, task, state = warmstart_tiny
    metrics = evaluate_accuracy(model, task, CharTokenizer(), 128)
    assert 0.02 < metrics["eval/accuracy"] < 1.0  # room for RL above it, but not at zero
    assert metrics["eval/parse_ok"] > 0.9  # the format is learned
    assert state["sft"] == recipes.RECIPES[recipes.in_mode("tiny")].config.to_dict()["sft"]  # 'tiny-fast' in fast mode


def test_calibration_warm_start_continues_its_init_and_leaves_room_for_calibration():
    from dataclasses import replace
    from unittest import mock

    # the copy the suite loads: the 'tiny-calib' recipe's demonstrations continued from 'tiny-fast', not 'tiny-noisy'
    model, task, state = recipes.load("tiny-calib-fast")
    assert PRESETS["tiny-calib"].init == "tiny-noisy"
    assert task.confidence_line and state["init"] == recipes.RECIPES["tiny-calib-fast"].config.init == "tiny-fast"
    metrics = evaluate_accuracy(model, task, CharTokenizer(), 128)
    assert metrics["calib/parsed_fraction"] > 0.9  # the confidence line is learned
    # room for calibration: greedy 0.539 on 256 problems at the build, sampled ECE 0.291 / 0.224 (two builds, test_learning_brier)
    assert 0.15 < metrics["eval/accuracy"] < 0.9 and metrics["calib/ece"] > 0.1
    # the checkpoint's key follows its init's: a changed init recipe is a different cache entry
    before = recipes.path("tiny-calib-fast")
    tiny = recipes.RECIPES["tiny-fast"]
    changed = replace(tiny, config=replace(tiny.config, sft=replace(tiny.config.sft, steps=601)))
    with mock.patch.dict(recipes.RECIPES, {"tiny-fast": changed}):
        assert recipes.path("tiny-calib-fast") != before
