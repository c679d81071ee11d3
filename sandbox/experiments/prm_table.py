"""The PRM comparison: label agreement with the oracle, and the toy ProcessBench table.

    for seed in seeds:
        bench      ← build_processbench(policy, task, error_kind)       (eval split, balanced)
        solutions  ← policy samples of train problems (``PRMTrainConfig``)
        for scorer in scorers (a labeller name → PRM on those labels; ``orm`` → outcome model):
            for budget in budgets: train on the first ⌈budget·N⌉ solutions' labels → F1 on bench
        ``thinkprm`` / ``thinkprm-teacher``: the generative judges of ``sandbox.train.judge_sft``
            (recipe ``tiny-thinkprm``'s training config, oracle-valid labels) with ⌈budget·n/2⌉ problems
            for the teacher's templated chains and as many for the student's filtered chains (the
            same number of labelled solutions as a PRM at that budget), scored with ``judge_chains`` chains;
            ``thinkprm-exec`` / ``thinkprm-teacher-exec``: the same judges (trained once per seed and
            budget) with their calculations executed by the sandbox
        a cached PRM or judge recipe's name (``edge-mc``, ``edge-thinkprm``): that scorer as trained,
            on the same bench (no label budget: it was trained once, by its recipe)
        answer-check baseline on the same bench

``mix`` replaces the warm start's length mixture for the bench and the training data (``4:1``:
4-operation chains only, the head-to-head's; ``sandbox.train.recipes.MIX_FIELDS``). The policy and the PRM backbone are warm starts (``init`` / ``judge_init``); MC labels use
completions by the policy. Every number is a mean over seeds with its min and max.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, replace

import torch

import toy_envs
from sandbox.config import check_tuple_fields
from sandbox.eval.processbench import ERROR_KINDS, build_processbench, evaluate_answer_check, evaluate_scorer
from sandbox.model.policy import TinyPolicy
from sandbox.prm.discriminative import load_scorer, step_scores
from sandbox.prm.labels import LABELLERS, agreement, step_labels
from sandbox.train import recipes
from sandbox.train.recipes import MIX_FIELDS
from sandbox.train.prm_train import MCTS_LABELS, PRMTrainConfig, label_solutions, sample_solutions, train_scorer
from sandbox.train.warmstart import PRESETS
from toy_envs.base import check

ORM = "orm"
OUTCOME_ONLY = {ORM: "ORM", "sprm": "SPRM (outcome pseudo-labels)"}
GENERATIVE = {
    "thinkprm": "ThinkPRM student (generative)",
    "thinkprm-teacher": "ThinkPRM teacher (generative)",
    "thinkprm-exec": "ThinkPRM student, calculations executed",
    "thinkprm-teacher-exec": "ThinkPRM teacher, calculations executed",
}
"""Generative judges (``sandbox.prm.generative``) trained per seed and budget: name -> table label. An
``-exec`` name is the same trained judge scored with verification by execution (``JudgeConfig.execute``,
``sandbox.prm.execution``): the execution ablation at each label budget."""
EXECUTED = "-exec"
"""Scorers trained from final correctness only (no labeller): name -> table label; the name is the ``PRMTrainConfig.kind``."""


@dataclass
class PRMTableConfig:
    init: str = "tiny"
    """Warm-start preset of the policy (its samples make the training data and the benchmark)."""
    judge_init: str = ""
    """Warm-start preset the PRM backbone starts from; empty = ``init``."""
    scorers: tuple[str, ...] = ("oracle-valid", "mc-hard", "rpe", "orm")
    """Labellers to train PRMs on, and ``orm`` for the outcome reward model."""
    error_kind: str = "invalid"
    """ProcessBench target: first ``invalid`` step, or first ``dead_end`` step."""
    bench_problems: int = 256
    """Eval problems sampled for the benchmark (half validation, half test)."""
    bench_group: int = 4
    """Policy samples per benchmark problem."""
    budgets: tuple[float, ...] = (1.0,)
    """Fractions of the labelled training solutions to train on (label-budget sweep)."""
    seeds: tuple[int, ...] = (0,)
    """Seeds (benchmark samples, training data, MC completions, batch order)."""
    judge_chains: int = 4
    """N, verification chains per solution for the generative judges (``thinkprm``)."""
    mix: str = ""
    """Length mixture replacing the warm start's (``4:1``: 4-operation chains only); empty: its own."""

    def validate(self) -> None:
        check_tuple_fields(self)
        check(self.init in PRESETS, "init", f"one of {sorted(PRESETS)}", self.init)
        check(not self.judge_init or self.judge_init in PRESETS, "judge_init", f"empty or one of {sorted(PRESETS)}", self.judge_init)
        check(len(self.scorers) >= 1, "scorers", "one or more scorer names", self.scorers)
        cached = sorted(n for n, r in recipes.RECIPES.items() if r.kind in ("prm", "judge"))
        for name in self.scorers:
            check(name in LABELLERS or name in OUTCOME_ONLY or name in GENERATIVE or name in cached, "scorers",
                  f"names among {sorted(LABELLERS)}, {sorted(OUTCOME_ONLY)}, {sorted(GENERATIVE)} and the cached recipes {cached}", name)
        check(self.judge_chains >= 1, "judge_chains", "an integer >= 1", self.judge_chains)
        preset = PRESETS[self.init]
        check(not self.mix or preset.task in MIX_FIELDS, "mix", f"empty for a warm start of task {preset.task!r}", self.mix)
        if self.mix:
            try:
                toy_envs.make_task(preset.task, **{**preset.task_fields, MIX_FIELDS[preset.task]: self.mix})
            except toy_envs.ConfigError as err:
                raise toy_envs.ConfigError(f"mix={self.mix!r} is not allowed: {str(err).partition(' is not allowed: ')[2] or err}") from None
        check(self.error_kind in ERROR_KINDS, "error_kind", f"one of {ERROR_KINDS}", self.error_kind)
        check(self.bench_problems >= 2 and self.bench_group >= 1, "bench_problems", ">= 2 (and bench_group >= 1)", self.bench_problems)
        check(len(self.budgets) >= 1 and all(0 < b <= 1 for b in self.budgets), "budgets", "one or more fractions in (0, 1]", self.budgets)
        check(len(self.seeds) >= 1, "seeds", "one or more integers", self.seeds)


def budget_rows(n_rows: int, budget: float) -> torch.Tensor:
    """The first ⌈budget·n⌉ rows (at least one)."""
    return torch.arange(max(1, math.ceil(budget * n_rows)))


def run_prm_table(cfg: PRMTableConfig, train_cfg: PRMTrainConfig | None = None) -> dict:
    """Label agreement and ProcessBench scores per scorer, budget and seed (PRMs trained with
    ``train_cfg``, default ``PRMTrainConfig()``; its ``kind``/``labels``/``seed`` are set per run)."""
    cfg.validate()
    t0 = time.perf_counter()
    model, task, state = recipes.load(cfg.init)
    if cfg.mix:
        task = recipes.with_task_fields((model, task, state), {MIX_FIELDS[state["task"]]: cfg.mix})[1]
    judge = recipes.load(cfg.judge_init)[0] if cfg.judge_init else model
    policy = TinyPolicy(model)
    base = train_cfg or PRMTrainConfig()
    results = {"bench": [], "answer_check": [], "agreement": {}}
    for seed in cfg.seeds:
        bench = build_processbench(policy, task, cfg.bench_problems, cfg.bench_group, cfg.error_kind, seed)
        results["answer_check"].append(evaluate_answer_check(bench))
        train = replace(base, seed=seed)
        solutions = sample_solutions(policy, task, train)
        label_cache = {}
        judges = {}
        for name in cfg.scorers:
            if name in recipes.RECIPES:
                results["bench"].append({"scorer": name, "budget": 1.0, "seed": seed, "solutions": recipe_solutions(name),
                                         **evaluate_scorer(recipe_score_fn(name, task, cfg.judge_chains, seed), bench)})
                continue
            if name in GENERATIVE:
                for budget in cfg.budgets:
                    score_fn, n_solutions = generative_scorer(name, budget, policy, task, base, seed, cfg.judge_chains, judges)
                    results["bench"].append({"scorer": name, "budget": budget, "seed": seed, "solutions": n_solutions,
                                             **evaluate_scorer(score_fn, bench)})
                continue
            if name not in OUTCOME_ONLY and name not in recipes.RECIPES:
                label_cache[name] = label_solutions(policy, task, solutions, replace(train, labels=name))
        reference = step_labels("oracle-valid" if cfg.error_kind == "invalid" else "oracle-value", solutions.verdicts)
        for name, labels in label_cache.items():
            results["agreement"].setdefault(name, []).append(agreement(labels, reference))
        for name in cfg.scorers:
            for budget in cfg.budgets if name not in GENERATIVE and name not in recipes.RECIPES else ():
                rows = budget_rows(len(solutions), budget)
                part = solutions.select(rows)
                labels = None if name in OUTCOME_ONLY else [label_cache[name][i] for i in rows.tolist()]
                kind_cfg = replace(train, kind=name if name in OUTCOME_ONLY else "prm", labels="oracle-valid" if name in OUTCOME_ONLY else name)
                scorer, _ = train_scorer(judge, part, labels, kind_cfg)
                score = evaluate_scorer(lambda r: step_scores(scorer, r), bench)
                results["bench"].append({"scorer": name, "budget": budget, "seed": seed, "solutions": len(rows), **score})
    results["seconds"] = time.perf_counter() - t0
    return results


def generative_scorer(name: str, budget: float, policy, task, base: PRMTrainConfig, seed: int, chains: int, trained: dict):
    """(score_fn, labelled solutions) of a ThinkPRM judge trained at ``budget`` (see the module
    docstring); ``trained`` keeps the (teacher, student) of each budget for the other name."""
    from sandbox.prm.generative import JudgeConfig, judge_score_fn
    from sandbox.train.judge_sft import JUDGE_RECIPES
    from sandbox.train.judge_sft import train_thinkprm

    n_problems = max(1, math.ceil(budget * base.n_problems / 2))
    judge_cfg = replace(JUDGE_RECIPES["tiny-thinkprm"].train, n_problems=n_problems, group_size=base.group_size, seed=seed)
    if budget not in trained:
        trained[budget] = train_thinkprm(policy, task, judge_cfg)[:2]
    teacher, student = trained[budget]
    judge = teacher if name.removesuffix(EXECUTED) == "thinkprm-teacher" else student
    config = JudgeConfig(n_chains=chains, execute=name.endswith(EXECUTED))
    return judge_score_fn(judge, task, config, seed), 2 * n_problems * base.group_size


def recipe_score_fn(name: str, task, chains: int, seed: int):
    """``score_fn(rollouts) -> step scores`` of a cached PRM or judge recipe (a judge: its student,
    ``chains`` verification chains)."""
    from sandbox.prm.generative import JudgeConfig, judge_score_fn

    if recipes.RECIPES[name].kind == "judge":
        return judge_score_fn(recipes.load(name), task, JudgeConfig(n_chains=chains), seed)
    scorer = recipes.load(name)
    return lambda rollouts: step_scores(scorer, rollouts)


def recipe_solutions(name: str) -> int:
    """How many solutions a recipe's labels came from: problems x group size, or for MCTS labels the
    trees' solutions its build recorded."""
    train = recipes.RECIPES[name].config.train
    if getattr(train, "labels", "") in MCTS_LABELS:
        return load_scorer(recipes.build(name))[1]["prm/solutions"]
    return train.n_problems * train.group_size


def spread(values: list[float]) -> str:
    mean = statistics.mean(values)
    return f"{mean:.3f}" if len(values) == 1 else f"{mean:.3f} [{min(values):.3f}, {max(values):.3f}]"


def scorer_label(name: str) -> str:
    return f"recipe {name} (as cached)" if name in recipes.RECIPES else f"PRM on {name}"


def format_prm_table(results: dict) -> str:
    """Markdown tables: agreement with the oracle, ProcessBench per scorer and budget."""
    lines = ["| labels | step accuracy | bad-step recall | good-step recall | first bad step matches |", "|---|---|---|---|---|"]
    for name, rows in results["agreement"].items():
        keys = ("step_accuracy", "bad_recall", "good_recall", "first_bad_match")
        lines.append(f"| {name} | " + " | ".join(spread([r[k] for r in rows]) for k in keys) + " |")
    lines += ["", "| scorer | label budget | solutions | acc (erroneous) | acc (correct) | F1 |", "|---|---|---|---|---|---|"]
    groups: dict[tuple, list] = {}
    for row in results["bench"]:
        groups.setdefault((row["scorer"], row["budget"]), []).append(row)
    for (name, budget), rows in groups.items():
        lines.append(
            f"| {OUTCOME_ONLY.get(name) or GENERATIVE.get(name) or scorer_label(name)} | {budget:g} | {rows[0]['solutions']} | "
            + " | ".join(spread([r[k] for r in rows]) for k in ("acc_err", "acc_corr", "f1")) + " |"
        )
    base = results["answer_check"]
    lines.append("| answer check (baseline) | - | - | " + " | ".join(spread([r[k] for r in base]) for k in ("acc_err", "acc_corr", "f1")) + " |")
    return "\n".join(lines)
