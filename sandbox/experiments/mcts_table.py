"""MCTS step values as process labels, against Monte-Carlo labels and the oracle, at equal samples.

Per seed, on ``problems`` held-out problems of the warm start's task (``n_steps_mix`` may set the
chain lengths):

- **MCTS** (``sandbox.prm.mcts``): one tree per problem, ``simulations`` continuations sampled; every
  terminal node is a solution the search wrote, its steps labelled by the Q of their nodes (hard:
  1[Q > 0], soft: Q ≥ 0.5);
- **Monte-Carlo** (Math-Shepherd, ``sandbox.prm.mc_labels``): one sampled solution per problem, K
  completions from each of its step ends and the prompt, K = max(1, round((S − 1) / (n̄ + 1))) with
  n̄ the mean number of gold steps, so that a problem costs about the same S samples.

Each label set is scored against the oracle's step values (``labels.agreement``: step accuracy,
recall of bad and of good steps) and as a toy ProcessBench of the labels themselves: the first step
labelled bad against the oracle's first invalid step (``processbench_scores``: accuracy on erroneous
and on correct solutions, F1). Also reported: samples and sampled characters per problem, and the
fraction of problems with a correct solution among those labelled.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from dataclasses import dataclass

from sandbox.eval.accuracy import default_max_new_tokens
from sandbox.eval.processbench import processbench_scores
from sandbox.model.policy import TinyPolicy
from sandbox.model.sampler import SamplingConfig
from sandbox.prm.labels import agreement, first_bad
from sandbox.prm.mc_labels import PolicyCompleter, mc_hard_labels, mc_soft_labels, mc_values
from sandbox.prm.mcts import MCTSConfig, labelled_solutions, search
from sandbox.prm.oracle_labels import oracle_labels
from sandbox.rollout.group_sampler import sample_groups
from sandbox.train import recipes
from toy_envs.base import check, is_int


@dataclass(frozen=True)
class MCTSTableConfig:
    init: str = "tiny"
    """Warm start: the policy that proposes steps and completes them."""
    problems: int = 64
    """Held-out problems per seed."""
    seeds: tuple[int, ...] = (0, 1, 2)
    """Seeds (they key every sample)."""
    n_steps_mix: str = ""
    """Chain lengths of the arithmetic task (e.g. '4:1'); '' = the warm start's own."""
    simulations: int = 32
    """MCTS simulations per problem = the samples per problem both label sets get."""
    branches: int = 3
    """MCTS expansions per node before descending."""
    c_uct: float = 1.0
    """MCTS exploration constant."""

    def validate(self) -> None:
        check(is_int(self.problems) and self.problems >= 1, "problems", "an integer >= 1", self.problems)
        check(len(self.seeds) >= 1 and all(is_int(s) and s >= 0 for s in self.seeds), "seeds", "integers >= 0", self.seeds)
        check(isinstance(self.n_steps_mix, str), "n_steps_mix", "a string such as '4:1'", self.n_steps_mix)
        self.mcts()

    def mcts(self) -> MCTSConfig:
        return MCTSConfig(simulations=self.simulations, branches=self.branches, c_uct=self.c_uct)


def label_scores(labels: list[list[float]], verdicts: list) -> dict[str, float]:
    """Agreement with the oracle's step values and the labels' own ProcessBench scores."""
    pb = processbench_scores([first_bad(row) for row in labels], [v.first_error for v in verdicts])
    return {**agreement(labels, oracle_labels(verdicts, "value")), **{f"pb_{k}": v for k, v in pb.items()},
            "solutions": len(labels), "erroneous": sum(v.first_error is not None for v in verdicts)}


def mcts_seed(policy, task, cfg: MCTSTableConfig, seed: int) -> dict[str, dict]:
    problems = [task.problem(i, split="eval") for i in range(cfg.problems)]
    completer = PolicyCompleter(policy, task, SamplingConfig(max_new_tokens=default_max_new_tokens(task), temperature=1.0))
    trees = search(problems, task, completer, cfg.mcts(), seed)
    texts, qs, verdicts, solved = [], [], [], 0
    for tree in trees:
        found = labelled_solutions(tree, task)
        solved += any(task.score(tree.problem, text).correct for text, _ in found)
        for text, values in found:
            texts.append(text), qs.append(values), verdicts.append(task.score(tree.problem, text))
    mcts_cost = {"samples_per_problem": sum(t.samples for t in trees) / len(trees),
                 "chars_per_problem": sum(t.sampled_chars for t in trees) / len(trees), "solved": solved / len(trees)}
    out = {"mcts-hard": {**label_scores([[float(q > 0) for q in row] for row in qs], verdicts), **mcts_cost},
           "mcts-soft": {**label_scores([[float(q >= 0.5) for q in row] for row in qs], verdicts), **mcts_cost}}

    gold_steps = statistics.mean(sum(s.kind == "step" for s in task.segment(task.gold_solution(p))) for p in problems)
    k = max(1, round((cfg.simulations - 1) / (gold_steps + 1)))
    rollouts = sample_groups(policy, task, list(range(cfg.problems)), 1, completer.sampling, seed, 0, split="eval")
    counting = CountingCompleter(completer)
    values = mc_values(rollouts, task, counting, n_completions=k, seed=seed)
    mc_cost = {"samples_per_problem": 1 + counting.samples / cfg.problems,
               "chars_per_problem": (int(rollouts.response_lens.sum()) + counting.chars) / cfg.problems,
               "solved": sum(v.correct for v in rollouts.verdicts) / cfg.problems, "completions_per_step": k}
    mc_verdicts = list(rollouts.verdicts)
    out["mc-hard"] = {**label_scores([mc_hard_labels(v) for v in values], mc_verdicts), **mc_cost}
    out["mc-soft"] = {**label_scores([[float(y >= 0.5) for y in mc_soft_labels(v)] for v in values], mc_verdicts), **mc_cost}
    return out


class CountingCompleter:
    """A completer that counts the samples and characters it returns."""

    def __init__(self, completer):
        self.completer, self.samples, self.chars = completer, 0, 0

    def __call__(self, requests):
        out = self.completer(requests)
        self.samples += len(out)
        self.chars += sum(len(text) for text in out)
        return out


def run_mcts_table(cfg: MCTSTableConfig) -> dict:
    cfg.validate()
    t0 = time.perf_counter()
    model, task, _ = recipes.load(cfg.init)
    if cfg.n_steps_mix:
        check(hasattr(task, "n_steps_mix"), "n_steps_mix", "'' for a task without chain lengths", cfg.n_steps_mix)
        task = dataclasses.replace(task, n_steps_mix=cfg.n_steps_mix)
        task.validate()
    policy = TinyPolicy(model)
    per_seed = {seed: mcts_seed(policy, task, cfg, seed) for seed in cfg.seeds}
    return {"config": dataclasses.asdict(cfg), "per_seed": per_seed, "seconds": time.perf_counter() - t0}


COLUMNS = ("solutions", "erroneous", "samples_per_problem", "chars_per_problem", "solved", "step_accuracy", "bad_recall",
           "good_recall", "pb_acc_err", "pb_acc_corr", "pb_f1")


def format_mcts_table(results: dict) -> str:
    """One row per label set: mean over seeds [lowest, highest]."""
    cfg = results["config"]
    seeds = list(results["per_seed"].values())
    lines = [f"init={cfg['init']} problems={cfg['problems']} simulations={cfg['simulations']} branches={cfg['branches']} "
             f"seeds={list(cfg['seeds'])}: labels vs the oracle's step values; ProcessBench of the labels' first bad step",
             "| labels | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for name in seeds[0]:
        cells = []
        for column in COLUMNS:
            values = [s[name][column] for s in seeds]
            mean = statistics.mean(values)
            cells.append(f"{mean:.3f} [{min(values):.3f}, {max(values):.3f}]" if len(values) > 1 else f"{mean:.3f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
