"""Experiments as specs (``sandbox.experiments``): the grid's expansion, one clear error per bad
spec, variant overrides, resume of an interrupted grid, shards merged by the directory, and the
report's numbers against a hand computation."""

from __future__ import annotations

import json
import math
import os
import signal
import tomllib
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.experiments.report import collect, format_report, plot_report
from sandbox.experiments.runner import parse_shard, prepare, run_experiment, shard_of
from sandbox.experiments.spec import ExperimentSpec
from sandbox.experiments.variant_overrides import derive_variant, variant_from_dict, variant_to_dict
from sandbox.experiments.stats import mean_ci, t_quantile
from sandbox.rewards.registry import VARIANTS, get_variant
from toy_envs.base import ConfigError

SPECS = sorted((Path(__file__).resolve().parents[1] / "sandbox/experiments/specs").glob("*.toml"))


def spec_dict(**changes) -> dict:
    base = {"name": "t", "init": "tiny", "seeds": [0, 1], "budget": {"steps": 2},
            "rl": {"base": {"problems_per_step": 4, "group_size": 2, "warmup_steps": 0, "checkpoint_every": 1}},
            "evaluation": {"metrics": ["eval/accuracy", "eval/process_accuracy"], "eval_problems": 16, "eval_every": 1,
                           "pass_problems": 0, "drift_problems": 8, "drift_every": 2},
            "variants": [{"variant": "outcome-grpo"}, {"variant": "random"}]}
    return {**base, **changes}


# ---- expansion --------------------------------------------------------------------------------
GRID_VALUES = {"lr": [1e-5, 2e-5, 3e-5], "problems_per_step": [4, 8, 16], "minibatches": [1, 2], "temperature": [0.7, 1.0]}


@settings(max_examples=25)
@given(grid=st.dictionaries(st.sampled_from(sorted(GRID_VALUES)), st.integers(1, 3), max_size=3),
       variants=st.lists(st.sampled_from(["outcome-grpo", "random", "dapo", "sft"]), min_size=1, max_size=3, unique=True),
       seeds=st.lists(st.integers(0, 9), min_size=1, max_size=3, unique=True), shards=st.integers(1, 5))
def test_expansion_is_the_cartesian_product_with_unique_names_and_shards_partition_it(grid, variants, seeds, shards):
    chosen = {k: GRID_VALUES[k][: min(n, len(GRID_VALUES[k]))] for k, n in grid.items()}
    spec = ExperimentSpec.from_dict(spec_dict(rl={"base": {"group_size": 2}, "grid": chosen}, seeds=seeds,
                                              variants=[{"variant": v} for v in variants]))
    runs = spec.validate()
    expected = math.prod(len(v) for v in chosen.values()) * len(variants) * len(seeds)
    assert len(runs) == expected and len({r.id for r in runs}) == expected
    combos = {(r.setting, r.label, r.seed) for r in runs}
    assert len(combos) == expected
    for r in runs:  # every run carries its setting's values
        for key, values in chosen.items():
            assert r.rl[key] in values and f"{key}=" in r.setting
        assert r.rl["steps"] == 2 and r.rl["seed"] == r.seed
    parts = [shard_of(runs, i, shards) for i in range(shards)]
    assert sorted(r.id for part in parts for r in part) == sorted(r.id for r in runs)
    assert all(abs(len(p) - len(q)) <= 1 for p in parts for q in parts)


def test_shard_text_is_checked():
    assert parse_shard("2/4") == (2, 4)
    for bad in ("4/4", "1", "a/b", "-1/2", "0/0"):
        with pytest.raises(ConfigError, match="shard"):
            parse_shard(bad)


# ---- overrides --------------------------------------------------------------------------------
def test_an_override_makes_the_catalog_ablation():
    """dro with dro_r3.weighting = uniform is the catalog's dro-uniform (an independent entry)."""
    derived = derive_variant(get_variant("dro"), "dro-w-uniform", {"dro_r3": {"weighting": "uniform"}}, "params")
    catalog = get_variant("dro-uniform")
    same = lambda v: {k: val for k, val in variant_to_dict(v).items() if k not in ("name", "description")}  # noqa: E731
    assert same(derived) == same(catalog) and derived.name == "dro-w-uniform"
    assert variant_from_dict(variant_to_dict(derived)) == derived
    gated = derive_variant(get_variant("dapo"), "dapo-x", {"loss": {"clip_high": 0.3}, "overlong": {"weight": 1.0}}, "params")
    assert gated.loss["clip_high"] == 0.3 and gated.sources[1][:2] == ("overlong", 1.0) and "dapo-x" not in VARIANTS


def test_a_derived_variant_validates_and_leaves_the_catalog_alone():
    spec = ExperimentSpec.from_dict(spec_dict(variants=[{"variant": "dro", "label": "dro-tau", "params": {"dro_r3": {"temperature": 0.3}},
                                                         "rl": {"reference_sync_every": 4}}]))
    runs = spec.validate()
    assert runs[0].rl["variant"] == "dro-tau" and runs[0].rl["reference_sync_every"] == 4
    assert runs[0].derived_variant().sources[0][2]["temperature"] == 0.3 and "dro-tau" not in VARIANTS


# ---- bad specs --------------------------------------------------------------------------------
BAD = [
    ({"colour": 1}, "spec"),
    ({"name": ""}, "name"),
    ({"seeds": [0, 0]}, "seeds"),
    ({"seeds": "0,1"}, "seeds"),
    ({"budget": {}}, "budget.steps"),
    ({"budget": {"steps": 2, "tokens": 5}}, "budget"),
    ({"budget": {"steps": 2, "generated_tokens": -1}}, "budget.generated_tokens"),
    ({"rl": {"base": {"lrr": 1e-5}}}, "rl.base.lrr"),
    ({"rl": {"base": {"lr": "fast"}}}, "rl.base.lr"),
    ({"rl": {"base": {"steps": 3}}}, "rl.base.steps"),
    ({"rl": {"grid": {"lr": 1e-5}}}, "rl.grid.lr"),
    ({"rl": {"grid": {"minibatches": [0]}}}, "minibatches"),
    ({"rl": {"base": {"adam_betas": "0.9,0.999"}}}, "rl.base.adam_betas"),
    ({"rl": {"base": {"adam_betas": [0.9]}}}, "rl.base.adam_betas"),
    ({"rl": {"settings": [{"adam_betas": [0.9, "x"]}]}}, "rl.settings\\[0\\].adam_betas"),
    ({"rl": {"base": {"adam_betas": [0.9, 1.0]}}}, "adam_betas"),
    ({"evaluation": {"metrics": ["accuracy"]}}, "evaluation.metrics"),
    ({"evaluation": {"eval_problem": 3}}, "evaluation"),
    ({"evaluation": {"targets": {"accuracy": 0.5}}}, "evaluation.targets"),
    ({"evaluation": {"targets": {"eval/accuracy": "high"}}}, "evaluation.targets"),
    ({"variants": [{"variant": "nope"}]}, "variants\\[0\\].variant"),
    ({"variants": [{"variant": "dro", "label": "x", "params": {"dro_r4": {"weighting": "uniform"}}}]}, "variants\\[0\\].params.dro_r4"),
    ({"variants": [{"variant": "dro", "label": "x", "params": {"dro_r3": {"weights": "uniform"}}}]}, "variants\\[0\\].params.dro_r3.weights"),
    ({"variants": [{"variant": "dro", "label": "x", "params": {"dro_r3": {"temperature": "hot"}}}]}, "variants\\[0\\].params.dro_r3.temperature"),
    ({"variants": [{"variant": "dro", "params": {"dro_r3": {"weighting": "uniform"}}}]}, "variants\\[0\\].label"),
    ({"variants": [{"variant": "dro", "label": "dro-uniform", "params": {"dro_r3": {"weighting": "uniform"}}}]}, "variants\\[0\\].label"),
    ({"variants": [{"variant": "dro", "label": "x", "params": {"loss": {"kl": 0.1}}}]}, "variants\\[0\\].params.loss.kl"),
    ({"variants": [{"variant": "sft", "params": {"grpo": {"eps": 0.1}}}]}, "variants\\[0\\].params"),
    ({"variants": [{"variant": "random"}, {"variant": "random"}]}, "variants"),
    ({"variants": [{"variant": "random", "rl": {"seed": 3}}]}, "variants\\[0\\].rl.seed"),
    ({"baseline": "dapo"}, "baseline"),
    ({"variants": [{"variant": "random", "after": "outcome-grpo"}, {"variant": "outcome-grpo"}]}, "variants\\[0\\].after"),
    ({"variants": [{"variant": "random", "after": "random"}]}, "variants\\[0\\].after"),
    ({"variants": [{"variant": "random"}, {"variant": "sft", "after": "random"}]}, "variants\\[1\\].after"),
    ({"init": "no-such-warm-start"}, "init"),
    ({"task": {"n_stepz": 4}}, "task.n_stepz"),
    ({"task": {"n_steps": 0}}, "n_steps"),
    ({"final": {"lenghts": [2]}}, "final"),
    ({"final": {"lengths": [0, 2]}}, "final.lengths"),
    ({"final": {"lengths": [2, 2]}}, "final.lengths"),
    ({"final": {"lengths": [13]}}, "final.lengths"),
    ({"final": {"lengths": [2], "problems": 0}}, "final.problems"),
    ({"final": {"rubric": "yes"}}, "final.rubric"),
    ({"final": [2, 3]}, "final"),
    ({"final": {"samples": 4}}, "final.samples"),
    ({"final": {"temperature": -1.0}}, "final.temperature"),
    ({"final": {"pass_k": -1}}, "final.pass_k"),
    ({"final": {"pass_k": 8, "pass_problems": 0}}, "final.pass_problems"),
    ({"final": {"pass_k": 8, "pass_temperature": 0}}, "final.pass_temperature"),
]


@pytest.mark.parametrize("changes, field", BAD)
def test_a_bad_spec_is_one_clear_error_naming_the_field(changes, field):
    with pytest.raises(ConfigError, match=field):
        ExperimentSpec.from_dict(spec_dict(**changes)).validate()


def test_a_tuple_field_is_a_toml_array_and_reads_back_from_the_plan():
    """``adam_betas = [0.9, 1]`` is the tuple (0.9, 1.0) in the run's RLConfig, in the setting's name
    as its flag writes it, and again after the run went through plan.json (where it is a list)."""
    from sandbox.experiments.spec import Run

    runs = ExperimentSpec.from_dict(spec_dict(rl={"base": {"group_size": 2}, "settings": [{"adam_betas": [0.9, 0.999]}]})).validate()
    assert {r.setting for r in runs} == {"adam_betas=0.9,0.999"}
    for run in runs:
        assert run.rl_config().adam_betas == (0.9, 0.999)
        again = Run(**json.loads(json.dumps(vars(run))))
        assert again.rl["adam_betas"] == [0.9, 0.999] and again.rl_config() == run.rl_config()


@pytest.mark.parametrize("path", SPECS, ids=[p.name for p in SPECS])
def test_every_checked_in_spec_validates(path):
    from sandbox.experiments.spec import load_spec

    spec = load_spec(path)
    assert spec.validate() and spec.name


# ---- the report's numbers ----------------------------------------------------------------------
def test_t_quantiles_match_the_table():
    for df, value in [(1, 12.7062047), (2, 4.3026527), (4, 2.7764451), (9, 2.2621572), (30, 2.0422725)]:
        assert abs(t_quantile(0.975, df) - value) < 1e-6
    assert abs(t_quantile(0.975, 1e6) - 1.959966) < 1e-5 and t_quantile(0.025, 4) == -t_quantile(0.975, 4)


def write_run(out: Path, run_id: str, history: list[dict]) -> None:
    path = out / run_id
    path.mkdir(parents=True)
    (path / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in history))
    (path / "experiment.json").write_text(json.dumps({"id": run_id, "wall_s": 1.0, "models": {}}))


def test_table_numbers_equal_a_hand_computation(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text('name = "hand"\nseeds = [0, 1, 2]\nbaseline = "outcome-grpo"\n[budget]\nsteps = 2\n'
                    '[evaluation]\nmetrics = ["eval/accuracy"]\ntargets = { "eval/accuracy" = 0.55 }\n[[variants]]\nvariant = "outcome-grpo"\n[[variants]]\nvariant = "random"\n')
    prepare(spec, tmp_path / "x")
    ends = {"outcome-grpo": [0.60, 0.64, 0.62], "random": [0.50, 0.58, 0.51]}
    for label, values in ends.items():
        for seed, end in enumerate(values):
            write_run(tmp_path / "x", f"base/{label}/seed-{seed}",
                      [{"step": -1, "eval/accuracy": 0.5}, {"step": 0, "cost/generated_tokens": 100 + seed, "time/step_s": 2.0},
                       {"step": 1, "eval/accuracy": end, "cost/generated_tokens": 200 + seed, "cost/train_flops": 1e9, "time/step_s": 3.0}])
    data = collect(tmp_path / "x")
    t2 = 4.302652729749411  # t(0.975, 2 degrees of freedom), from the table
    row = data["metrics"]["eval/accuracy"]["base"]["random"]
    mean = (0.50 + 0.58 + 0.51) / 3
    sd = math.sqrt(((0.50 - mean) ** 2 + (0.58 - mean) ** 2 + (0.51 - mean) ** 2) / 2)
    assert row["end"]["mean"] == pytest.approx(mean) and row["end"]["ci"] == pytest.approx([mean - t2 * sd / 3**0.5, mean + t2 * sd / 3**0.5])
    assert row["delta"]["mean"] == pytest.approx(mean - 0.5)
    diffs = [-0.10, -0.06, -0.11]
    dm = sum(diffs) / 3
    dsd = math.sqrt(sum((d - dm) ** 2 for d in diffs) / 2)
    assert row["paired"]["mean"] == pytest.approx(dm) and row["paired"]["half_width"] == pytest.approx(t2 * dsd / 3**0.5)
    assert row["paired"]["seeds"] == [0, 1, 2] and data["metrics"]["eval/accuracy"]["base"]["outcome-grpo"]["paired"] is None
    assert data["cost"]["base"]["random"]["cost/generated_tokens"] == pytest.approx(201)
    assert data["cost"]["base"]["random"]["cost/aux_forward_tokens"] is None and data["timing"]["base"]["random"]["wall_s"] == 5.0
    text = format_report(data)
    assert f"{mean:.3f} [{mean - t2 * sd / 3**0.5:.3f}, {mean + t2 * sd / 3**0.5:.3f}]" in text and "| n/a |" in text
    assert mean_ci([1.0])["ci"] is None
    to_target = data["targets"]["eval/accuracy >= 0.55"]["base"]
    assert to_target["random"] == {"reached": 1, "n": 3, "step": 2, "cost/generated_tokens": 201, "cost/train_flops": 1e9}
    assert to_target["outcome-grpo"]["reached"] == 3 and to_target["outcome-grpo"]["cost/generated_tokens"] == pytest.approx(201)
    assert data["timing"]["base"]["random"]["to_target_wall_s"]["eval/accuracy >= 0.55"] == 5.0 and "| 1 of 3 | 2.0 | 201 |" in text
    start, end = data["curves"]["eval/accuracy"]["base"]["random"]  # the warm start's evaluation, then step 1's
    assert start == {"n": 3, "step": 0, "cost/generated_tokens": 0, "cost/train_flops": 0.0, "mean": 0.5, "min": 0.5, "max": 0.5}
    assert end == {"n": 3, "step": 2, "cost/generated_tokens": pytest.approx(201), "cost/train_flops": 1e9, "mean": pytest.approx(mean),
                   "min": 0.50, "max": 0.58}
    assert data["timing"]["base"]["random"]["curve_wall_s"]["eval/accuracy"] == [0.0, 5.0]


# ---- running: resume, shards, another spec ------------------------------------------------------
def write_spec(path: Path, **changes) -> Path:
    data = spec_dict(**changes)
    lines = []

    def emit(prefix, table):
        scalars = {k: v for k, v in table.items() if not isinstance(v, dict) and k != "variants"}
        if prefix:
            lines.append(f"[{prefix}]")
        lines.extend(f"{k} = {json.dumps(v)}" for k, v in scalars.items())
        for k, v in table.items():
            if isinstance(v, dict):
                emit(f"{prefix}.{k}" if prefix else k, v)

    emit("", {k: v for k, v in data.items()})
    for v in data["variants"]:
        lines.append("[[variants]]")
        lines.extend(f"{k} = {json.dumps(val)}" for k, val in v.items())
    path.write_text("\n".join(lines) + "\n")
    return path


def without_timing(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "timing"}


def deterministic_metrics(out: Path) -> dict:
    from sandbox.train.rl import deterministic

    return {str(p.parent.relative_to(out)): [deterministic(json.loads(line)) for line in p.read_text().splitlines()]
            for p in sorted(out.rglob("metrics.jsonl"))}


@pytest.fixture(scope="module")
def straight(tmp_path_factory, warmstart_tiny):
    """The grid run uninterrupted, in this process."""
    root = tmp_path_factory.mktemp("straight")
    spec = write_spec(root / "spec.toml", seeds=[0])
    assert run_experiment(spec, root / "out", workers=0, progress=False) == 0
    return spec, root / "out"


@pytest.mark.slow
def test_an_interrupted_grid_resumes_to_the_uninterrupted_result(straight, tmp_path, monkeypatch):
    from sandbox.train.rl import Trainer

    spec, reference = straight
    train_step = Trainer.train_step

    def interrupted(self):  # a Ctrl-C during the second run's first step
        if self.cfg.variant == "random" and self.step == 0:
            os.kill(os.getpid(), signal.SIGINT)
        return train_step(self)

    monkeypatch.setattr(Trainer, "train_step", interrupted)
    assert run_experiment(spec, tmp_path / "out", workers=0, progress=False) == 130
    first = tmp_path / "out/base/outcome-grpo/seed-0"
    assert (first / "experiment.json").exists() and not (tmp_path / "out/base/random/seed-0/experiment.json").exists()
    assert [p.name for p in (tmp_path / "out/base/random/seed-0/checkpoints").glob("step-*")] == ["step-000001"]
    monkeypatch.setattr(Trainer, "train_step", train_step)
    stamp = (first / "metrics.jsonl").stat().st_mtime_ns
    assert run_experiment(spec, tmp_path / "out", workers=0, progress=False) == 0
    assert (first / "metrics.jsonl").stat().st_mtime_ns == stamp  # the finished run was skipped
    assert deterministic_metrics(tmp_path / "out") == deterministic_metrics(reference)
    assert without_timing(collect(tmp_path / "out")) == without_timing(collect(reference))


def test_a_plan_written_before_a_run_field_existed_is_taken_over_unchanged(tmp_path):
    spec = write_spec(tmp_path / "spec.toml")
    prepare(spec, tmp_path / "out")
    plan = json.loads((tmp_path / "out/plan.json").read_text())
    for run in plan["runs"]:
        del run["after"]  # as plan.json files made before pipelines were written
    (tmp_path / "out/plan.json").write_text(json.dumps(plan))
    prepare(spec, tmp_path / "out")  # no conflict: a missing field is its default


@pytest.mark.slow
def test_a_pipeline_stage_starts_from_the_last_checkpoint_of_the_stage_before_it(tmp_path, warmstart_tiny):
    from sandbox.model.checkpoint import load_checkpoint
    from sandbox.train.launch import load_init

    variants = [{"variant": "random"}, {"variant": "outcome-grpo", "label": "then-outcome", "after": "random"}]
    spec = write_spec(tmp_path / "spec.toml", seeds=[0], variants=variants, budget={"steps": 1})
    runs = ExperimentSpec.from_dict(spec_dict(seeds=[0], variants=variants)).validate()
    assert [(r.id, r.after) for r in runs] == [("base/random/seed-0", ""), ("base/then-outcome/seed-0", "base/random/seed-0")]
    # a shard without the first stage cannot start the second: one clear message, nothing trained
    assert run_experiment(spec, tmp_path / "out", workers=2, shard="1/2", progress=False) == 1
    assert not (tmp_path / "out/base/then-outcome/seed-0").exists()
    assert run_experiment(spec, tmp_path / "out", workers=2, progress=False) == 0
    first = load_checkpoint(tmp_path / "out/base/random/seed-0/checkpoints/step-000001")[0]
    second = json.loads((tmp_path / "out/base/then-outcome/seed-0/config.json").read_text())["rl"]["init"]
    assert second == str(tmp_path / "out/base/random/seed-0/checkpoints/step-000001")
    start = load_init(second)[0]
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), start.state_dict().values()))
    assert not all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), load_init("tiny")[0].state_dict().values()))


@pytest.mark.slow
def test_shards_merged_by_the_directory_equal_a_single_run(straight, tmp_path):
    spec, reference = straight
    assert run_experiment(spec, tmp_path / "out", workers=0, shard="1/2", progress=False) == 0
    partial = collect(tmp_path / "out")
    assert partial["runs_finished"] == 1 and list(partial["metrics"]["eval/accuracy"]["base"]) == ["random"]
    assert run_experiment(spec, tmp_path / "out", workers=1, shard="0/2", progress=False) == 0  # a child process
    assert json.dumps(without_timing(collect(tmp_path / "out")), sort_keys=True) == json.dumps(without_timing(collect(reference)), sort_keys=True)
    assert deterministic_metrics(tmp_path / "out") == deterministic_metrics(reference)
    plots = plot_report(tmp_path / "out", tmp_path / "plots")
    assert [p.name for p in plots] == ["eval_accuracy.png", "eval_process_accuracy.png"] and all(p.stat().st_size > 0 for p in plots)


@pytest.mark.slow
def test_an_archive_reports_as_its_directory_and_carries_a_grid_to_another_directory(straight, tmp_path):
    """``experiment archive``: no weights, the same report; a grid half run here, archived, copied
    elsewhere and finished there, archived again into the same archive, reports as the grid run at
    once; archiving never changes a file the archive holds."""
    import shutil

    from sandbox.experiments.archive import archive_experiment

    spec, reference = straight
    whole = tmp_path / "whole"
    copied, kept = archive_experiment(reference, whole)
    assert copied > 0 and kept == 0 and archive_experiment(reference, whole) == (0, copied)
    assert not list(whole.rglob("*.safetensors")) and not list(whole.rglob("tb")) and not list(whole.rglob("checkpoints"))
    assert collect(whole) == collect(reference)
    assert run_experiment(spec, shutil.copytree(whole, tmp_path / "again"), workers=0, progress=False) == 0  # nothing to train
    assert run_experiment(spec, tmp_path / "half", workers=0, shard="0/2", progress=False) == 0
    carried = tmp_path / "carried"
    archive_experiment(tmp_path / "half", carried)
    assert collect(carried)["runs_finished"] == 1
    elsewhere = shutil.copytree(carried, tmp_path / "elsewhere")
    assert run_experiment(spec, elsewhere, workers=0, progress=False) == 0  # trains only the missing run
    assert (elsewhere / "base/outcome-grpo/seed-0/metrics.jsonl").read_bytes() == (carried / "base/outcome-grpo/seed-0/metrics.jsonl").read_bytes()
    archive_experiment(elsewhere, carried)
    assert without_timing(collect(carried)) == without_timing(collect(reference))
    metrics = elsewhere / "base/random/seed-0/metrics.jsonl"
    metrics.write_text(metrics.read_text() + "\n")
    before = sorted((str(p), p.stat().st_mtime_ns) for p in carried.rglob("*"))
    with pytest.raises(ConfigError, match=r"dest=.*these differ: \['base/random/seed-0/metrics.jsonl'\]"):
        archive_experiment(elsewhere, carried)
    assert sorted((str(p), p.stat().st_mtime_ns) for p in carried.rglob("*")) == before


@pytest.mark.slow  # runs the straight grid end to end (with it, 3.8 s and 4.8 s of CPU)
def test_a_spec_that_would_change_a_planned_run_is_refused(straight, tmp_path):
    spec, out = straight
    before = sorted(str(p) for p in out.rglob("*"))
    changed = write_spec(tmp_path / "other.toml", seeds=[0], rl={"base": {"problems_per_step": 4, "group_size": 2, "warmup_steps": 0,
                                                                            "checkpoint_every": 1, "lr": 3e-5}})
    with pytest.raises(ConfigError, match=r"another spec.*run base/outcome-grpo/seed-0 would change \(rl.lr\)"):
        run_experiment(changed, out, workers=0, progress=False)
    fewer = write_spec(tmp_path / "fewer.toml", seeds=[0], variants=[{"variant": "outcome-grpo"}])
    with pytest.raises(ConfigError, match="run base/random/seed-0 is not in this spec"):
        run_experiment(fewer, out, workers=0, progress=False)
    renamed = write_spec(tmp_path / "renamed.toml", seeds=[0], name="u")
    with pytest.raises(ConfigError, match="its name is 't'"):
        run_experiment(renamed, out, workers=0, progress=False)
    assert sorted(str(p) for p in out.rglob("*")) == before


def hand_final(model, task, lengths, problems) -> dict:
    """The final metrics by hand: greedy text per problem, the task's verdicts, the rubric's format
    checks written out (every line parses, an answer line, no letter)."""
    import re

    from sandbox.eval.accuracy import default_max_new_tokens, greedy_responses
    from sandbox.model.tokenizer import CharTokenizer

    out = {}
    for length in lengths:
        at = task.at_length(length)
        ps = [at.problem(i, split="eval") for i in range(problems)]
        verdicts = [at.score(p, t) for p, t in zip(ps, greedy_responses(model, at, ps, CharTokenizer(), default_max_new_tokens(at)))]
        out[f"final/accuracy@len{length}"] = sum(v.correct for v in verdicts) / problems
        out[f"final/process_accuracy@len{length}"] = sum(v.correct and v.first_error is None for v in verdicts) / problems
    ps = [task.problem(i, split="eval") for i in range(problems)]
    texts = greedy_responses(model, task, ps, CharTokenizer(), default_max_new_tokens(task))
    wf = [task.format_rubric(t).well_formed and task.format_rubric(t).answer_present and not re.search("[A-Za-z]", t) for t in texts]
    right = [task.score(p, t).correct for p, t in zip(ps, texts)]
    out["final/hack_rate"] = sum(w and not r for w, r in zip(wf, right)) / problems
    out["final/p_well_formed"] = sum(wf) / problems
    out["final/p_correct_given_wf"] = sum(w and r for w, r in zip(wf, right)) / sum(wf) if any(wf) else None
    return out


def test_the_sampled_rubric_numbers_are_keyed_alike_for_every_model_and_consistent(warmstart_tiny):
    """Sampled at a temperature, the rubric's rows are ``samples`` per problem with fixed keys: the
    same model gives the same numbers twice, and hack rate = P(wf) · (1 − P(correct | wf))."""
    import toy_envs
    from sandbox.experiments.final_eval import FinalSettings, evaluate_final
    from sandbox.train.launch import load_init

    model, name, fields = load_init("tiny")
    task = toy_envs.make_task(name, **fields)
    settings = FinalSettings(problems=6, temperature=1.5, samples=3)
    first, again = evaluate_final(model, task, settings), evaluate_final(model, task, settings)
    assert first == again and set(first) == {"final/hack_rate", "final/p_well_formed", "final/p_correct_given_wf"}
    assert all(abs(first[m] * 18 - round(first[m] * 18)) < 1e-9 for m in ("final/hack_rate", "final/p_well_formed"))
    if first["final/p_correct_given_wf"] is not None:
        assert first["final/hack_rate"] == pytest.approx(first["final/p_well_formed"] * (1 - first["final/p_correct_given_wf"]))


def test_the_final_pass_curve_is_the_unbiased_estimate_over_the_same_keyed_samples(warmstart_tiny):
    """``[final] pass_k``: pass@k and process pass@k for k = 1, 2, 4, computed here from the
    samples' verdicts by the binomial definition 1 − C(n−c, k)/C(n, k) (math.comb, not the
    product form the library uses); nondecreasing in k, process never above plain."""
    import math

    import toy_envs
    from sandbox.eval.accuracy import default_max_new_tokens
    from sandbox.experiments.final_eval import FinalSettings, evaluate_final, pass_metric_names
    from sandbox.model.policy import TinyPolicy
    from sandbox.model.sampler import SamplingConfig
    from sandbox.rng import sample_stream
    from sandbox.rollout.group_sampler import sample_groups
    from sandbox.train.launch import load_init

    model, name, fields = load_init("tiny")
    task = toy_envs.make_task(name, **fields)
    out = evaluate_final(model, task, FinalSettings(rubric=False, pass_k=4, pass_problems=6, pass_temperature=1.5))
    assert list(out) == pass_metric_names(4) == [f"final/{h}@{k}" for h in ("pass", "process_pass") for k in (1, 2, 4)]
    sampling = SamplingConfig(max_new_tokens=default_max_new_tokens(task), temperature=1.5)
    rollouts = sample_groups(TinyPolicy(model), task, list(range(6)), 4, sampling, 0, sample_stream("pass@k"), split="eval")
    for head, counted in (("pass", lambda v: v.correct), ("process_pass", lambda v: v.correct and v.first_error is None)):
        counts = [sum(counted(rollouts.verdicts[i * 4 + j]) for j in range(4)) for i in range(6)]
        for k in (1, 2, 4):
            assert out[f"final/{head}@{k}"] == pytest.approx(sum(1 - math.comb(4 - c, k) / math.comb(4, k) for c in counts) / 6)
    assert out["final/pass@1"] <= out["final/pass@2"] <= out["final/pass@4"]
    assert all(out[f"final/process_pass@{k}"] <= out[f"final/pass@{k}"] for k in (1, 2, 4))


@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=1, max_size=20))
def test_plateau_solved_is_the_share_of_never_solved_problems_solved_at_least_once(pairs):
    from sandbox.experiments.final_eval import plateau_metrics, plateau_solved

    init, run = [a for a, _ in pairs], [b for _, b in pairs]
    never = [b for a, b in pairs if a == 0]
    expected = sum(1 for b in never if b) / len(never) if never else None
    assert plateau_solved(init, run) == expected
    record = lambda counts: {"pass_counts": {"correct": counts, "process": [0] * len(counts)}}  # noqa: E731
    metrics = plateau_metrics(record(init), record(run))
    assert metrics.get("final/plateau_solved") == expected and metrics.get("final/process_plateau_solved") == 0.0
    assert plateau_metrics({}, record(run)) == {} and plateau_solved(init, init) in (0.0, None)


def test_a_final_record_without_a_later_setting_counts_it_at_its_default(tmp_path):
    from sandbox.experiments.final_eval import FinalSettings, is_current

    path = tmp_path / "final.json"
    path.write_text(json.dumps({"settings": {"lengths": [2, 4], "problems": 256, "rubric": True}, "metrics": {}}))
    assert is_current(path, FinalSettings((2, 4), 256, True)) and is_current(tmp_path / "none.json", None)
    assert not is_current(path, FinalSettings((2, 4), 256, True, temperature=1.5, samples=4))
    assert not is_current(path, FinalSettings((2,), 256, True)) and not is_current(tmp_path / "none.json", FinalSettings())


@pytest.mark.slow  # runs the straight grid end to end (with it, 3.8 s and 4.8 s of CPU)
def test_a_grown_spec_adds_runs_and_a_final_evaluation_without_retraining(straight, tmp_path):
    """The finished grid, its spec grown by a variant (the sft control) and a ``[final]`` table:
    the finished runs are not trained again, every run and the warm start get their final
    evaluation (equal to a hand computation from the last checkpoint), the earlier spec text is
    kept, the report tabulates final/* with Δ from the warm start; a changed ``[final]`` evaluates again."""
    import shutil

    import toy_envs
    from sandbox.model.checkpoint import load_checkpoint
    from sandbox.train.launch import load_init
    from sandbox.train.run_dir import list_checkpoints

    _, reference = straight
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    stamp = (out / "base/outcome-grpo/seed-0/metrics.jsonl").stat().st_mtime_ns
    final = {"lengths": [1, 2], "problems": 8}
    grown = write_spec(tmp_path / "grown.toml", seeds=[0], final=final,
                       variants=[{"variant": "outcome-grpo"}, {"variant": "random"}, {"variant": "sft"}])
    assert run_experiment(grown, out, workers=0, progress=False) == 0
    assert (out / "base/outcome-grpo/seed-0/metrics.jsonl").stat().st_mtime_ns == stamp
    assert len(list(out.glob("spec-*.toml"))) == 1 and (out / "spec.toml").read_text() == grown.read_text()
    plan = json.loads((out / "plan.json").read_text())
    task = toy_envs.make_task(plan["runs"][0]["task"], **plan["runs"][0]["task_fields"])
    expected_init = hand_final(load_init("tiny")[0], task, [1, 2], 8)
    assert json.loads((out / "init_final.json").read_text())["metrics"] == pytest.approx(expected_init)
    data = collect(out)
    for label in ("outcome-grpo", "random", "sft"):
        run = out / f"base/{label}/seed-0"
        expected = hand_final(load_checkpoint(list_checkpoints(run)[-1])[0], task, [1, 2], 8)
        assert json.loads((run / "final.json").read_text())["metrics"] == pytest.approx(expected)
        for name, value in expected.items():
            row = data["metrics"][name]["base"][label]
            assert row["end"]["mean"] == pytest.approx(value)
            assert row["delta"]["mean"] == pytest.approx(value - expected_init[name])
    assert list(data["metrics"])[-7:] == ["final/accuracy@len1", "final/process_accuracy@len1", "final/accuracy@len2",
                                           "final/process_accuracy@len2", "final/hack_rate", "final/p_correct_given_wf", "final/p_well_formed"]
    assert "final_by_length.png" in [p.name for p in plot_report(out, tmp_path / "plots", data)]
    stamp = (out / "base/random/seed-0/final.json").stat().st_mtime_ns
    assert run_experiment(write_spec(tmp_path / "again.toml", seeds=[0], final={"lengths": [2], "problems": 4},
                                     variants=[{"variant": "outcome-grpo"}, {"variant": "random"}, {"variant": "sft"}]),
                          out, workers=0, progress=False) == 0
    assert (out / "base/random/seed-0/final.json").stat().st_mtime_ns != stamp
    assert list(collect(out)["metrics"])[-5:] == ["final/accuracy@len2", "final/process_accuracy@len2", "final/hack_rate",
                                                  "final/p_correct_given_wf", "final/p_well_formed"]
    assert len(list(out.glob("spec-*.toml"))) == 2


def test_curves_keep_at_most_a_fixed_number_of_evenly_spaced_points():
    from sandbox.experiments.report import thinned

    assert thinned(5, 16) == [0, 1, 2, 3, 4] and thinned(0, 16) == []
    for n in (17, 70, 141):
        kept = thinned(n, 16)
        assert len(kept) == 16 and kept[0] == 0 and kept[-1] == n - 1 and kept == sorted(set(kept))


@pytest.mark.slow
def test_sigterm_to_a_background_runner_stops_its_children_at_a_step_and_the_grid_resumes(straight, tmp_path):
    """A runner started in the background (SIGINT ignored, as a shell's ``cmd &`` leaves it) and
    stopped by SIGTERM, as a cluster scheduler stops a job: it starts no other run, each running
    child checkpoints and exits, the runner exits 130; rerun, the grid ends as the uninterrupted one."""
    import subprocess
    import sys
    import time

    spec, reference = straight
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[1])}
    runner = subprocess.Popen([sys.executable, "-m", "sandbox.cli", "experiment", "run", str(spec), "--out", str(out), "--workers", "1"],
                              env=env, stderr=subprocess.PIPE, text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    first = out / "base/outcome-grpo/seed-0/metrics.jsonl"
    deadline = time.time() + 300
    while not (first.exists() and first.read_text().count("\n") >= 2) and time.time() < deadline and runner.poll() is None:
        time.sleep(0.2)
    runner.send_signal(signal.SIGTERM)
    assert runner.wait(timeout=300) == 130, runner.stderr.read()
    assert not (out / "base/random/seed-0").exists()  # no other run started
    assert list((out / "base/outcome-grpo/seed-0/checkpoints").glob("step-*"))  # the child checkpointed (or finished: 2 steps)
    # resumed in this process: what is checked is the grid the stopped children left, not another child's start
    assert run_experiment(spec, out, workers=0, progress=False) == 0
    assert deterministic_metrics(out) == deterministic_metrics(reference)


# ---- a benchmark spec: the PRM label-budget table over seeds -------------------------------------
PRM_SPEC = ('name = "prm-small"\nbench = "prm"\nseeds = [0, 1]\nbaseline = "mc-hard"\n[prm]\ninit = "tiny"\nscorers = ["mc-hard", "orm"]\n'
            'budgets = [0.5, 1.0]\nbench_problems = 64\nbench_group = 4\n[train]\nn_problems = 4\ngroup_size = 2\nn_completions = 2\nsteps = 2\nbatch_size = 4\n')


@pytest.mark.parametrize("text, field", [
    (PRM_SPEC.replace('bench = "prm"', 'bench = "orm"'), "bench"),
    (PRM_SPEC.replace('scorers = ["mc-hard", "orm"]', 'scorers = ["mc-hard", "human"]'), "prm.scorers"),
    (PRM_SPEC.replace("budgets = [0.5, 1.0]", "budgets = [0.0]"), "prm.budgets"),
    (PRM_SPEC.replace("bench_group = 4", "bench_grup = 4"), "prm.bench_grup"),
    (PRM_SPEC.replace("[prm]", "[prm]\nseeds = [3]"), "prm.seeds"),
    (PRM_SPEC.replace("steps = 2", "steps = 2\nlabels = \"rpe\""), "train.labels"),
    (PRM_SPEC.replace('baseline = "mc-hard"', 'baseline = "rpe"'), "baseline"),
    (PRM_SPEC + "[evaluation]\n", "spec"),
])
def test_a_bad_benchmark_spec_is_one_clear_error_naming_the_field(tmp_path, text, field):
    from sandbox.experiments.spec import load_spec

    (tmp_path / "s.toml").write_text(text)
    with pytest.raises(ConfigError, match=field):
        load_spec(tmp_path / "s.toml").validate()


def test_a_prm_benchmark_spec_runs_per_seed_resumes_and_reports_each_seeds_table(tmp_path, monkeypatch):
    """The spec's seeds, each the ``prm bench`` table of that seed alone (written whole); a second
    run does nothing; the report holds each scorer's F1 per label budget and seed as that seed's
    table has it, the paired difference against the baseline by hand, the answer check as a scorer."""
    from sandbox.experiments.prm_spec import PRMBenchSpec, format_prm_report
    from sandbox.experiments import prm_table

    spec = tmp_path / "s.toml"
    spec.write_text(PRM_SPEC)
    calls = []
    original = prm_table.run_prm_table
    monkeypatch.setattr(prm_table, "run_prm_table", lambda cfg, train: calls.append(cfg.seeds) or original(cfg, train))
    assert run_experiment(spec, tmp_path / "out", workers=2, progress=False) == 0
    assert calls == [(0,), (1,)]
    assert run_experiment(spec, tmp_path / "out", workers=0, progress=False) == 0 and len(calls) == 2
    data = collect(tmp_path / "out")
    assert data["runs_finished"] == 2 and data["baseline"] == "mc-hard"
    seeds = {k: json.loads((tmp_path / f"out/seed-{k}.json").read_text()) for k in (0, 1)}
    f1 = {k: {(r["scorer"], r["budget"]): r["f1"] for r in s["bench"]} for k, s in seeds.items()}
    for budget in (0.5, 1.0):
        rows = data["metrics"]["processbench/f1"][f"labels={budget:g}"]
        assert rows["orm"]["values"] == [f1[0][("orm", budget)], f1[1][("orm", budget)]]
        diffs = [f1[k][("orm", budget)] - f1[k][("mc-hard", budget)] for k in (0, 1)]
        assert rows["orm"]["paired"]["mean"] == pytest.approx(sum(diffs) / 2) and rows["mc-hard"]["paired"] is None
        assert rows["answer-check"]["values"] == [seeds[k]["answer_check"][0]["f1"] for k in (0, 1)]
    assert {c.label for c in PRMBenchSpec.from_dict(tomllib.loads(PRM_SPEC)).validate()} == {"mc-hard", "orm", "answer-check"}
    assert plot_report(tmp_path / "out", tmp_path / "plots", data) == []
    text = format_prm_report(tmp_path / "out", data)
    assert "## processbench/f1" in text and "| labels=0.5 | orm | 2 |" in text and "| answer check (baseline) |" in text


def test_the_committed_capability_report_draws_its_pass_at_k_curves(tmp_path):
    """plot_report from a committed summary alone: the final pass@k curves of the warm start and
    each variant against k (and the logged curves); every k of the spec's pass_k in the summary."""
    from sandbox.eval.pass_at_k import curve_ks
    from sandbox.experiments.report import final_xs

    data = json.loads((Path(__file__).parents[1] / "sandbox/experiments/reports/capability_boundary.json").read_text())
    assert final_xs(data, "final/pass@") == final_xs(data, "final/process_pass@") == curve_ks(256)
    written = plot_report(tmp_path, tmp_path / "plots", data)
    assert "final_pass_at_k.png" in [p.name for p in written] and all(p.stat().st_size > 0 for p in written)
