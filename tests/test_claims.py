"""The claims table: verdicts from paired intervals, the committed claims file against its specs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.cli import main as cli_main
from sandbox.experiments.claims import WARM_START, Claim, evaluate_claims, format_claims, load_claims, paired_difference, verdict
from sandbox.experiments.spec import load_spec
from toy_envs import ConfigError

CLAIMS = Path(__file__).parents[1] / "sandbox" / "experiments" / "claims.toml"


def claim(**changes) -> Claim:
    fields = dict(id="c", claim="a beats b", paper="p", report="r", spec="s.toml", metric="eval/accuracy", variant="a", versus="b",
                  expect="higher")
    return Claim(**{**fields, **changes})


def report(values: dict[str, dict[int, float]], metric="eval/accuracy") -> dict:
    rows = {label: {"seeds": sorted(v), "values": [v[s] for s in sorted(v)]} for label, v in values.items()}
    return {"metrics": {metric: {"base": rows}}, "runs_finished": sum(map(len, values.values())), "runs_planned": 10}


def test_the_difference_is_paired_by_seed_and_matches_a_hand_computation():
    data = report({"a": {0: 0.5, 1: 0.7, 2: 0.6, 3: 0.9}, "b": {0: 0.4, 1: 0.5, 2: 0.6}})  # seed 3 has no pair
    d = paired_difference(data, claim())
    diffs = [0.1, 0.2, 0.0]
    mean = sum(diffs) / 3
    sd = math.sqrt(sum((x - mean) ** 2 for x in diffs) / 2)
    half = 4.302652729749411 * sd / math.sqrt(3)
    assert d["seeds"] == [0, 1, 2] and d["mean"] == pytest.approx(mean) and d["ci"] == pytest.approx([mean - half, mean + half])
    assert paired_difference(data, claim(versus="c")) is None and paired_difference(data, claim(metric="eval/pass@1")) is None


def test_against_the_warm_start_each_seed_is_compared_with_its_final_evaluation():
    data = report({"a": {0: 0.60, 1: 0.64, 2: 0.62}}, metric="final/pass@8")
    data["final"] = {"init": {"final/pass@8": 0.45}}
    d = paired_difference(data, claim(metric="final/pass@8", versus=WARM_START))
    diffs = [0.15, 0.19, 0.17]
    mean = sum(diffs) / 3
    half = 4.302652729749411 * math.sqrt(sum((x - mean) ** 2 for x in diffs) / 2) / math.sqrt(3)
    assert d["seeds"] == [0, 1, 2] and d["mean"] == pytest.approx(mean) and d["ci"] == pytest.approx([mean - half, mean + half])
    assert paired_difference(data, claim(metric="eval/accuracy", versus=WARM_START)) is None  # no start for a logged metric
    assert verdict(d, claim(versus=WARM_START)) == "holds"


def test_verdicts_follow_the_interval():
    at = lambda lo, hi: {"mean": (lo + hi) / 2, "ci": [lo, hi], "n": 3}  # noqa: E731
    assert verdict(at(0.01, 0.2), claim()) == "holds" and verdict(at(-0.2, -0.01), claim()) == "does not hold"
    assert verdict(at(-0.1, 0.2), claim()) == "inconclusive" and verdict(None, claim()) == "not measured"
    assert verdict({"mean": 0.3, "ci": None, "n": 1}, claim()) == "inconclusive"  # one seed is no interval
    assert verdict({"mean": 0.3, "ci": [0.2, 0.4], "n": 2}, claim()) == "inconclusive"  # fewer than MIN_SEEDS
    eq = claim(expect="equal", margin=0.05)
    assert verdict(at(-0.04, 0.04), eq) == "holds" and verdict(at(0.06, 0.2), eq) == "does not hold"
    assert verdict(at(-0.2, -0.06), eq) == "does not hold" and verdict(at(-0.01, 0.08), eq) == "inconclusive"


@given(st.floats(-1, 1), st.floats(0, 1), st.sampled_from(["higher", "lower"]))
def test_swapping_the_pair_and_the_direction_keeps_the_verdict(centre, half, expect):
    swapped = {"higher": "lower", "lower": "higher"}[expect]
    forward = {"mean": centre, "ci": [centre - half, centre + half], "n": 3}
    backward = {"mean": -centre, "ci": [-centre - half, -centre + half], "n": 3}
    assert verdict(forward, claim(expect=expect)) == verdict(backward, claim(variant="b", versus="a", expect=swapped))


def test_a_bad_claims_file_gets_one_error_naming_the_field(tmp_path):
    path = tmp_path / "c.toml"
    good = 'id = "x"\nclaim = "a"\npaper = "p"\nreport = "r"\nspec = "s"\nmetric = "m"\nvariant = "a"\nversus = "b"\n'
    for body, field in [("", "claims"), (f'[[claims]]\n{good}expect = "more"\n', "claims[0].expect"),
                        (f'[[claims]]\n{good}expect = "equal"\n', "claims[0].margin"),
                        (f'[[claims]]\n{good}expect = "higher"\nseed = 1\n', "claims[0]"),
                        (f'[[claims]]\n{good}expect = "higher"\n[[claims]]\n{good}expect = "lower"\n', "claims.id"),
                        ('[[claims]]\nid = "x"\nexpect = "higher"\n', "claims[0]")]:
        path.write_text(body)
        with pytest.raises(ConfigError, match=rf"^{field.replace('[', '.').replace(']', '.')}"):
            load_claims(path)


def test_every_committed_claim_names_a_variant_metric_and_setting_of_its_spec():
    claims = load_claims(CLAIMS)
    assert len(claims) >= 8
    for c in claims:
        spec = load_spec(Path(__file__).parents[1] / c.spec)
        runs = spec.validate()
        labels = {run.label for run in runs}
        assert {c.variant, c.versus} - {WARM_START} <= labels, c.id
        assert c.versus != WARM_START or c.metric.startswith("final/"), c.id  # only a final evaluation has the warm start's value
        assert c.setting in {run.setting for run in runs}, c.id
        assert c.metric in spec.report_metrics(), c.id
        assert c.report == spec.name.replace("-", "_"), c.id  # the report is named after its spec


def test_the_claims_command_reads_reports_and_says_what_is_not_measured(tmp_path, capsys):
    (tmp_path / "head_to_head.json").write_text(json.dumps(report(
        {"dapo": {0: 0.30, 1: 0.28, 2: 0.33}, "outcome-grpo": {0: 0.22, 1: 0.20, 2: 0.25}}, metric="eval/process_pass@1")))
    assert cli_main(["experiment", "claims", str(CLAIMS), "--reports", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    dapo = next(line for line in out.splitlines() if "`dapo` − `outcome-grpo`" in line)
    assert "+0.080 [+0.080, +0.080] (n=3) | holds |" in dapo
    assert "| not measured |" in out and "`compare_calib`: `sandbox/experiments/specs/compare_calib.toml` (not in the repository yet)" in out
    rows = evaluate_claims(load_claims(CLAIMS), tmp_path)
    assert format_claims(rows) == out.rstrip("\n")
