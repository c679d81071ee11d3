"""Smoke test of the sampler benchmark (tiny sizes): it runs and reports a ratio. The speed
target itself is measured by `reward-sandbox bench sampler`, never asserted in a test."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.bench.sampler import SamplerBenchConfig, format_sampler_bench, run_sampler_bench


@pytest.mark.hf
def test_sampler_bench_reports_both_modes():
    pytest.importorskip("transformers")
    results = run_sampler_bench(SamplerBenchConfig(batch_size=2, new_tokens=4, repeats=1, threads=1))
    for mode in ("greedy", "sampled"):
        assert results[mode]["ratio"] > 0
    assert "ratio" in format_sampler_bench(results)


@pytest.mark.slow
def test_edge_bench_reports_both_warm_starts_side_by_side(tmp_path):
    """Smoke test of the edge testbed at tiny sizes: the 'tiny' warm start and a copy of it saved
    as a checkpoint directory stand in for the two presets, one RL step each; it runs, evaluates
    before and after, and formats one table."""
    from sandbox.bench.edge import EdgeBenchConfig, format_edge_bench, run_edge_bench
    from sandbox.model.checkpoint import load_checkpoint, save_checkpoint
    from sandbox.train import recipes

    model, state = load_checkpoint(recipes.build("tiny"))
    save_checkpoint(tmp_path / "copy", model, state)
    starts = ("tiny", str(tmp_path / "copy"))
    cfg = EdgeBenchConfig(presets=starts, seeds=(0,), mix="3:1,4:1", steps=1, problems_per_step=2, group_size=2,
                          eval_problems=4, pass_k=2, pass_problems=4)
    results = run_edge_bench(cfg, log=lambda *args, **kwargs: None)
    for start in starts:
        entry = results["presets"][start]
        assert set(entry["before"]) >= {"eval/process_pass@1", "eval/pass@2", "eval/process_accuracy@len3", "se/process_pass@1"}
        assert entry["runs"][0]["rl_cpu_s"] > 0
    assert results["presets"]["tiny"]["before"] == results["presets"][str(tmp_path / "copy")]["before"]
    table = format_edge_bench(results, cfg)
    assert "tiny: before" in table and "copy: gain" in table and "process pass@1" in table


def test_edge_bench_rejects_bad_values():
    from sandbox.bench.edge import EdgeBenchConfig
    from toy_envs import ConfigError

    for fields, name in (
        ({"presets": ("nope",)}, "presets"),
        ({"presets": ()}, "presets"),
        ({"presets": "edge"}, "presets"),  # a string where a tuple of names belongs
        ({"presets": ("edge", "edge-tree")}, "presets"),  # two tasks: no one mixture field fits both
        ({"seeds": ()}, "seeds"),
        ({"seeds": ("a",)}, "seeds"),
        ({"mix": "9"}, "n_steps_mix"),
        ({"presets": ("edge-tree", "edge-tree-control"), "mix": "9"}, "depth_mix"),
        ({"steps": 0}, "steps"),
    ):
        with pytest.raises(ConfigError, match=f"^{name}="):
            EdgeBenchConfig(**fields).validate()
    assert EdgeBenchConfig(presets=("edge-tree", "edge-tree-control")).edge_mix("tree") == "2:1"


@pytest.mark.slow
def test_edge_bench_runs_on_tree_puzzles_with_per_depth_metrics(tmp_path):
    """The edge testbed on tree-puzzle warm starts (two checkpoint directories of a 2-step SFT of
    a one-layer model stand in for the presets): the RL and evaluation task is the warm start's
    tree task with its depth_mix replaced by the bench's mix, and every evaluation reports per depth."""
    from sandbox.bench.edge import EdgeBenchConfig, format_edge_bench, load_start, run_edge_bench
    from sandbox.model.checkpoint import save_checkpoint
    from sandbox.model.model import ModelConfig
    from sandbox.model.tokenizer import CharTokenizer
    from sandbox.train.sft import SFTConfig, train_sft
    import toy_envs

    fields = {"operators": "+-", "branching": 2, "depth_mix": "1:1"}
    model_cfg = ModelConfig(vocab_size=CharTokenizer().vocab_size, d_model=32, n_layers=1, n_heads=2, n_kv_heads=2, d_ff=64, max_seq_len=128)
    model, _ = train_sft(toy_envs.make_task("tree", **fields), model_cfg, SFTConfig(steps=2, batch_size=4, eval_problems=0))
    starts = [str(tmp_path / name) for name in ("a", "b")]
    for start in starts:
        save_checkpoint(start, model, {"task": "tree", "task_fields": fields})
    assert load_start(starts[0], "2:1")[1] == toy_envs.make_task("tree", **{**fields, "depth_mix": "2:1"})
    cfg = EdgeBenchConfig(presets=tuple(starts), seeds=(0,), mix="1:1,2:1", steps=1, problems_per_step=2, group_size=2,
                          eval_problems=8, pass_k=2, pass_problems=8)
    results = run_edge_bench(cfg, log=lambda *args, **kwargs: None)
    before = results["presets"][starts[0]]["before"]
    assert {"eval/process_accuracy@len1", "eval/process_accuracy@len2", "eval/process_pass@1@len2"} <= set(before)
    assert "tree depth_mix=1:1,2:1" in format_edge_bench(results, cfg)


@pytest.mark.slow
def test_hack_bench_reports_every_metric_per_variant_and_seed():
    """Smoke test of ``reward-sandbox bench hack`` at tiny sizes (no RL step: each variant's policy
    is the warm start, so every row equals the start); the decomposition hack rate =
    P(well-formed) · (1 − P(correct | well-formed)) holds; a bad variant is one clear error."""
    import pytest

    from sandbox.bench.hack import HackBenchConfig, format_hack_bench, run_hack_bench
    from toy_envs.base import ConfigError

    cfg = HackBenchConfig(preset="tiny-long-answer-fast", variants=("dro", "dro+gate"), seeds=(0,), steps=0, eval_problems=4, samples=2)
    results = run_hack_bench(cfg)
    start = results["start"]
    assert results["runs"]["dro"][0] == start == results["runs"]["dro+gate"][0]
    if start["p_well_formed"] > 0:
        assert start["hack_rate"] == pytest.approx(start["p_well_formed"] * (1 - start["p_correct_given_wf"]))
    table = format_hack_bench(results, cfg)
    assert "| dro+gate |" in table and "P(correct | wf)" in table
    with pytest.raises(ConfigError, match="variants"):
        run_hack_bench(HackBenchConfig(variants=("nope",)))
    with pytest.raises(ConfigError, match="^seeds="):
        run_hack_bench(HackBenchConfig(seeds=()))


def test_learn_bench_sft_phase_follows_its_curriculum_batch_size_and_can_run_alone(monkeypatch):
    """``bench learn``'s SFT settings: the batch size is the rows of every SFT batch, the curriculum's
    chain lengths are trained in turn (time-shared, ending on the benchmark's 4), and with no RL
    variants the bench is its SFT phase and curve alone."""
    from sandbox.bench import learn

    seen, shapes = [], []
    original, model_class = learn.sft_batch, learn.TinyLlama
    monkeypatch.setattr(learn, "sft_batch", lambda task, tok, indices: seen.append((task.n_steps, len(indices))) or original(task, tok, indices))
    monkeypatch.setattr(learn, "TinyLlama", lambda model_cfg: shapes.append(model_cfg) or model_class(model_cfg))
    cfg = learn.LearnBenchConfig(variants=(), sft_time_s=1.5, time_limit_s=2.0, eval_every_s=100.0, eval_problems=4,
                                 sft_batch_size=8, sft_curriculum=(2, 4), sft_length_buckets=2, threads=1,
                                 d_model=64, n_layers=2, n_heads=2, d_ff=96)
    results = learn.run_learn_bench(cfg, log=lambda *a, **k: None)
    assert [(m.d_model, m.n_layers, m.n_heads, m.n_kv_heads, m.d_ff) for m in shapes] == [(64, 2, 2, 2, 96)]
    lengths = [n for n, _ in seen]
    assert lengths[0] == 2 and lengths[-1] == 4 and lengths == sorted(lengths) and {b for _, b in seen} == {8}
    assert results["variants"] == {} and results["sft_steps"] == len(seen) and len(results["sft_curve"]) == 1
    assert "SFT: " in learn.format_learn_bench(results, cfg)
    curve_reached = [t for t, _, a in results["sft_curve"] if a >= cfg.target]
    assert results["sft_seconds_to_target"] == (curve_reached[0] if curve_reached else None)
    low = learn.format_learn_bench({**results, "sft_curve": [(30.0, "sft", 0.5), (61.0, "sft", 0.97)], "sft_seconds_to_target": 61.0}, cfg)
    assert "SFT alone reached 0.95 at the evaluation at 61 s" in low


@given(warmup=st.integers(0, 40), step=st.integers(0, 2000), warmed_at=st.floats(0, 60), elapsed=st.floats(0, 400),
       later=st.floats(0, 100), budget=st.floats(61, 300))
def test_learn_bench_sft_schedule_warms_up_by_steps_then_decays_over_the_time_left(warmup, step, warmed_at, elapsed, later, budget):
    """Warm-up as SFT's step schedule; after it, a cosine in time: the peak where the warm-up ended,
    falling as the clock runs, the floor from the end of the budget on (an independent formula)."""
    import math

    from sandbox.bench.learn import sft_learning_rate
    from sandbox.train.sft import SFTConfig

    sft = SFTConfig(lr=2e-3, warmup_steps=warmup, min_lr_ratio=0.1)
    lr = sft_learning_rate(sft, step, warmed_at + elapsed, warmed_at, budget)
    if step < warmup:
        assert lr == sft.lr_at(step) == 2e-3 * (step + 1) / warmup
        return
    t = min(1.0, elapsed / (budget - warmed_at))
    assert lr == pytest.approx(2e-4 + 1.8e-3 * (1 + math.cos(math.pi * t)) / 2, rel=1e-12)
    assert sft_learning_rate(sft, step, warmed_at, warmed_at, budget) == pytest.approx(2e-3, rel=1e-12)
    assert sft_learning_rate(sft, step + 1, warmed_at + elapsed + later, warmed_at, budget) <= lr * (1 + 1e-12)
    if warmed_at + elapsed >= budget:
        assert lr == pytest.approx(2e-4, rel=1e-12)


@pytest.mark.parametrize("field, value", [("sft_curriculum", (2, 3)), ("sft_curriculum", (5, 4)), ("sft_batch_size", 0), ("sft_lr", 0.0),
                                          ("sft_length_buckets", 0), ("sft_length_buckets", 65), ("sft_warmup_steps", -1), ("sft_steps_per_s", -1.0),
                                          ("d_model", 130), ("n_layers", 0), ("n_heads", 0), ("d_ff", 0)])
def test_learn_bench_rejects_bad_sft_settings(field, value):
    from sandbox.bench.learn import LearnBenchConfig
    from toy_envs import ConfigError

    with pytest.raises(ConfigError, match=field):
        LearnBenchConfig(**{field: value}).validate()
