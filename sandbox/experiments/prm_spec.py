"""A PRM benchmark as a spec: the toy ProcessBench table over label budgets and seeds
(``sandbox.experiments.prm_table``), run by ``reward-sandbox experiment run`` like an RL grid and
reported in the RL report's schema, so that claims compare scorers seed by seed::

    name = "prm-labels"
    bench = "prm"                       # this kind of spec (an RL grid has no ``bench``)
    seeds = [0, 1, 2]
    baseline = "mc-hard"                # scorer the report's paired differences are taken against
    [prm]                               # PRMTableConfig fields (seeds come from ``seeds``)
    init = "edge"
    mix = "4:1"
    scorers = ["mc-hard", "thinkprm"]
    budgets = [0.01, 0.1, 1.0]
    [train]                             # PRMTrainConfig fields (kind, labels and seed are set per scorer)
    n_problems = 128

    DIR/spec.toml, DIR/plan.json        as for an RL grid
    DIR/seed-<k>.json                   ``run_prm_table``'s results for seed k (written when done)

The report: per metric ``processbench/f1``, ``processbench/acc_err``, ``processbench/acc_corr``,
per setting ``labels=<budget>`` (a cached recipe scorer, trained once, sits at ``labels=1``) and
per scorer: the values over seeds, their mean and 95% t-interval, and the paired difference
against ``baseline`` on the same seeds; plus the answer-check baseline as the scorer
``answer-check`` (no training, the same bench). A seed's file is written whole when the seed has
finished, so an interrupted benchmark resumes at the first seed without one.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.config import config_from_json
from sandbox.experiments.stats import interval, mean_ci
from sandbox.train.progress import progress_bar
from sandbox.train.run_dir import write_json_atomic
from sandbox.experiments.spec_record import SpecRecord
from toy_envs.base import ConfigError, check

KIND = "prm"
METRICS = ("processbench/f1", "processbench/acc_err", "processbench/acc_corr")
ANSWER_CHECK = "answer-check"
"""The label of the answer-check baseline in the report (it needs no training)."""


@dataclass(frozen=True)
class Cell:
    """One (label budget, scorer, seed) of the table: what a claim can name."""

    id: str
    setting: str
    label: str
    seed: int


@dataclass
class PRMBenchSpec(SpecRecord):
    name: str = ""
    description: str = ""
    bench: str = KIND
    seeds: list = field(default_factory=lambda: [0])
    baseline: str = ""
    prm: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)


    def table_config(self):
        from sandbox.experiments.prm_table import PRMTableConfig

        check(isinstance(self.prm, dict), "prm", "a table of PRMTableConfig fields", self.prm)
        return config_at("prm", PRMTableConfig, self.prm, exclude=("seeds",), extra={"seeds": list(self.seeds)})

    def train_config(self):
        from sandbox.train.prm_train import PRMTrainConfig

        check(isinstance(self.train, dict), "train", "a table of PRMTrainConfig fields", self.train)
        return config_at("train", PRMTrainConfig, self.train, exclude=("kind", "labels", "seed"))

    def validate(self) -> list[Cell]:
        """Every check, before any compute; the cells of the table."""
        check(isinstance(self.name, str) and bool(self.name) and "/" not in self.name, "name", "a non-empty string without '/'", self.name)
        check(self.bench == KIND, "bench", f"{KIND!r} (the only benchmark spec so far)", self.bench)
        check(isinstance(self.seeds, list) and bool(self.seeds) and all(type(s) is int and s >= 0 for s in self.seeds)
              and len(set(self.seeds)) == len(self.seeds), "seeds", "a non-empty list of distinct integers >= 0", self.seeds)
        table = self.table_config()
        self.train_config()
        labels = self.labels()
        check(not self.baseline or self.baseline in labels, "baseline", f"one of the scorers {labels}", self.baseline)
        return self.cells(table)

    def labels(self) -> list[str]:
        return [*self.prm.get("scorers", []), ANSWER_CHECK]

    def cells(self, table=None) -> list[Cell]:
        from sandbox.train import recipes

        table = table or self.table_config()
        out = []
        for seed in self.seeds:
            for name in table.scorers:
                for budget in (1.0,) if name in recipes.RECIPES else table.budgets:
                    out.append(Cell(f"{setting_of(budget)}/{name}/seed-{seed}", setting_of(budget), name, seed))
            for budget in table.budgets:
                out.append(Cell(f"{setting_of(budget)}/{ANSWER_CHECK}/seed-{seed}", setting_of(budget), ANSWER_CHECK, seed))
        return out

    def report_metrics(self) -> list[str]:
        return list(METRICS)


def setting_of(budget: float) -> str:
    return f"labels={budget:g}"


def config_at(where: str, cls, values: dict, exclude=(), extra=None):
    """``cls`` from a spec table (and ``extra`` fields the spec sets itself), each key of the table
    checked against the fields but ``exclude`` (``ConfigError`` naming ``where.key``), then
    validated (its own errors prefixed with ``where``)."""
    allowed = sorted(f.name for f in dataclasses.fields(cls) if f.name not in exclude)
    for key in values:
        check(key in allowed, f"{where}.{key}", f"a field among {allowed}", key)
    try:
        config = config_from_json(cls, {**values, **(extra or {})})
        config.validate()
    except TypeError as err:
        raise ConfigError(f"{where}: {err}") from None
    except ConfigError as err:
        raise ConfigError(f"{where}.{err}") from None
    return config


def is_bench_spec(data: dict) -> bool:
    return "bench" in data


def seed_file(out: Path, seed: int) -> Path:
    return Path(out) / f"seed-{seed}.json"


def run_prm_spec(spec: PRMBenchSpec, out: Path, seeds: list[int], progress: bool = True) -> int:
    """Each of ``seeds`` without its file, one after another in this process (one torch thread); 0."""
    
    import torch

    from sandbox.experiments.prm_table import run_prm_table

    table, train = spec.table_config(), spec.train_config()
    todo = [s for s in seeds if not seed_file(out, s).exists()]
    torch.set_num_threads(1)
    for seed in progress_bar(progress, todo, desc=f"{spec.name} seeds", unit="seed"):  # drawn in a notebook too
        results = run_prm_table(dataclasses.replace(table, seeds=(seed,)), train)
        write_json_atomic(seed_file(out, seed), results)
    return 0


def collect_prm(out: Path, plan: dict) -> dict:
    """The report (the RL report's schema: ``metrics`` -> setting -> label -> values over seeds)."""
    spec = PRMBenchSpec.from_dict(plan["spec"])
    baseline = spec.baseline or spec.labels()[0]
    values: dict = {}
    finished = [s for s in spec.seeds if seed_file(out, s).exists()]
    for seed in finished:
        results = json.loads(seed_file(out, seed).read_text())
        for row in results["bench"]:
            for metric in METRICS:
                values.setdefault(metric, {}).setdefault(setting_of(row["budget"]), {}).setdefault(row["scorer"], {})[seed] = row[metric.split("/")[1]]
        for metric in METRICS:
            for budget in spec.table_config().budgets:
                values.setdefault(metric, {}).setdefault(setting_of(budget), {}).setdefault(ANSWER_CHECK, {})[seed] = \
                    results["answer_check"][0][metric.split("/")[1]]
    table: dict = {}
    for metric, settings in values.items():
        for setting, rows in settings.items():
            for label, by_seed in rows.items():
                seeds = sorted(by_seed)
                base = rows.get(baseline, {})
                common = [s for s in seeds if s in base]
                paired = None if label == baseline or not common else {"seeds": common, **mean_ci([by_seed[s] - base[s] for s in common])}
                table.setdefault(metric, {}).setdefault(setting, {})[label] = {
                    "seeds": seeds, "values": [by_seed[s] for s in seeds], "end": mean_ci([by_seed[s] for s in seeds]), "paired": paired}
    return {"name": plan["name"], "spec_sha256": plan["spec_sha256"], "baseline": baseline, "bench": KIND, "metrics": table,
            "runs_finished": len(finished), "runs_planned": len(spec.seeds)}


def format_prm_report(out: Path, data: dict) -> str:
    """The ``prm bench`` tables over the finished seeds, then the paired differences per metric."""
    from sandbox.experiments.prm_table import format_prm_table

    merged = {"bench": [], "answer_check": [], "agreement": {}}
    for path in sorted(Path(out).glob("seed-*.json")):
        results = json.loads(path.read_text())
        merged["bench"] += results["bench"]
        merged["answer_check"] += results["answer_check"]
        for name, rows in results["agreement"].items():
            merged["agreement"].setdefault(name, []).extend(rows)
    lines = [f"# {data['name']}: {data['runs_finished']} of {data['runs_planned']} seeds finished", ""]
    if merged["bench"]:
        lines += [format_prm_table(merged), ""]
    for metric, settings in data["metrics"].items():
        lines += [f"## {metric}", "", "| setting | scorer | n | mean [95% CI] | paired vs baseline |", "|---|---|---|---|---|"]
        for setting, rows in settings.items():
            for label, row in rows.items():
                paired = "–" if row["paired"] is None else f"{interval(row['paired'], signed=True)} (n={row['paired']['n']})"
                lines.append(f"| {setting} | {label} | {row['end']['n']} | {interval(row['end'])} | {paired} |")
        lines.append("")
    return "\n".join(lines)
