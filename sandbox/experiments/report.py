"""The report of an experiment directory: every finished run it holds, from every shard.

Per metric of the spec's ``evaluation.metrics`` and per (setting, variant), over seeds:

    end       the metric at the run's last evaluation: mean, 95% t-interval, n (``stats.mean_ci``)
    Δ         end − the run's first evaluation (the warm start, logged at step -1)
    paired    end(variant, seed k) − end(baseline, seed k) over the seeds both have finished:
              mean and 95% t-interval of the differences (the baseline's own row: "–")

and the costs, means over seeds of each run's last ``cost/*`` value (``sandbox.train.cost``):
generated tokens, the training FLOPs estimate, the tokens of the policy's forward passes while
collecting (prefill, decoding, scoring by the policy) and of every other model's forward passes
(reference, PRM or judge, auxiliary models), the wall-clock seconds of the
steps (Σ ``time/step_s``, evaluation included; wall-clock on a shared machine is inflated by
others' load), and for a variant that scores with a trained PRM or judge its recipe's recorded
training seconds and labels. What a run did not record is "n/a", never a guess.

    final/*   with the spec's ``[final]`` table: each run's final evaluation (accuracy per chain
              length, the rubric's hack rate; ``sandbox.experiments.final_eval``) as a metric of the
              table, Δ from the warm start's own final evaluation, paired against the baseline

    to target the first evaluation at which a metric of ``evaluation.targets`` reaches its value:
              how many seeds reached it, and the mean over those of the steps, generated tokens,
              training FLOPs and seconds spent by then (the warm start's evaluation counts as 0)

    curves    at the k-th evaluation of every seed (as many as the seed with the fewest has): the
              mean over seeds of the step, cumulative generated tokens and training FLOPs (the wall-clock
              seconds under ``timing``), and the metric's mean, lowest and highest over seeds; a
              metric logged every step keeps ``CURVE_POINTS`` evenly spaced points, first and last
              included (the summary stays small enough to commit)

``plots`` draws each metric's curves against steps, cumulative generated tokens, cumulative
training FLOPs and cumulative wall-clock seconds, one line per variant and setting, with a band
from the lowest to the highest seed. ``summary`` is the JSON for notebooks (sorted keys; the wall-clock numbers sit apart under
``timing``, the one part that differs between reruns).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from sandbox.experiments.final_eval import FINAL_FILE, INIT_FINAL_FILE, final_metric_names, plateau_metrics
from sandbox.experiments.runner import DONE_FILE, read_plan, runs_of_plan
from sandbox.experiments.spec import ExperimentSpec, Run
from sandbox.experiments.stats import interval, mean_ci
from sandbox.train.run_dir import read_metrics

COST_METRICS = ("cost/generated_tokens", "cost/train_flops", "cost/policy_collect_tokens", "cost/aux_forward_tokens")
CURVE_COSTS = ("cost/generated_tokens", "cost/train_flops")
CURVE_POINTS = 16
"""At most this many points per curve in the summary (evenly spaced; first and last kept)."""
X_AXES = (("step", "step"), ("cost/generated_tokens", "generated tokens"), ("cost/train_flops", "training FLOPs (estimate)"),
          ("wall_s", "wall-clock seconds"))


def finished_runs(out: Path) -> list[tuple[Run, list[dict], dict]]:
    """(run, its metrics, its experiment.json) of every finished run in the directory, in plan order."""
    out = Path(out)
    found = []
    for run in runs_of_plan(read_plan(out)):
        done = out / run.id / DONE_FILE
        if done.exists():
            found.append((run, read_metrics(out / run.id / "metrics.jsonl")[0], json.loads(done.read_text())))
    return found


def final_record(path: Path, settings) -> dict:
    """A final.json made with ``settings`` ({} when missing or made with others)."""
    from sandbox.experiments.final_eval import is_current

    return json.loads(path.read_text()) if settings is not None and is_current(path, settings) else {}


def final_metrics(path: Path, settings, init_record: dict | None = None) -> dict:
    """The metrics of a final.json made with ``settings`` ({} when missing or made with others),
    with the plateau metrics against ``init_record`` (the warm start's final.json) where both
    hold per-problem counts (``final_eval.plateau_metrics``)."""
    from sandbox.experiments.final_eval import plateau_metrics

    record = final_record(path, settings)
    return {**record.get("metrics", {}), **(plateau_metrics(init_record, record) if init_record else {})}


def first_and_last(history: list[dict], name: str):
    values = [m[name] for m in history if name in m and isinstance(m[name], (int, float))]
    return (values[0], values[-1]) if values else (None, None)


def wall_seconds(history: list[dict], done: dict):
    """Σ time/step_s over the logged steps (the run's own time, across resumes); the worker's
    measured seconds for a run that logs no step times (the sft control)."""
    steps = [m["time/step_s"] for m in history if "time/step_s" in m]
    return math.fsum(steps) if steps else done.get("wall_s")


def collect(out: Path) -> dict:
    """The report's numbers (``summary``'s JSON without the formatting)."""
    plan = read_plan(Path(out))
    spec = plan["spec"]
    if "bench" in spec:
        from sandbox.experiments.prm_spec import collect_prm

        return collect_prm(Path(out), plan)
    metrics = spec["evaluation"].get("metrics", ["eval/accuracy"])
    labels = [v.get("label", v["variant"]) for v in spec["variants"]]
    baseline = spec.get("baseline") or labels[0]
    final = ExperimentSpec.from_dict(spec).final_settings()
    init_record = final_record(Path(out) / INIT_FINAL_FILE, final)
    init_final = {**init_record.get("metrics", {}), **plateau_metrics(init_record, init_record)}  # 0 by definition
    cells: dict = {}
    for run, history, done in finished_runs(Path(out)):
        cell = cells.setdefault((run.setting, run.label), {"seeds": [], "runs": [], "final": []})
        cell["seeds"].append(run.seed)
        cell["runs"].append((history, done))
        cell["final"].append(final_metrics(Path(out) / run.id / FINAL_FILE, final, init_record))
    final_names = final_metric_names(final)
    table: dict = {m: {} for m in [*metrics, *final_names]}
    table_curves: dict = {}
    costs: dict = {}
    timing: dict = {}
    for (setting, label), cell in sorted(cells.items(), key=lambda kv: (kv[0][0], labels.index(kv[0][1]))):
        for metric in metrics:
            ends, deltas = {}, {}
            for seed, (history, _) in zip(cell["seeds"], cell["runs"]):
                start, end = first_and_last(history, metric)
                if end is not None:
                    ends[seed] = end
                    deltas[seed] = end - start
            base = cells.get((setting, baseline))
            paired = None
            if base is not None and label != baseline:
                base_ends = {s: first_and_last(h, metric)[1] for s, (h, _) in zip(base["seeds"], base["runs"])}
                common = sorted(s for s in ends if base_ends.get(s) is not None)
                paired = {"seeds": common, **mean_ci([ends[s] - base_ends[s] for s in common])}
            table[metric].setdefault(setting, {})[label] = {
                "seeds": sorted(ends), "values": [ends[s] for s in sorted(ends)],
                "end": mean_ci([ends[s] for s in sorted(ends)]), "delta": mean_ci([deltas[s] for s in sorted(ends)]), "paired": paired,
            }
        for metric in final_names:
            ends = {seed: f[metric] for seed, f in zip(cell["seeds"], cell["final"]) if f.get(metric) is not None}
            start = init_final.get(metric)
            base = cells.get((setting, baseline))
            paired = None
            if base is not None and label != baseline:
                base_ends = {s: f.get(metric) for s, f in zip(base["seeds"], base["final"])}
                common = sorted(s for s in ends if base_ends.get(s) is not None)
                paired = {"seeds": common, **mean_ci([ends[s] - base_ends[s] for s in common])}
            values = [ends[s] for s in sorted(ends)]
            table[metric].setdefault(setting, {})[label] = {
                "seeds": sorted(ends), "values": values, "end": mean_ci(values), "paired": paired,
                "delta": mean_ci([v - start for v in values]) if start is not None else mean_ci([]),
            }
        for metric in metrics:
            series = [curves(h, metric) for h, _ in cell["runs"]]
            kept = thinned(min(len(c) for c in series), CURVE_POINTS)
            mean = lambda xs: math.fsum(xs) / len(xs)  # noqa: E731
            table_curves.setdefault(metric, {}).setdefault(setting, {})[label] = [
                {"n": len(series), **{key: mean([c[k][0][key] for c in series]) for key in ("step", *CURVE_COSTS)},
                 "mean": mean([c[k][1] for c in series]), "min": min(c[k][1] for c in series), "max": max(c[k][1] for c in series)}
                for k in kept]
            timing.setdefault(setting, {}).setdefault(label, {}).setdefault("curve_wall_s", {})[metric] = [
                mean([c[k][0]["wall_s"] for c in series]) for k in kept]
        cost = {}
        for name in COST_METRICS:
            values = [first_and_last(h, name)[1] for h, _ in cell["runs"]]
            cost[name] = None if any(v is None for v in values) else math.fsum(values) / len(values)
        models = cell["runs"][0][1].get("models", {})
        cost["models"] = {kind: {"spec": m.get("spec"), "labels": m.get("labels"), "solutions": m.get("solutions")} for kind, m in models.items()}
        costs.setdefault(setting, {})[label] = cost
        walls = [wall_seconds(h, d) for h, d in cell["runs"]]
        timing[setting][label].update({
            "wall_s": None if any(w is None for w in walls) else math.fsum(walls) / len(walls),
            "model_train_s": {kind: m.get("train_s") for kind, m in models.items()},
        })
    targets = {}
    for metric, value in sorted(spec["evaluation"].get("targets", {}).items()):
        for (setting, label), cell in sorted(cells.items(), key=lambda kv: (kv[0][0], labels.index(kv[0][1]))):
            reached = [time_to_target(h, metric, value) for h, _ in cell["runs"]]
            hits = [r for r in reached if r is not None]
            means = {k: (math.fsum(r[k] for r in hits) / len(hits) if hits else None) for k in ("step", "cost/generated_tokens", "cost/train_flops", "wall_s")}
            targets.setdefault(f"{metric} >= {value:g}", {}).setdefault(setting, {})[label] = {
                "reached": len(hits), "n": len(reached), **{k: v for k, v in means.items() if k != "wall_s"}}
            timing.setdefault(setting, {}).setdefault(label, {}).setdefault("to_target_wall_s", {})[f"{metric} >= {value:g}"] = means["wall_s"]
    total = len(plan["runs"])
    return {"final": {"init": init_final}, "targets": targets, "name": plan["name"], "spec_sha256": plan["spec_sha256"], "baseline": baseline, "metrics": table, "curves": table_curves, "cost": costs,
            "runs_finished": sum(len(c["seeds"]) for c in cells.values()), "runs_planned": total, "timing": timing}


def thinned(n: int, most: int) -> list[int]:
    """At most ``most`` evenly spaced indices of range(n), the first and the last among them."""
    if n <= most:
        return list(range(n))
    return sorted({round(i * (n - 1) / (most - 1)) for i in range(most)})


def time_to_target(history: list[dict], metric: str, value: float) -> dict | None:
    """The coordinates (step, cumulative cost/*, seconds) of the first evaluation with metric >= value."""
    for where, got in curves(history, metric):
        if got >= value:
            return where
    return None


def fmt(value, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float) and (abs(value) >= 1e5 or (value != 0 and abs(value) < 1e-3)):
        return f"{value:.3g}"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def format_report(data: dict) -> str:
    """Markdown: one table per metric, then the costs."""
    lines = [f"# {data['name']}: {data['runs_finished']} of {data['runs_planned']} runs finished", "",
             f"Mean over seeds [95% t-interval]; Δ from the run's first evaluation; paired = end − `{data['baseline']}`'s end on the same seeds.", ""]
    for metric, settings in data["metrics"].items():
        lines += [f"## {metric}", "", "| setting | variant | n | end | Δ | paired vs baseline |", "|---|---|---|---|---|---|"]
        for setting, rows in settings.items():
            for label, row in rows.items():
                paired = "–" if row["paired"] is None else f"{interval(row['paired'], signed=True)} (n={row['paired']['n']})"
                lines.append(f"| {setting} | {label} | {row['end']['n']} | {interval(row['end'])} | {interval(row['delta'], signed=True)} | {paired} |")
        lines.append("")
    for target, settings in data["targets"].items():
        lines += [f"## to reach {target} (means over the seeds that reached it)", "",
                  "| setting | variant | reached | steps | generated tokens | training FLOPs | seconds |", "|---|---|---|---|---|---|---|"]
        for setting, rows in settings.items():
            for label, row in rows.items():
                seconds = data["timing"][setting][label]["to_target_wall_s"][target]
                lines.append(f"| {setting} | {label} | {row['reached']} of {row['n']} | {fmt(row['step'], 1)} | {fmt(row['cost/generated_tokens'], 0)} | "
                             f"{fmt(row['cost/train_flops'])} | {fmt(seconds, 0)} |")
        lines.append("")
    lines += ["## cost (means over seeds)", "",
              "| setting | variant | generated tokens | training FLOPs (estimate) | policy forward tokens while collecting | "
              "other models' forward tokens | wall-clock s | trained models (recipe, step labels on sampled solutions, training s) |",
              "|---|---|---|---|---|---|---|---|"]
    for setting, rows in data["cost"].items():
        for label, cost in rows.items():
            timing = data["timing"][setting][label]
            models = "; ".join(f"{kind}: {m['spec']}, labels {m['labels'] or 'n/a'} on {fmt(m['solutions'])} solutions, "
                               f"{fmt(timing['model_train_s'].get(kind), 0)} s"
                               for kind, m in cost["models"].items()) or "none"
            lines.append(f"| {setting} | {label} | {fmt(cost['cost/generated_tokens'], 0)} | {fmt(cost['cost/train_flops'])} | "
                         f"{fmt(cost['cost/policy_collect_tokens'], 0)} | {fmt(cost['cost/aux_forward_tokens'], 0)} | {fmt(timing['wall_s'], 0)} | {models} |")
    lines += ["", "Forward tokens include padding (what was computed); the other models' own backward passes (a critic's or implicit "
              "PRM's update) are not counted. n/a: not recorded by that run. Wall-clock seconds depend on the machine's load."]
    return "\n".join(lines)


def curves(history: list[dict], metric: str) -> list[tuple[dict, float]]:
    """(x coordinates, value) at each evaluation of ``metric``: step, cumulative cost/* and wall seconds."""
    out, wall, cost = [], 0.0, {"cost/generated_tokens": 0, "cost/train_flops": 0.0}
    for m in history:
        wall += m.get("time/step_s", 0.0)  # the steps' own seconds (evaluations after a step included), from 0 at the start
        cost = {k: m.get(k, cost[k]) for k in cost}
        if metric in m:
            out.append(({"step": m["step"] + 1, "wall_s": wall, **cost}, m[metric]))
    return out


def plot_report(out: Path, dest: Path, data: dict | None = None) -> list[Path]:
    """One PNG per metric of ``data`` (default ``collect(out)``): its curves in four panels, against
    steps, generated tokens, training FLOPs and seconds."""
    data = data or collect(Path(out))
    written = []
    if "curves" not in data:  # a benchmark spec's report: tables only
        return written
    dest.mkdir(parents=True, exist_ok=True)
    for metric, settings in data["curves"].items():
        fig = plot_curves(data, metric, settings)
        path = dest / f"{metric.replace('/', '_').replace('@', 'at')}.png"
        fig.savefig(path, dpi=100)
        written.append(path)
    for file, (prefixes, xlabel, log_x) in FINAL_PLOTS.items():
        if final_xs(data, prefixes[0]):
            plot_final(data, prefixes, xlabel, log_x).savefig(dest / file, dpi=100)
            written.append(dest / file)
    return written


def final_xs(data: dict, prefix: str) -> list[int]:
    """The x values of the report's ``<prefix><x>`` final metrics (``final/accuracy@len`` -> chain
    lengths, ``final/pass@`` -> the k of the pass@k curve), ascending."""
    return sorted(int(m[len(prefix):]) for m in data["metrics"] if m.startswith(prefix) and m[len(prefix):].isdigit())


FINAL_PLOTS = {
    "final_by_length.png": (("final/accuracy@len", "final/process_accuracy@len"), "chain length", False),
    "final_pass_at_k.png": (("final/pass@", "final/process_pass@"), "k (samples per problem)", True),
}
"""File -> (metric prefixes, one panel each; x label; log2 x axis) of the final-evaluation plots."""


def plot_final(data: dict, prefixes, xlabel: str, log_x: bool = False):
    """A matplotlib Figure: one panel per prefix, the final metric against its x (chain length, k),
    one line per variant (and setting) with its 95% interval as error bars, the warm start dashed."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5 * len(prefixes), 4), layout="constrained")
    axes = fig.subplots(1, len(prefixes), squeeze=False)[0]
    for ax, prefix in zip(axes, prefixes):
        xs = final_xs(data, prefix)
        names = [f"{prefix}{x}" for x in xs]
        init = data["final"]["init"]
        if names and all(init.get(name) is not None for name in names):
            ax.plot(xs, [init[name] for name in names], "k--", label="warm start")
        for setting, rows in data["metrics"][names[0]].items() if names else ():
            for label in rows:
                cells = [data["metrics"][name][setting][label]["end"] for name in names]
                if any(c["mean"] is None for c in cells):
                    continue
                errors = [c["half_width"] or 0.0 for c in cells]
                ax.errorbar(xs, [c["mean"] for c in cells], yerr=errors, marker="o", ms=3, capsize=2,
                            label=f"{label if setting == 'base' else setting + ' ' + label} (n={cells[0]['n']})")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(prefix.rstrip("@").replace("@len", "").replace("_", " "))
        if log_x:
            ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [str(x) for x in xs])
    if axes[-1].get_legend_handles_labels()[0]:
        axes[-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig


def plot_by_length(data: dict):
    """Final greedy and process accuracy per chain length (``final_by_length.png``)."""
    return plot_final(data, *FINAL_PLOTS["final_by_length.png"])


def plot_pass_at_k(data: dict):
    """The final pass@k and process pass@k curves against k (``final_pass_at_k.png``)."""
    return plot_final(data, *FINAL_PLOTS["final_pass_at_k.png"])


def plot_curves(data: dict, metric: str, settings: dict | None = None, axes_keys=X_AXES):
    """A matplotlib Figure: ``metric``'s mean curve per variant (and setting) against each x axis of
    ``axes_keys``, with a band from the lowest to the highest seed (a report's JSON suffices)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4 * len(axes_keys), 4), layout="constrained")
    axes = fig.subplots(1, len(axes_keys), squeeze=False)[0]
    for setting, rows in (settings or data["curves"][metric]).items():
        for label, points in rows.items():
            if not points:
                continue
            name = label if setting == "base" else f"{setting} {label}"
            walls = data["timing"][setting][label]["curve_wall_s"][metric]
            for ax, (key, title) in zip(axes, axes_keys):
                xs = walls if key == "wall_s" else [p[key] for p in points]
                line = ax.plot(xs, [p["mean"] for p in points], marker="o", ms=3, label=f"{name} (n={points[0]['n']})")[0]
                ax.fill_between(xs, [p["min"] for p in points], [p["max"] for p in points], color=line.get_color(), alpha=0.15)
                ax.set_xlabel(title)
    axes[0].set_ylabel(metric)
    if axes[-1].get_legend_handles_labels()[0]:  # a metric no run logged draws empty axes
        axes[-1].legend(fontsize=7)
    return fig


def summary_json(data: dict) -> str:
    """The summary as JSON: sorted keys, no indent, floats to 6 significant digits (far
    below any interval it reports; keeps a committed report small)."""
    return json.dumps(rounded(data), sort_keys=True)


def rounded(value, digits: int = 6):
    """``value`` with every float rounded to ``digits`` significant digits (nested dicts and lists)."""
    if isinstance(value, float):
        return float(f"{value:.{digits}g}")
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v, digits) for v in value]
    return value
