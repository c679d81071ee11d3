"""The claims table: headline claims of the papers the sandbox follows, each answered by a report.

A claims file (TOML, ``sandbox/experiments/claims.toml``) lists claims; each names the
experiment report that measures it (``sandbox/experiments/reports/<report>.json``, written by
``reward-sandbox experiment report DIR --json``), a metric, and two variants of that report:

    d_k      = end(variant, seed k) − end(versus, seed k)     over the seeds both finished
    measured = mean of d_k with its 95% t-interval [lo, hi]  (``stats.mean_ci``)

or, with ``versus = "warm start"``, against the warm start's own final evaluation (a ``final/*``
metric of a spec with ``[final]``; the report's ``final.init``, one evaluation for every seed):

    d_k      = end(variant, seed k) − final(warm start)

so the interval is the seeds' spread around the start (the start's own sampling noise, the same for
every seed, is not in it); and the verdict follows from the interval and what the claim expects of
the difference:

    expect "higher"          holds: lo > 0        does not hold: hi < 0       else inconclusive
    expect "lower"           holds: hi < 0        does not hold: lo > 0       else inconclusive
    expect "equal" (margin)  holds: −m < lo and hi < m   does not hold: lo > m or hi < −m
                             (a test of equivalence: the whole interval inside ±margin)

Fewer than ``MIN_SEEDS`` (3) paired seeds is inconclusive whatever the interval (the project's
rule before calling a result either way); a claim whose report is not in the repository, or
lacks the variant or metric, is "not measured" with the command that would measure it. Nothing
is computed here but the paired statistics: the numbers are the report's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sandbox.experiments.spec import read_toml
from sandbox.experiments.stats import mean_ci
from toy_envs.base import check

REPORTS = Path(__file__).parent / "reports"
"""Committed report summaries (``experiment report DIR --json``): name -> ``REPORTS/name.json``."""
EXPECT = ("higher", "lower", "equal")
WARM_START = "warm start"
"""``versus`` naming the warm start (its final evaluation) instead of a variant."""
MIN_SEEDS = 3
"""Paired seeds a verdict other than inconclusive needs."""
CLAIM_KEYS = ("id", "claim", "paper", "report", "spec", "metric", "variant", "versus", "setting", "expect", "margin")


@dataclass(frozen=True)
class Claim:
    id: str
    """Short name of the row."""
    claim: str
    """The claim, in the sandbox's terms (what is compared, on what)."""
    paper: str
    """Where it comes from (authors, year, arXiv id)."""
    report: str
    """The committed report that measures it (``REPORTS/<report>.json``)."""
    spec: str
    """The experiment spec behind the report (the command that reruns it names it)."""
    metric: str
    """The report's metric compared at the runs' ends."""
    variant: str
    """The report's variant (label) the claim is about."""
    versus: str
    """The report's variant it is compared with, seed by seed, or ``WARM_START``."""
    expect: str
    """What the claim says of ``variant − versus``: ``higher``, ``lower`` or ``equal`` (within ``margin``)."""
    margin: float = 0.0
    """For ``equal``: the largest difference still counted as equal (in the metric's units)."""
    setting: str = "base"
    """The report's setting."""

    def validate(self, where: str) -> None:
        for name in ("id", "claim", "paper", "report", "spec", "metric", "variant", "versus", "setting"):
            check(isinstance(getattr(self, name), str) and bool(getattr(self, name)), f"{where}.{name}", "a non-empty string", getattr(self, name))
        check(self.expect in EXPECT, f"{where}.expect", f"one of {EXPECT}", self.expect)
        check(type(self.margin) in (int, float) and self.margin >= 0, f"{where}.margin", "a number >= 0", self.margin)
        check(self.expect != "equal" or self.margin > 0, f"{where}.margin", "> 0 when expect = 'equal'", self.margin)
        check(self.variant != self.versus, f"{where}.versus", f"a variant other than {self.variant!r}", self.versus)


def load_claims(path: str | Path) -> list[Claim]:
    """The claims of a claims file, checked (one error naming the field and what is allowed)."""
    rows = read_toml(path, "claims").get("claims")
    check(isinstance(rows, list) and bool(rows) and all(isinstance(r, dict) for r in rows), "claims",
          "a non-empty list of [[claims]] tables", rows)
    claims = []
    for i, row in enumerate(rows):
        unknown = sorted(set(row) - set(CLAIM_KEYS))
        check(not unknown, f"claims[{i}]", f"keys among {list(CLAIM_KEYS)}", unknown)
        missing = sorted({"id", "claim", "paper", "report", "spec", "metric", "variant", "versus", "expect"} - set(row))
        check(not missing, f"claims[{i}]", "every required key (id, claim, paper, report, spec, metric, variant, versus, expect)", missing)
        claim = Claim(**row)
        claim.validate(f"claims[{i}]")
        claims.append(claim)
    ids = [c.id for c in claims]
    check(len(set(ids)) == len(ids), "claims.id", "distinct ids", sorted(i for i in ids if ids.count(i) > 1))
    return claims


def paired_difference(report: dict, claim: Claim) -> dict | None:
    """``mean_ci`` of end(variant) − end(versus) over the seeds both finished (with ``seeds``), or of
    end(variant) − the warm start's final value; None when the report lacks the metric, setting,
    either variant or (``WARM_START``) the warm start's final evaluation of the metric."""
    rows = report.get("metrics", {}).get(claim.metric, {}).get(claim.setting, {})
    if claim.versus == WARM_START:
        start = report.get("final", {}).get("init", {}).get(claim.metric)
        if claim.variant not in rows or start is None:
            return None
        ends = dict(zip(rows[claim.variant]["seeds"], rows[claim.variant]["values"]))
        return {"seeds": sorted(ends), **mean_ci([ends[s] - start for s in sorted(ends)])}
    if claim.variant not in rows or claim.versus not in rows:
        return None
    ends = {label: dict(zip(rows[label]["seeds"], rows[label]["values"])) for label in (claim.variant, claim.versus)}
    seeds = sorted(set(ends[claim.variant]) & set(ends[claim.versus]))
    return {"seeds": seeds, **mean_ci([ends[claim.variant][s] - ends[claim.versus][s] for s in seeds])}


def verdict(difference: dict | None, claim: Claim) -> str:
    """``holds``, ``does not hold``, ``inconclusive`` or ``not measured`` (module docstring)."""
    if difference is None:
        return "not measured"
    if difference["ci"] is None or difference["n"] < MIN_SEEDS:
        return "inconclusive"
    lo, hi = difference["ci"]
    if claim.expect == "higher":
        return "holds" if lo > 0 else "does not hold" if hi < 0 else "inconclusive"
    if claim.expect == "lower":
        return "holds" if hi < 0 else "does not hold" if lo > 0 else "inconclusive"
    m = claim.margin
    return "holds" if -m < lo and hi < m else "does not hold" if lo > m or hi < -m else "inconclusive"


def evaluate_claims(claims: list[Claim], reports: Path = REPORTS) -> list[dict]:
    """One row per claim: the claim, the paired difference (or None) and the verdict."""
    loaded: dict = {}
    rows = []
    for claim in claims:
        path = Path(reports) / f"{claim.report}.json"
        if claim.report not in loaded:
            loaded[claim.report] = json.loads(path.read_text()) if path.is_file() else None
        report = loaded[claim.report]
        difference = paired_difference(report, claim) if report else None
        rows.append({"claim": claim, "difference": difference, "verdict": verdict(difference, claim),
                     "runs": None if report is None else f"{report['runs_finished']} of {report['runs_planned']}"})
    return rows


def format_claims(rows: list[dict]) -> str:
    """Markdown: one row per claim, the measured difference and the verdict, then how to rerun each report."""
    expectation = {"higher": "> 0", "lower": "< 0"}
    lines = ["| claim | source | compared (metric at equal budget) | expected | measured Δ [95% CI] (n seeds) | verdict |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        c, d = row["claim"], row["difference"]
        if d is None or d["mean"] is None:
            measured = "–"
        elif d["ci"] is None:
            measured = f"{d['mean']:+.3f} (n={d['n']})"
        else:
            measured = f"{d['mean']:+.3f} [{d['ci'][0]:+.3f}, {d['ci'][1]:+.3f}] (n={d['n']}{'' if d['n'] >= MIN_SEEDS else f' < {MIN_SEEDS}'})"
        expected = expectation.get(c.expect, f"within ±{c.margin:g}")
        versus = c.versus if c.versus == WARM_START else f"`{c.versus}`"
        cells = [c.claim, c.paper, f"`{c.variant}` − {versus}, {c.metric} ({c.report})", expected, measured, row["verdict"]]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")  # a '|' in a claim is escaped
    lines += ["", "Reports (rerun: `reward-sandbox experiment run SPEC --out DIR` then `reward-sandbox experiment report DIR --json "
              "sandbox/experiments/reports/NAME.json`):", ""]
    seen = {}
    for row in rows:
        seen.setdefault(row["claim"].report, (row["claim"].spec, row["runs"]))
    for name, (spec, runs) in seen.items():
        state = f"{runs} runs finished" if runs else "not in the repository yet"
        lines.append(f"- `{name}`: `{spec}` ({state})")
    return "\n".join(lines)
