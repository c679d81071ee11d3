"""The generative-judge table: ThinkPRM teacher and student on the toy ProcessBench, with
parallel (N chains) and sequential (passes) scaling, next to the baselines, and best-of-N.

    bench   ← build_processbench(policy, task)                     (as ``prm_table``)
    judges  ← a judge recipe (``sandbox.train.recipes``): teacher, student, and the untrained
              warm start as a control
    for judge, N in chains, P in passes:   F1 / acc_err / acc_corr and the step accuracy
              mean over steps of 1[s(t) ≥ 0.5] = 1[oracle step valid]  on the test half
              (with ``execute``: teacher and student again with their calculations executed,
              ``sandbox.prm.execution``), and the solution verdict's accuracy by majority vote
              over the N chains' final verdicts (``majority_verdicts``; truth: every step valid)
    baselines: the answer check, a discriminative PRM recipe
    best-of-N: candidates reranked by the student's solution score S(x) (mean final P(Y))

The judges read only text (``sandbox.prm.generative``); the oracle is used for the benchmark's
truth only. One seed per call (the bench samples and chain keys); ``seeds`` repeats it.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass

from sandbox.config import check_tuple_fields
from sandbox.eval.prm_search import best_of_n, sample_candidates
from sandbox.eval.processbench import build_processbench, evaluate_answer_check, evaluate_scorer
from sandbox.experiments.prm_table import spread
from sandbox.model.policy import TinyPolicy
from sandbox.prm.discriminative import step_scores
from sandbox.prm.generative import JudgeConfig, judge_rollouts
from sandbox.prm.verification import parse_passes
from sandbox.train import recipes
from sandbox.train.judge_sft import JUDGE_RECIPES, make_judge
from sandbox.train.prm_train import PRM_RECIPES
from toy_envs.base import check


@dataclass
class JudgeTableConfig:
    recipe: str = "tiny-thinkprm"
    """Judge recipe (teacher and student; the recipe's warm start is the policy and the untrained control)."""
    prm: str = "tiny-oracle"
    """Discriminative PRM recipe to compare with (empty: none)."""
    chains: tuple[int, ...] = (1, 2, 4, 8)
    """N (chains per solution, parallel scaling), each with 1 pass."""
    passes: tuple[int, ...] = (1, 2)
    """Pass counts (sequential scaling), each with ``chains`` = its first value."""
    bench_problems: int = 256
    """Eval problems sampled for the benchmark (half validation, half test)."""
    bench_group: int = 4
    """Policy samples per benchmark problem."""
    search_problems: int = 64
    """Held-out problems for best-of-N (0 skips it)."""
    search_n: int = 8
    """Samples per best-of-N problem (N = 1, 2, 4, ... up to this)."""
    seeds: tuple[int, ...] = (0,)
    """Seeds (benchmark samples, chain sampling)."""
    execute: bool = False
    """Also score the teacher and student at every setting with verification by execution (their
    calculations computed by the sandbox, ``sandbox.prm.execution``): the execution ablation."""

    def validate(self) -> None:
        check_tuple_fields(self)
        check(self.recipe in JUDGE_RECIPES, "recipe", f"one of {sorted(JUDGE_RECIPES)}", self.recipe)
        check(not self.prm or self.prm in PRM_RECIPES, "prm", f"empty or one of {sorted(PRM_RECIPES)}", self.prm)
        for name in ("chains", "passes"):
            check(len(getattr(self, name)) >= 1 and min(getattr(self, name)) >= 1, name, "one or more integers >= 1", getattr(self, name))
        check(len(self.seeds) >= 1, "seeds", "one or more integers", self.seeds)
        check(self.bench_problems >= 2 and self.bench_group >= 1, "bench_problems", ">= 2 (and bench_group >= 1)", self.bench_problems)
        check(self.search_problems >= 0 and self.search_n >= 1, "search_problems", ">= 0 (and search_n >= 1)", self.search_problems)


def step_accuracy(scores: list[list[float]], rollouts) -> float:
    """Mean over steps of 1[score ≥ 0.5] = oracle step validity."""
    pairs = [(s >= 0.5) == v for row, ver in zip(scores, rollouts.verdicts) for s, v in zip(row, ver.step_valid)]
    return sum(pairs) / max(len(pairs), 1)


def majority_verdicts(scores) -> list[bool]:
    """Per solution, the judges' outcome verdict by voting: the majority of its chains' sampled
    final verdicts (``all Y``/``all N`` of the last pass; a chain without one abstains); a tie, or
    no vote, is decided by the mean P(Y) share at the final verdicts, S(x) >= 0.5 (test-time scaling
    of a reasoning judge by k sampled judgments, as in RRM / DeepSeek-GRM)."""
    out = []
    for chains, mean_p in zip(scores.chains, scores.solution):
        votes = [final for final in (parse_passes(chain)[-1][1] for chain in chains) if final is not None]
        yes = sum(votes)
        out.append(yes * 2 > len(votes) if yes * 2 != len(votes) else mean_p >= 0.5)
    return out


def verdict_accuracy(verdicts: list[bool], truth: list[bool]) -> float:
    """Fraction of solutions whose verdict ("every step right") equals the oracle's."""
    return sum(v == t for v, t in zip(verdicts, truth)) / max(len(truth), 1)


def run_judge_table(cfg: JudgeTableConfig) -> dict:
    """Rows of (judge, N, passes, seed, F1, acc_err, acc_corr, step accuracy), the baselines, best-of-N."""
    cfg.validate()
    t0 = time.perf_counter()
    recipe = JUDGE_RECIPES[cfg.recipe]
    model, task, _ = recipes.load(recipe.init)
    policy = TinyPolicy(model)
    info = json.loads((recipes.build(cfg.recipe) / "info.json").read_text())
    judges = {"student": recipes.load(cfg.recipe), "teacher": recipes.load(cfg.recipe + ":teacher"), "untrained": make_judge(model)}
    settings = [(n, 1) for n in cfg.chains] + [(cfg.chains[0], p) for p in cfg.passes if p > 1]
    out = {"rows": [], "answer_check": [], "prm": [], "search": [], "info": info}
    for seed in cfg.seeds:
        bench = build_processbench(policy, task, cfg.bench_problems, cfg.bench_group, seed=seed)
        out["answer_check"].append(evaluate_answer_check(bench))
        if cfg.prm:
            scorer = recipes.load(cfg.prm)
            out["prm"].append(evaluate_scorer(lambda r: step_scores(scorer, r), bench))
        for name, judge in judges.items():
            for (n, passes), execute in itertools.product(settings, (False, True) if cfg.execute else (False,)):
                if name == "untrained" and ((n, passes) != settings[0] or execute):
                    continue
                judge_cfg = JudgeConfig(n_chains=n, passes=passes, execute=execute)
                test_scores = {}

                def score_fn(rollouts, judge=judge, judge_cfg=judge_cfg, seed=seed, store=test_scores):
                    scores = judge_rollouts(judge, rollouts, task, judge_cfg, seed=seed)
                    store[id(rollouts)] = scores
                    return scores.steps

                result = evaluate_scorer(score_fn, bench)
                scores = test_scores[id(bench.test)]
                truth = [first is None for first in bench.test_truth]
                out["rows"].append({"judge": name, "chains": n, "passes": passes, "execute": execute, "seed": seed, **result,
                                    "step_accuracy": step_accuracy(scores.steps, bench.test),
                                    "vote_accuracy": verdict_accuracy(majority_verdicts(scores), truth)})
        if cfg.search_problems:
            candidates = sample_candidates(policy, task, cfg.search_problems, cfg.search_n, seed=seed)
            solution = judge_rollouts(judges["student"], candidates, task, JudgeConfig(n_chains=cfg.chains[0]), seed=seed).solution
            ns = [n for n in (1, 2, 4, 8, 16, 32, 64) if n <= cfg.search_n]
            out["search"].append({str(n): v for n, v in best_of_n(candidates, solution, cfg.search_n, ns).items()})
    out["seconds"] = time.perf_counter() - t0
    return out


def format_judge_table(results: dict) -> str:
    """Markdown: ProcessBench per judge / N / passes with the baselines; best-of-N."""
    keys = ("acc_err", "acc_corr", "f1")
    lines = ["| scorer | chains N | passes | executed | acc (erroneous) | acc (correct) | F1 | step accuracy | vote accuracy |",
             "|---|---|---|---|---|---|---|---|---|"]
    groups: dict[tuple, list] = {}
    for row in results["rows"]:
        groups.setdefault((row["judge"], row["chains"], row["passes"], row.get("execute", False)), []).append(row)
    for (name, n, passes, execute), rows in groups.items():
        lines.append(f"| judge: {name} | {n} | {passes} | {'yes' if execute else 'no'} | "
                     + " | ".join(spread([r[k] for r in rows]) for k in (*keys, "step_accuracy", "vote_accuracy")) + " |")
    if results["prm"]:
        lines.append("| discriminative PRM | - | - | - | " + " | ".join(spread([r[k] for r in results["prm"]]) for k in keys) + " | - | - |")
    lines.append("| answer check (baseline) | - | - | - | " + " | ".join(spread([r[k] for r in results["answer_check"]]) for k in keys) + " | - | - |")
    info = results["info"]
    lines.append(f"\nprocess filtering: {info['judge/sampled_chains']} teacher chains, rejected fraction "
                 f"{info['judge/rejected_fraction']:.3f} ({info['judge/kept_chains']} kept)")
    if results["search"]:
        ns = list(results["search"][0])
        lines += ["", "| best-of-N | " + " | ".join(f"N={n}" for n in ns) + " |", "|---|" + "---|" * len(ns)]
        lines.append("| student judge S(x) | " + " | ".join(spread([s[n]["accuracy"] for s in results["search"]]) for n in ns) + " |")
        lines.append("| pass@N (a perfect reranker) | " + " | ".join(spread([s[n]["pass"] for s in results["search"]]) for n in ns) + " |")
    return "\n".join(lines)
