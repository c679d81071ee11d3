"""Tree benchmark (small sizes): both samplers counted side by side, the CLI prints them, bad
shapes are refused before any compute. The runs sample from 'tiny-noisy-fast', the fast copy of the
bench's default preset 'tiny-noisy' (``recipes.FAST_COPIES``), which the suite does not build."""

import pytest

from sandbox.bench.tree import TreeBenchConfig, format_tree_bench, run_tree_bench
from sandbox.cli import main
from toy_envs.base import ConfigError


def test_tree_bench_counts_both_samplers_on_the_same_leaves():
    cfg = TreeBenchConfig(problems=4, repeats=1, preset="tiny-noisy-fast")
    results = run_tree_bench(cfg)
    assert results["tree"]["leaves"] == results["independent"]["leaves"] == 4 * cfg.group_size
    assert results["tree"]["reused_per_leaf"] > 0 == results["independent"]["reused_per_leaf"]
    assert results["ratio"]["generated_per_leaf"] > 1
    assert results["ratio"]["prefill_per_leaf"] > 1
    text = format_tree_bench(results, cfg)
    assert "generated tokens/leaf" in text and "indep/tree" in text


def test_cli_bench_tree_prints_the_table(capsys):
    assert main(["bench", "tree", "--problems", "2", "--repeats", "1", "--preset", "tiny-noisy-fast"]) == 0
    assert "generated tokens/leaf" in capsys.readouterr().out


def test_a_group_size_the_trees_cannot_hold_is_refused():
    with pytest.raises(ConfigError, match="group_size"):
        run_tree_bench(TreeBenchConfig(group_size=12))
