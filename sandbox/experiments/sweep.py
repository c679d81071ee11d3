"""RL sweeps: a grid of ordinary runs over settings x variants x seeds, and a table per setting.

    for each setting s of the grid (every combination of the listed RLConfig values),
        for each variant v and seed k:   one RL run (``Trainer``) from the same warm start
    row (s, v):  Δ = accuracy after the last step − accuracy of the warm start (greedy, held-out)
                 mean, min..max and standard error over seeds (std / √n), mean |Δ|, and
                 the drift diagnostic at the end (``sandbox.train.drift``); with ``metrics``,
                 the same Δ (mean ± SE) of other evaluation metrics, e.g. process-verified
                 accuracy or calibration AUROC

Two controls sit beside the variants: ``sft`` is continued SFT from the warm start (``train_sft``
on the same problem stream, one SFT step per RL optimizer step on the same number of problems,
a fresh AdamW at the RL learning rate and warm-up, constant after warm-up, no weight decay as
RL; SFT's own AdamW β (0.9, 0.98) and ε 1e-8, so it is RL's optimizer only when ``adam_eps`` is
1e-8); the ``gold-sft`` variant is the gold-solution update through the RL loss and RL's optimizer
(advantage +1 on the gold solutions). ``random`` is the spurious-reward control.

Each run writes ``<out>/<setting>/<variant>/seed-<k>/`` (``config.json``, ``metrics.jsonl``) when
it finishes, so an interrupted sweep reruns only what is missing, and the table is rebuilt from
the directory. The warm start's accuracy is measured once per sweep (``start.json``): greedy
decoding is deterministic, so every run starts from that same number (and the same value of every
other evaluation metric).
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import multiprocessing
import shutil
import typing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch

from sandbox.eval.accuracy import default_max_new_tokens, evaluate_accuracy
from sandbox.model.policy import TinyPolicy
from sandbox.train.drift import DriftProbe
from sandbox.train.rl import RLConfig, Trainer, deterministic
from sandbox.train.sft import SFTConfig, train_sft
from toy_envs.base import ConfigError, check

CONTROLS = ("sft",)
"""Pseudo-variants run by the sweep itself: continued SFT from the warm start."""


@dataclass
class SweepConfig:
    out: str = ""
    """Sweep directory (finished runs in it are reused; required)."""
    variants: str = "outcome-grpo,random"
    """Comma-separated reward variants, and ``sft`` for continued SFT at the same budget."""
    seeds: str = "0,1,2"
    """Comma-separated seeds."""
    grid: str = ""
    """Settings to cross, ``field=v1,v2`` separated by spaces (RLConfig fields), e.g. 'lr=1e-5,3e-5 minibatches=1,2'."""
    base: str = ""
    """RLConfig values shared by every run, ``field=value`` separated by spaces, e.g. 'steps=40 eval_problems=1024'."""
    jobs: int = 1
    """Runs in parallel (one process and one torch thread each)."""
    report_only: bool = False
    """Print the table of the finished runs without running anything."""
    metrics: str = ""
    """Comma-separated evaluation metrics tabulated beside greedy accuracy, e.g. 'eval/process_accuracy,calib/auroc'."""

    def validate(self) -> None:
        check(bool(self.out), "out", "a sweep directory", self.out)
        check(self.jobs >= 1, "jobs", "an integer >= 1", self.jobs)
        for name in self.metric_list():
            check(name.startswith(("eval/", "calib/")) and name != "eval/accuracy", "metrics",
                  "comma-separated evaluation metric names (eval/... or calib/..., besides eval/accuracy)", self.metrics)
        self.settings()
        self.seed_list()
        for variant in self.variant_list():
            if variant not in CONTROLS:
                RLConfig(variant=variant).validate()

    def metric_list(self) -> list[str]:
        return [m for m in self.metrics.split(",") if m]

    def variant_list(self) -> list[str]:
        return [v for v in self.variants.split(",") if v]

    def seed_list(self) -> list[int]:
        try:
            return [int(s) for s in self.seeds.split(",")]
        except ValueError:
            raise ConfigError(f"seeds={self.seeds!r} is not allowed: comma-separated integers, e.g. 0,1,2") from None

    def settings(self) -> list[dict]:
        """Every combination of the grid's values, each merged over ``base`` (validated as RLConfig)."""
        base = parse_assignments(self.base, "base", single=True)
        grid = parse_assignments(self.grid, "grid", single=False)
        names = list(grid)
        out = []
        for values in itertools.product(*(grid[n] for n in names)):
            setting = {**base, **dict(zip(names, values))}
            RLConfig(**setting).validate()
            out.append(setting)
        return out


_TYPES = typing.get_type_hints(RLConfig)


def parse_assignments(text: str, what: str, single: bool) -> dict:
    """``'lr=1e-5,3e-5 minibatches=1'`` -> {'lr': [1e-5, 3e-5], 'minibatches': [1]} (values typed
    as the RLConfig field; one value each with ``single``)."""
    out = {}
    for item in text.split():
        name, _, values = item.partition("=")
        allowed = sorted(f.name for f in fields(RLConfig) if f.name not in ("variant", "seed", "progress"))
        check(name in allowed and bool(values), what, f"field=value items with a field among {allowed}", item)
        kind = _TYPES[name]
        parts = [values] if single else values.split(",")
        try:
            typed = [kind(v) if kind is not bool else v.lower() in ("1", "true", "yes") for v in parts]
        except ValueError:
            raise ConfigError(f"{what}={item!r} is not allowed: {name} takes {kind.__name__} values") from None
        out[name] = typed[0] if single else typed
    return out


def setting_name(setting: dict, grid_names: list[str]) -> str:
    """The grid values of a setting, e.g. 'lr=1e-05,minibatches=1' ('base' for an empty grid)."""
    return ",".join(f"{n}={setting[n]:g}" if isinstance(setting[n], float) else f"{n}={setting[n]}" for n in grid_names) or "base"


def load_init(init: str):
    """(model, task) of a warm-start preset name or a checkpoint directory."""
    import toy_envs
    from sandbox.model.checkpoint import load_checkpoint
    from sandbox.train.warmstart import PRESETS, load_warmstart

    if init in PRESETS:
        model, task, _ = load_warmstart(init)
        return model, task
    model, state = load_checkpoint(init)
    return model, toy_envs.make_task(state.get("task", "arithmetic"), **state.get("task_fields", {}))


def continued_sft_config(cfg: RLConfig) -> SFTConfig:
    """SFT at the RL run's budget: one SFT step per RL optimizer step, on as many problems as that
    step's rows come from, at the RL learning rate and warm-up (in optimizer steps), then constant."""
    updates = cfg.minibatches * cfg.ppo_epochs
    return SFTConfig(
        steps=cfg.steps * updates, batch_size=max(1, cfg.problems_per_step // cfg.minibatches), lr=cfg.lr,
        warmup_steps=cfg.warmup_steps * updates, min_lr_ratio=1.0, weight_decay=cfg.weight_decay,
        grad_clip=cfg.grad_clip, seed=cfg.seed, eval_problems=0,
    )


def run_one(cfg: RLConfig, out: Path, threads: int = 1) -> None:
    """One run (an RL variant, or the ``sft`` control) written to ``out`` once it has finished."""
    torch.set_num_threads(threads)
    model, task = load_init(cfg.init)
    if cfg.variant == "sft":
        tuned, _ = train_sft(task, model.cfg, continued_sft_config(cfg), progress=False, init=model)
        budget = cfg.max_new_tokens or default_max_new_tokens(task)
        probe = DriftProbe(task, cfg.drift_problems, budget)
        probe.measure(TinyPolicy(model))
        last = {"step": cfg.steps - 1, **evaluate_accuracy(tuned, task, TinyPolicy(tuned).tokenizer, cfg.eval_problems, budget),
                **probe.measure(TinyPolicy(tuned))}
        history = [last]
    else:
        reference = TinyPolicy(copy.deepcopy(model).eval())
        history = [deterministic(m) for m in Trainer(cfg, task, TinyPolicy(model), None, reference).train()]
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    (partial / "config.json").write_text(json.dumps({"rl": asdict(cfg)}, indent=2, sort_keys=True))
    (partial / "metrics.jsonl").write_text("".join(json.dumps(m, sort_keys=True) + "\n" for m in history))
    partial.rename(out)


def start_metrics(sweep_dir: Path, init: str, eval_problems: int, max_new_tokens: int) -> dict:
    """The warm start's evaluation metrics (greedy accuracy, process accuracy, calibration, ...),
    measured once per (init, problems) and kept in start.json (a sweep written when only the
    accuracy was kept is measured again)."""
    path = sweep_dir / "start.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    key = f"{init}:{eval_problems}:{max_new_tokens}"
    if not isinstance(known.get(key), dict):
        model, task = load_init(init)
        budget = max_new_tokens or default_max_new_tokens(task)
        known[key] = evaluate_accuracy(model, task, TinyPolicy(model).tokenizer, eval_problems, budget)
        path.write_text(json.dumps(known, indent=2, sort_keys=True))
    return known[key]


def plan(cfg: SweepConfig) -> list[tuple[RLConfig, Path]]:
    """Every run of the sweep, first seed of every setting first (a coarse screen finishes early)."""
    settings = cfg.settings()
    names = list(parse_assignments(cfg.grid, "grid", single=False))
    runs = []
    for seed in cfg.seed_list():
        for setting in settings:
            for variant in cfg.variant_list():
                rl = RLConfig(**{**setting, "variant": variant, "seed": seed, "progress": False})
                runs.append((rl, Path(cfg.out) / setting_name(setting, names) / variant / f"seed-{seed}"))
    return runs


def run_sweep(cfg: SweepConfig, threads: int = 1) -> dict:
    """Run what is missing (``jobs`` at a time) and return the results table's data."""
    cfg.validate()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    runs = plan(cfg)
    if not cfg.report_only:
        todo = [(rl, path) for rl, path in runs if not path.exists()]
        if cfg.jobs == 1:
            for rl, path in todo:
                run_one(rl, path, threads)
        else:
            with ProcessPoolExecutor(cfg.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
                for future in [pool.submit(run_one, rl, path, threads) for rl, path in todo]:
                    future.result()
    return collect(cfg, runs)


def collect(cfg: SweepConfig, runs: list[tuple[RLConfig, Path]]) -> dict:
    """Per (setting, variant): the finished runs' start, end and drift."""
    names = list(parse_assignments(cfg.grid, "grid", single=False))
    rows: dict[tuple[str, str], dict] = {}
    for rl, path in runs:
        if not (path / "metrics.jsonl").exists():
            continue
        history = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]
        last = next(m for m in reversed(history) if "eval/accuracy" in m)
        start = start_metrics(Path(cfg.out), rl.init, rl.eval_problems, rl.max_new_tokens)
        key = (setting_name(asdict(rl), names), rl.variant)
        row = rows.setdefault(key, {"setting": key[0], "variant": rl.variant, "eval_problems": rl.eval_problems,
                                    "start": start["eval/accuracy"], "seeds": [], "end": [], "flipped": [], "gold_logp_change": [],
                                    "metrics": {m: {"start": start.get(m, math.nan), "end": []} for m in cfg.metric_list()}})
        row["seeds"].append(rl.seed)
        row["end"].append(last["eval/accuracy"])
        for name, values in row["metrics"].items():
            values["end"].append(last.get(name, math.nan))
        drift = next((m for m in reversed(history) if "drift/flipped_fraction" in m), {})
        row["flipped"].append(drift.get("drift/flipped_fraction", math.nan))
        row["gold_logp_change"].append(drift.get("drift/gold_logp_change", math.nan))
    return {"grid": names, "rows": list(rows.values())}


def mean_and_se(values: list[float]) -> tuple[float, float]:
    """Mean and standard error (sample std / √n; nan for one value)."""
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else math.nan
    return mean, sd / math.sqrt(n)


def summarize(row: dict) -> dict:
    """Mean, min, max and standard error over seeds of Δ = end − start (in points), mean |Δ|; for
    each extra metric its start, mean Δ and SE (in the metric's own units)."""
    deltas = [100 * (e - row["start"]) for e in row["end"]]
    n = len(deltas)
    mean, se = mean_and_se(deltas)
    p = row["start"]
    extra = {name: (v["start"], *mean_and_se([e - v["start"] for e in v["end"]])) for name, v in row.get("metrics", {}).items()}
    return {
        "n": n, "mean": mean, "min": min(deltas), "max": max(deltas), "se": se, "metrics": extra,
        "abs_mean": sum(abs(d) for d in deltas) / n,
        "eval_se": 100 * math.sqrt(p * (1 - p) / row["eval_problems"]),
        "flipped": sum(row["flipped"]) / n, "gold_logp_change": sum(row["gold_logp_change"]) / n,
    }


def format_sweep(results: dict) -> str:
    """A markdown table, one row per (setting, variant); an extra metric's column reads
    'start → +Δ mean ± SE over seeds'."""
    extra = list(results["rows"][0].get("metrics", {})) if results["rows"] else []
    lines = [
        "| setting | variant | seeds | start | Δ mean (points) | Δ min .. max | SE over seeds | mean abs Δ | SE of one eval | flipped | Δ gold log-lik |"
        + "".join(f" {name} |" for name in extra),
        "|---|---|---|---|---|---|---|---|---|---|---|" + "---|" * len(extra),
    ]
    for row in results["rows"]:
        s = summarize(row)
        lines.append(
            f"| {row['setting']} | {row['variant']} | {s['n']} | {row['start']:.3f} | {s['mean']:+.1f} | "
            f"{s['min']:+.1f} .. {s['max']:+.1f} | {s['se']:.1f} | {s['abs_mean']:.1f} | {s['eval_se']:.1f} | "
            f"{s['flipped']:.2f} | {s['gold_logp_change']:+.3f} |"
            + "".join(f" {start:.3f} → {delta:+.3f} ± {se:.3f} |" for start, delta, se in s["metrics"].values())
        )
    return "\n".join(lines)

