"""TRL benchmark: bad settings are refused by name before TRL is imported; at tiny sizes both
trainers run the same number of steps on the same rows per step and the table prints. The speed
ratio itself is measured by `reward-sandbox bench trl`, never asserted in a test."""

import sys

import pytest

from sandbox.bench.trl import UNMATCHED, TrlBenchConfig, format_trl_bench, run_trl_bench
from sandbox.cli import main
from toy_envs.base import ConfigError


@pytest.mark.parametrize(
    "fields, name",
    [
        ({"problems_per_step": 0}, "problems_per_step"),
        ({"group_size": 1}, "group_size"),
        ({"max_new_tokens": 0}, "max_new_tokens"),
        ({"lr": 0.0}, "lr"),
        ({"lr": float("nan")}, "lr"),
        ({"steps": 0}, "steps"),
        ({"repeats": 0}, "repeats"),
        ({"threads": 0}, "threads"),
        ({"seed": -1}, "seed"),
        ({"preset": "nope"}, "preset"),
    ],
)
def test_bad_settings_are_refused_by_name_before_trl_is_imported(fields, name, monkeypatch):
    monkeypatch.setitem(sys.modules, "trl", None)  # importing TRL would now fail: the check must come first
    with pytest.raises(ConfigError, match=f"^{name}="):
        run_trl_bench(TrlBenchConfig(**fields), log=lambda *args, **kwargs: None)


def test_cli_refuses_a_bad_flag_by_name(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "trl", None)
    assert main(["bench", "trl", "--group-size", "1"]) == 2
    assert "--group-size=1 is not allowed" in capsys.readouterr().err


@pytest.mark.slow
def test_both_trainers_run_the_same_steps_on_the_same_rows(tmp_path):
    """Two timed steps (after a warm-up) of 2 problems x 2 rollouts each, one repeat: both sides
    report the same step count and rows per step, positive rates and token counts; about 10 s."""
    pytest.importorskip("trl")
    cfg = TrlBenchConfig(problems_per_step=2, group_size=2, max_new_tokens=24, steps=2, repeats=1)
    lines = []
    results = run_trl_bench(cfg, log=lambda *args, **kwargs: lines.append(args[0]))
    assert set(results) == {"sandbox", "trl", "ratio", "setup", "unmatched"}
    for name in ("sandbox", "trl"):
        side = results[name]
        assert side["steps"] == [2]
        assert side["rows_per_step"] == [4]
        assert len(side["repeats"][0]["rows_per_step"]) == 2
        assert side["steps_per_s"] > 0 and side["tokens_per_s"] > 0 and side["setup_s"] > 0
        assert 4 <= side["tokens_per_step"] <= 4 * cfg.max_new_tokens
    assert not results["trl"]["repeats"][0]["gradient_checkpointing"]
    assert set(results["sandbox"]["parts_s_per_step"]) == {"sample", "reward", "update"}
    assert results["ratio"]["steps_per_s"] == pytest.approx(results["sandbox"]["steps_per_s"] / results["trl"]["steps_per_s"])
    assert results["setup"]["rows_per_step"] == 4 and results["setup"]["threads_after"] == 1
    assert results["unmatched"] == list(UNMATCHED)
    assert len(lines) == 2 and lines[0].startswith("repeat 1/1 sandbox") and lines[1].startswith("repeat 1/1 trl")
    table = format_trl_bench(results, cfg)
    assert "steps/s" in table and "generated tok/s" in table and "not matched:" in table
