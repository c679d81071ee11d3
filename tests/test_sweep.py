"""RL sweeps: a grid of ordinary runs, reused when rerun, and a table per setting."""

import json

import pytest

from sandbox.experiments.sweep import SweepConfig, continued_sft_config, format_sweep, parse_assignments, plan, run_sweep, summarize
from sandbox.train.rl import RLConfig
from toy_envs.base import ConfigError

BASE = "steps=2 problems_per_step=4 group_size=2 eval_problems=16 pass_problems=0 drift_problems=16 warmup_steps=0"


def test_grid_is_typed_crossed_and_screened_seed_by_seed():
    assert parse_assignments("lr=1e-5,3e-5 minibatches=1,2", "grid", single=False) == {"lr": [1e-5, 3e-5], "minibatches": [1, 2]}
    cfg = SweepConfig(out="x", variants="outcome-grpo,random", seeds="0,1", grid="lr=1e-5,3e-5 minibatches=1,2", base="steps=3")
    runs = plan(cfg)
    assert len(runs) == 2 * 4 * 2 and all(rl.steps == 3 for rl, _ in runs)
    assert [rl.seed for rl, _ in runs[:8]] == [0] * 8  # every setting's first seed comes first
    assert str(runs[0][1]) == "x/lr=1e-05,minibatches=1/outcome-grpo/seed-0"


@pytest.mark.parametrize("field, value", [("grid", "lr=fast"), ("grid", "nope=1"), ("base", "lr="), ("seeds", "0,a"),
                                          ("variants", "nope"), ("grid", "minibatches=0"), ("out", ""), ("metrics", "accuracy")])
def test_bad_sweep_config_is_one_clear_error_naming_the_field(field, value):
    fields = {"out": "x", field: value}
    with pytest.raises(ConfigError, match=field if field not in ("grid", "variants") else f"{field}|minibatches|variant"):
        SweepConfig(**fields).validate()


def test_continued_sft_takes_one_step_per_rl_optimizer_step_on_the_same_problems():
    sft = continued_sft_config(RLConfig(steps=40, problems_per_step=32, minibatches=2, lr=2e-5, warmup_steps=10))
    assert (sft.steps, sft.batch_size, sft.lr, sft.warmup_steps, sft.min_lr_ratio) == (80, 16, 2e-5, 20, 1.0)


def test_sweep_runs_reuses_finished_runs_and_sft_tracks_gold_sft(tmp_path, warmstart_tiny):
    # Adam's ε at SFT's 1e-8, so that the two paths differ only in β2 (SFT's 0.98 against RL's 0.99)
    cfg = SweepConfig(out=str(tmp_path), variants="random,sft,gold-sft", seeds="0", grid="lr=1e-3", base=BASE + " adam_eps=1e-8",
                      metrics="eval/process_accuracy")
    results = run_sweep(cfg)
    rows = {row["variant"]: row for row in results["rows"]}
    assert set(rows) == {"random", "sft", "gold-sft"}
    start = json.loads((tmp_path / "start.json").read_text())["tiny:16:0"]
    for row in rows.values():
        assert row["start"] == start["eval/accuracy"]
        process = row["metrics"]["eval/process_accuracy"]
        assert process["start"] == start["eval/process_accuracy"] and 0 <= process["end"][0] <= 1
        assert 0 <= row["end"][0] <= 1 and row["flipped"][0] > 0  # lr 1e-3 moves greedy answers
    # the same update through two code paths
    sft, gold = rows["sft"]["gold_logp_change"][0], rows["gold-sft"]["gold_logp_change"][0]
    assert abs(sft - gold) <= 0.25 * abs(sft), (sft, gold)
    table = format_sweep(results)
    assert table.count("| lr=0.001 |") == 3 and summarize(rows["random"])["n"] == 1
    assert "eval/process_accuracy |" in table.splitlines()[0] and table.count(" → ") == 3
    finished = sorted(p.stat().st_mtime_ns for p in tmp_path.rglob("metrics.jsonl"))
    assert run_sweep(cfg) == results  # nothing reran
    assert sorted(p.stat().st_mtime_ns for p in tmp_path.rglob("metrics.jsonl")) == finished
