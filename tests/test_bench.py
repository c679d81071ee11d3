"""Smoke test of the sampler benchmark (tiny sizes): it runs and reports a ratio. The speed
target itself is measured by `reward-sandbox bench sampler`, never asserted in a test."""

import pytest

from sandbox.bench.sampler import SamplerBenchConfig, format_sampler_bench, run_sampler_bench


@pytest.mark.hf
def test_sampler_bench_reports_both_modes():
    pytest.importorskip("transformers")
    results = run_sampler_bench(SamplerBenchConfig(batch_size=2, new_tokens=4, repeats=1, threads=1))
    for mode in ("greedy", "sampled"):
        assert results[mode]["ratio"] > 0
    assert "ratio" in format_sampler_bench(results)
