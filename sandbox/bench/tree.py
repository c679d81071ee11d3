"""Benchmark: tree sampling against independent sampling with the same number of leaves.

Both draw ``group_size`` rows of each of the same ``problems`` from the same warm-start policy:
the tree sampler as ``trees`` trees × K = group_size / trees kept leaves (grown over ``rounds``
rounds of ``branches`` continuations, prefixes' KV caches copied), the group sampler as
``group_size`` independent rollouts. Counted per call: generated (sampled) tokens, prefill
tokens (tokens run through the model that were not sampled: prompts, and for continuations the
last prefix token only), prefix tokens reused from a parent's cache, and wall-clock seconds
(decoding and segmentation, for both; the verdicts behind the leaf accuracy are computed when
read, after the timed call). Calls alternate between the two, each ``repeats``
times at a different RL step (fresh samples); token counts are summed over the calls and the
time is the median call. Ratios are independent / tree, so > 1 means the tree needs less.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch

from sandbox.eval.accuracy import default_max_new_tokens
from sandbox.model.policy import TinyPolicy
from sandbox.model.sampler import SamplingConfig
from sandbox.rollout.group_sampler import sample_groups
from sandbox.rollout.tree_sampler import grow_trees, leaves_per_tree


@dataclass
class TreeBenchConfig:
    problems: int = 32
    """Problems per call."""
    group_size: int = 10
    """Leaves per problem for both samplers (trees·K for the tree sampler)."""
    trees: int = 2
    """Trees per problem, M."""
    rounds: int = 2
    """Expansion rounds per tree, L."""
    branches: int = 2
    """Nodes drawn (continuations) per tree and round, N."""
    repeats: int = 3
    """Calls per sampler (alternating)."""
    temperature: float = 1.0
    """Sampling temperature of both."""
    threads: int = 1
    """torch threads."""
    preset: str = "tiny-noisy"
    """Warm-start preset whose policy samples."""
    seed: int = 0
    """Sampling seed."""

    def validate(self) -> None:
        from toy_envs.base import check

        check(self.problems >= 1, "problems", ">= 1", self.problems)
        check(self.repeats >= 1, "repeats", ">= 1", self.repeats)
        check(self.threads >= 1, "threads", ">= 1", self.threads)
        check(self.temperature > 0, "temperature", "> 0", self.temperature)
        leaves_per_tree(self.group_size, self.trees, self.rounds, self.branches)


def run_tree_bench(cfg: TreeBenchConfig) -> dict:
    from sandbox.train import recipes

    cfg.validate()
    torch.set_num_threads(cfg.threads)
    model, task, _ = recipes.load(cfg.preset)
    policy = TinyPolicy(model)
    sampling = SamplingConfig(max_new_tokens=default_max_new_tokens(task), temperature=cfg.temperature)
    problems = list(range(cfg.problems))
    totals = {name: {"generated_tokens": 0, "prefill_tokens": 0, "reused_tokens": 0, "leaves": 0, "correct": 0.0}
              for name in ("tree", "independent")}
    seconds: dict[str, list[float]] = {"tree": [], "independent": []}
    for step in range(cfg.repeats):
        rows, cost = grow_trees(
            policy, task, problems, cfg.group_size, sampling, cfg.seed, step, cfg.trees, cfg.rounds, cfg.branches
        )
        seconds["tree"].append(cost.seconds)
        _add(totals["tree"], cost.generated_tokens, cost.prefill_tokens, cost.reused_tokens, rows)
        t0 = time.perf_counter()
        rows = sample_groups(policy, task, problems, cfg.group_size, sampling, cfg.seed, step)
        seconds["independent"].append(time.perf_counter() - t0)
        _add(totals["independent"], int(rows.response_lens.sum()), int(rows.prompt_lens.sum()), 0, rows)
    results = {}
    for name, total in totals.items():
        leaves = total["leaves"]
        results[name] = {
            "leaves": leaves,
            "generated_per_leaf": total["generated_tokens"] / leaves,
            "prefill_per_leaf": total["prefill_tokens"] / leaves,
            "reused_per_leaf": total["reused_tokens"] / leaves,
            "seconds_per_call": statistics.median(seconds[name]),
            "leaf_accuracy": total["correct"] / leaves,
        }
    results["ratio"] = {
        key: results["independent"][key] / results["tree"][key]
        for key in ("generated_per_leaf", "prefill_per_leaf", "seconds_per_call")
    }
    return results


def _add(total: dict, generated: int, prefill: int, reused: int, rows) -> None:
    total["generated_tokens"] += generated
    total["prefill_tokens"] += prefill
    total["reused_tokens"] += reused
    total["leaves"] += len(rows)
    total["correct"] += float(rows.correct.sum())


def format_tree_bench(results: dict, cfg: TreeBenchConfig) -> str:
    kept = cfg.group_size // cfg.trees
    lines = [
        f"{cfg.problems} problems x {cfg.group_size} leaves; tree: {cfg.trees} trees x {kept} kept of "
        f"{1 + cfg.rounds * cfg.branches} sampled leaves ({cfg.rounds} rounds x {cfg.branches} branches); "
        f"{cfg.repeats} calls each, {cfg.threads} thread(s)",
        f"{'':<22}{'tree':>12}{'independent':>14}{'indep/tree':>12}",
    ]
    rows = [
        ("generated tokens/leaf", "generated_per_leaf", "{:.2f}"),
        ("prefill tokens/leaf", "prefill_per_leaf", "{:.2f}"),
        ("reused tokens/leaf", "reused_per_leaf", "{:.2f}"),
        ("seconds per call", "seconds_per_call", "{:.3f}"),
        ("leaf accuracy", "leaf_accuracy", "{:.3f}"),
    ]
    for label, key, fmt in rows:
        ratio = results["ratio"].get(key)
        ratio_text = "" if ratio is None else f"{ratio:.2f}x"
        tree, independent = fmt.format(results["tree"][key]), fmt.format(results["independent"][key])
        lines.append(f"{label:<22}{tree:>12}{independent:>14}{ratio_text:>12}")
    return "\n".join(lines)
