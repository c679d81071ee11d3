"""``reward-sandbox eval``: held-out greedy and process-verified accuracy (per length) of a
checkpoint, its pass@k curve, and the correlations of exploration and exploitation."""

from __future__ import annotations

from pathlib import Path

from toy_envs.base import check


def evaluate_checkpoint(path: Path, task, problems: int, pass_k: int, pass_problems: int, temperature: float, seed: int,
                        explore_problems: int = 0) -> dict:
    """The metrics of the checkpoint at ``path`` on ``task``'s held-out split: greedy on
    ``problems`` problems, with ``pass_k`` > 0 the pass@k curve of ``pass_k`` samples at
    ``temperature`` (keyed by ``seed``) on ``pass_problems`` problems, and with ``explore_problems``
    > 0 the ``explore/*`` correlations over 4 responses to each of that many problems
    (``sandbox.eval.explore_exploit``)."""
    from sandbox.eval.accuracy import default_max_new_tokens, evaluate_accuracy
    from sandbox.eval.pass_at_k import evaluate_pass_curve
    from sandbox.model.checkpoint import load_checkpoint
    from sandbox.model.policy import TinyPolicy
    from sandbox.model.sampler import SamplingConfig
    from sandbox.model.tokenizer import CharTokenizer

    check(problems >= 1, "problems", "an integer >= 1", problems)
    check(pass_problems >= 1, "pass_problems", "an integer >= 1", pass_problems)
    check(pass_k >= 0, "pass_k", "an integer >= 0", pass_k)
    check(temperature > 0, "temperature", "> 0", temperature)
    check(explore_problems >= 0, "explore_exploit", "an integer >= 0 (0: off)", explore_problems)
    model, _ = load_checkpoint(path)
    budget = default_max_new_tokens(task)
    metrics = evaluate_accuracy(model, task, CharTokenizer(), problems, budget)
    if pass_k:
        sampling = SamplingConfig(max_new_tokens=budget, temperature=temperature)
        metrics.update(evaluate_pass_curve(TinyPolicy(model), task, pass_k, pass_problems, sampling, seed))
    if explore_problems:
        from sandbox.eval.explore_exploit import explore_exploit

        metrics.update(explore_exploit(TinyPolicy(model), task, explore_problems, 4, budget, seed))
    return metrics
