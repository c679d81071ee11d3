"""Monte-Carlo step labels (Math-Shepherd).

From the end of step t of a solution, K completions are sampled from the policy and judged by
the task's answer check; with c_t of them correct,

    Q_t  = c_t / K                     (the MC estimate of the success rate after step t)
    soft label  y_t = Q_t,     hard label  y_t = 1[c_t ≥ 1]   (any completion correct)

"Math-Shepherd: Verify and Reinforce LLMs Step-by-step without Human Annotations" (Wang et al.
2023, arXiv 2312.08935), section 3.3. The answer step needs no sampling: after it the solution
is complete, so its Q is 1[correct]. The prompt's own Q (completions of the empty prefix) is
estimated too: RPE and StepWiser's relative rules divide by the Q of the state a step starts from.

Completions are drawn in one batch through ``policy.sample`` with noise keyed by
(seed, "mc", problem, rollout, step, k), so labels do not depend on batch composition. Any
``Completer`` can stand in for the policy (tests use one that continues exactly).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sandbox.model.sampler import SamplingConfig
from sandbox.rng import row_key, row_keys
from sandbox.rollout.batching import evaluating
from sandbox.rollout.rollouts import Rollouts
from toy_envs.base import check

PROMPT_STEP = -1
"""The step index used for completions of the empty prefix (the prompt's state)."""


@dataclass(frozen=True)
class CompletionRequest:
    """Complete ``prefix`` (response text so far) as an answer to ``problem``; ``key`` keys the noise."""

    problem: Any
    prefix: str
    key: int


class Completer(Protocol):
    def __call__(self, requests: list[CompletionRequest]) -> list[str]: ...


@dataclass(frozen=True)
class MCValues:
    """MC success-rate estimates of one solution."""

    prompt_value: float
    """Q of the prompt's state (before the first step)."""
    step_values: tuple[float, ...]
    """Q_t after each step t of the task's segmentation (the answer step: 1[correct])."""


class PolicyCompleter:
    """Completions sampled from a policy: ``<bos> prompt prefix`` → keyed sample → decoded text."""

    def __init__(self, policy, task, sampling: SamplingConfig, batch_size: int = 512):
        self.policy, self.task, self.sampling, self.batch_size = policy, task, sampling, batch_size

    def __call__(self, requests: list[CompletionRequest]) -> list[str]:
        tok = self.policy.tokenizer
        with evaluating(self.policy.module):
            texts = []
            for lo in range(0, len(requests), self.batch_size):
                chunk = requests[lo : lo + self.batch_size]
                prompts = [tok.encode(self.task.prompt(r.problem) + r.prefix, bos=True) for r in chunk]
                keys = row_keys(0, [(r.key,) for r in chunk])
                out = self.policy.sample(prompts, self.sampling, keys)
                for row in range(len(chunk)):
                    start = int(out.prompt_lens[row])
                    texts.append(tok.decode(out.tokens[row, start : start + int(out.response_lens[row])]))
        return texts


def mc_values(rollouts: Rollouts, task, completer: Completer, n_completions: int = 8, seed: int = 0) -> list[MCValues]:
    """Per row: Q of the prompt and of every step's end, from ``n_completions`` completions each."""
    check(isinstance(n_completions, int) and n_completions >= 1, "n_completions", "an integer >= 1", n_completions)
    requests, slots = [], []  # slots[i] = (row, step) that request i estimates
    for row, (problem, text, verdict) in enumerate(zip(rollouts.problems, rollouts.texts, rollouts.verdicts)):
        problem_index, rollout_index = int(rollouts.problem_index[row]), int(rollouts.rollout_index[row])
        ends = [(PROMPT_STEP, 0)] + [(s.index, s.end) for s in verdict.steps if s.kind != "answer"]
        for step, end in ends:
            for k in range(n_completions):
                key = row_key(seed, "mc", problem_index, rollout_index, step, k)
                requests.append(CompletionRequest(problem, text[:end], key))
                slots.append((row, step))
    completions = completer(requests) if requests else []
    correct: dict[tuple[int, int], int] = {}
    for request, (row, step), completion in zip(requests, slots, completions):
        hit = task.score(request.problem, request.prefix + completion).correct
        correct[(row, step)] = correct.get((row, step), 0) + int(hit)
    out = []
    for row, verdict in enumerate(rollouts.verdicts):
        values = tuple(
            float(verdict.correct) if s.kind == "answer" else correct[(row, s.index)] / n_completions
            for s in verdict.steps
        )
        out.append(MCValues(correct[(row, PROMPT_STEP)] / n_completions, values))
    return out


def mc_soft_labels(values: MCValues) -> list[float]:
    """y_t = Q_t."""
    return list(values.step_values)


def mc_hard_labels(values: MCValues) -> list[float]:
    """y_t = 1[Q_t > 0] (some completion from step t's end is correct)."""
    return [float(q > 0) for q in values.step_values]
