"""Held-out accuracy: greedy decoding on the task's ``eval`` split, scored by the task's oracle.

    accuracy         = (1/N) Σ_i 1[answer_i correct]                          (greedy, N held-out problems)
    process_accuracy = (1/N) Σ_i 1[answer_i correct ∧ every step of i valid]   (``Verdict.process_correct``)

Process-verified accuracy (Zhang, Neubig & Yue 2025, arXiv 2512.07783) does not count a right
answer reached through a wrong step. Also reported: the fraction of responses whose parse status
is ``ok`` and whose every step is valid; the mean response length in tokens
(``eval/response_tokens``); for a task with ``repeat_lines``, the fraction of step lines that
repeat the line before (``eval/repeat_lines``, ``toy_envs.repeats``); for a task with ``length``
(chain length, tree depth), both accuracies per length (``eval/accuracy@len4``,
``eval/process_accuracy@len4``, for every length among the evaluated problems); for a task with ``confidence_line`` set, the calibration
of the stated confidences (``calib/*``, ``sandbox.eval.calibration``); for a task with
``post_completion`` set, response tokens are counted up to the marker (where inference stops;
``toy_envs.post_completion.inference_text``) and the self-evaluation after it is scored
(``eval/self_eval_*`` and ``calib/*`` of the predicted reward, ``sandbox.eval.self_evaluation``).
"""

from __future__ import annotations

import torch

from sandbox.eval.calibration import calibration_metrics
from sandbox.eval.self_evaluation import self_evaluation_metrics
from sandbox.model.sampler import SamplingConfig
from sandbox.model.tokenizer import CharTokenizer
from sandbox.rng import row_keys
from sandbox.rollout.batching import evaluating
from toy_envs.parsing import parse_step_line
from toy_envs.post_completion import inference_text
from toy_envs.repeats import repeat_flags


def step_lines_of(verdict) -> tuple:
    """The parsed step lines (``None`` where one does not parse) of a scored response."""
    return tuple(parse_step_line(step.text) for step in verdict.steps if step.kind == "step")


def default_max_new_tokens(task, margin: int = 16, probe: int = 256) -> int:
    """A response budget: the longest gold solution over the first ``probe`` train problems (all of
    them for a task with fewer, ``task.size``) + margin (+ eos), plus ``task.reasoning_room`` for
    a task whose gold solution has no reasoning lines to size the budget by (reasoning-gym). A task
    that draws lengths from a mixture is probed at its longest length (``at_length``), so rare long
    problems are not cut short."""
    if hasattr(task, "lengths"):
        task = task.at_length(max(task.lengths()))
    probed = range(min(probe, getattr(task, "size", probe)))
    longest = max(len(task.gold_solution(task.problem(i))) for i in probed)
    return longest + margin + 1 + getattr(task, "reasoning_room", 0)


def as_policy(model_or_policy, tokenizer):
    """A policy (``sandbox.model.policy``) for a bare tiny model, or the policy itself."""
    from sandbox.model.policy import TinyPolicy

    return model_or_policy if hasattr(model_or_policy, "sample") else TinyPolicy(model_or_policy, tokenizer)


@torch.no_grad()
def greedy_responses(model, task, problems, tokenizer: CharTokenizer, max_new_tokens: int, batch_size: int = 256):
    """Greedy response text for each problem; ``model`` is a tiny model or any policy."""
    policy = as_policy(model, tokenizer)
    with evaluating(policy.module):
        texts = []
        cfg = SamplingConfig(max_new_tokens=max_new_tokens, temperature=0.0)
        for lo in range(0, len(problems), batch_size):
            chunk = problems[lo : lo + batch_size]
            prompts = [tokenizer.encode(task.prompt(p), bos=True) for p in chunk]
            out = policy.sample(prompts, cfg, row_keys(0, [(i,) for i in range(len(chunk))]))
            for row in range(len(chunk)):
                start = int(out.prompt_lens[row])
                texts.append(tokenizer.decode(out.tokens[row, start:]))
    return texts


def evaluate_accuracy(model, task, tokenizer: CharTokenizer, n_problems: int = 256, max_new_tokens: int | None = None) -> dict:
    """Greedy accuracy on eval-split problems 0..n_problems-1, with parse and step statistics."""
    problems = [task.problem(i, split="eval") for i in range(n_problems)]
    budget = max_new_tokens or default_max_new_tokens(task)
    texts = greedy_responses(model, task, problems, tokenizer, budget)
    verdicts = [task.score(p, t) for p, t in zip(problems, texts)]
    n = len(verdicts)
    post_completion = getattr(task, "post_completion", False)
    inferred = [inference_text(t) for t in texts] if post_completion else texts
    out = {
        "eval/accuracy": sum(v.correct for v in verdicts) / n,
        "eval/process_accuracy": sum(v.process_correct for v in verdicts) / n,
        "eval/parse_ok": sum(v.parse_status == "ok" for v in verdicts) / n,
        "eval/all_steps_valid": sum(v.first_error is None for v in verdicts) / n,
        "eval/response_tokens": sum(len(tokenizer.encode(t)) for t in inferred) / n,
    }
    if getattr(task, "repeat_lines", 0.0) > 0:
        flags = [flag for v in verdicts for flag in repeat_flags(step_lines_of(v))]
        out["eval/repeat_lines"] = sum(flags) / max(len(flags), 1)
    if callable(getattr(task, "length", None)):  # a task that draws lengths per problem
        lengths = [task.length(p) for p in problems]
        for length in sorted(set(lengths)):
            at = [v for v, value in zip(verdicts, lengths) if value == length]
            out[f"eval/accuracy@len{length}"] = sum(v.correct for v in at) / len(at)
            out[f"eval/process_accuracy@len{length}"] = sum(v.process_correct for v in at) / len(at)
    if getattr(task, "confidence_line", False):
        out.update(calibration_metrics(texts, [v.correct for v in verdicts]))
    if post_completion:
        out.update(self_evaluation_metrics(texts, verdicts))
    return out
