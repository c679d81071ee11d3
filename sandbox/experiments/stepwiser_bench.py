"""The StepWiser chunk judge measured: held-out verdict accuracy before and after GRPO, and the
toy ProcessBench F1 of its step scores next to the answer-check baseline.

Per training seed: pools, cold start and GRPO (``sandbox.prm.stepwiser_judge.train_stepwiser``)
from the ``init`` warm start; then on the class-balanced eval pool the verdict accuracy of the
cold-start and the trained judge (sampled at the training temperature, greedy, P(Y) ≥ 0.5, and the
majority of k sampled verdicts, ``vote@k``); and, for a step judge, on one toy ProcessBench
(``sandbox.eval.processbench``, eval problems, benchmark seed 0 for every training seed) the F1 of
both judges' step scores and of the answer check (an outcome judge, ``unit = "solution"``, scores
whole solutions, not steps: no ProcessBench). Mean and spread (min..max) over seeds.
"""

from __future__ import annotations

import time
from dataclasses import replace

from sandbox.eval.processbench import build_processbench, evaluate_answer_check, evaluate_scorer
from sandbox.model.policy import TinyPolicy
from sandbox.prm.stepwiser_judge import judge_step_scores, verdict_accuracy
from sandbox.train import recipes
from sandbox.train.stepwiser_train import StepWiserConfig, train_stepwiser
from toy_envs.base import check


def stepwiser_report(cfg: StepWiserConfig, seeds: tuple[int, ...], init: str = "tiny", bench_problems: int = 128) -> dict:
    """Per seed: verdict accuracies (cold, grpo) and ProcessBench F1 (cold, grpo, answer check)."""
    cfg.validate()
    check(len(seeds) >= 1, "seeds", "at least one seed", seeds)
    check(bench_problems >= 2, "bench_problems", "an integer >= 2", bench_problems)
    model, task, _ = recipes.load(init)
    policy = TinyPolicy(model)
    bench = build_processbench(policy, task, n_problems=bench_problems) if cfg.unit == "step" else None
    rows = []
    for seed in seeds:
        t0 = time.perf_counter()
        run = replace(cfg, seed=seed)
        cold, judge, chunk_task, info = train_stepwiser(policy, task, run)
        row = {"seed": seed, **info}
        for name, m in (("cold", cold), ("grpo", judge)):
            for key, value in verdict_accuracy(m, chunk_task, "eval", run.n_samples, seed, run.temperature).items():
                row[f"{name}/acc_{key}"] = value
            if bench is not None:
                scores = evaluate_scorer(lambda r, m=m: judge_step_scores(m, task, r, run.n_samples, seed, run.temperature), bench)
                row[f"{name}/pb_f1"] = scores["f1"]
        if bench is not None:
            row["answer_check/pb_f1"] = evaluate_answer_check(bench)["f1"]
        row["seconds"] = time.perf_counter() - t0
        rows.append(row)
    return {"unit": cfg.unit, "labels": cfg.labels if cfg.unit == "step" else "the oracle's verdict", "init": init,
            "bench_problems": bench_problems, "rows": rows}


COLUMNS = ("cold/acc_sampled", "grpo/acc_sampled", "cold/acc_greedy", "grpo/acc_greedy", "cold/acc_score",
           "grpo/acc_score", "cold/pb_f1", "grpo/pb_f1", "answer_check/pb_f1")
"""The columns printed first, those a report has; its ``vote@k`` accuracies follow."""


def report_columns(report: dict) -> list[str]:
    """``COLUMNS`` the rows have, then the cold start's and the trained judge's ``vote@k`` by k."""
    first = report["rows"][0]
    votes = sorted((c for c in first if "/acc_vote@" in c), key=lambda c: (int(c.rsplit("@", 1)[1]), c))
    return [c for c in COLUMNS if c in first] + votes


def format_stepwiser_report(report: dict) -> str:
    """One line per seed and a mean [min..max] line."""
    columns = report_columns(report)
    tail = "toy ProcessBench F1" if report.get("unit", "step") == "step" else "vote@k: majority of k sampled verdicts"
    head = f"unit={report.get('unit', 'step')} labels={report['labels']} init={report['init']} (eval-pool verdict accuracy; {tail})"
    lines = [head, "seed " + " ".join(f"{c:>19}" for c in columns)]
    for row in report["rows"]:
        lines.append(f"{row['seed']:<4} " + " ".join(f"{row[c]:>19.3f}" for c in columns))
    cells = []
    for c in columns:
        values = [row[c] for row in report["rows"]]
        cells.append(f"{sum(values) / len(values):.3f} [{min(values):.2f}..{max(values):.2f}]".rjust(19))
    lines.append("mean " + " ".join(cells))
    return "\n".join(lines)
