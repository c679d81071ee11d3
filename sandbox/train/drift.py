"""Drift diagnostic: how far training has moved the policy's greedy behaviour, and its fit to gold.

On N fixed held-out probe problems (eval split, indices 0..N-1):

    flipped_fraction = (1/N) Σ_i 1[a_i(θ_s) ≠ a_i(θ_0)]                 a_i = greedy answer line
    gold_logp        = Σ_i Σ_t m_it log π_θ(y*_it | x_i, y*_i,<t) / Σ_i Σ_t m_it   (untempered)

where θ_0 is the policy when the probe was first measured (the RL run's step 0) and y* the gold
solution (with its end-of-sequence token, as SFT trains it; mask m on those tokens). A flipped
answer counts in either direction (wrong to right or right to wrong), so a reward that teaches
shows flips together with a rising accuracy, and undirected drift shows flips without one; gold
log-likelihood falling while accuracy holds says the update moves the model off the
demonstrations it was fine-tuned on. Both are deterministic: greedy decoding and one forward pass.
"""

from __future__ import annotations

import torch

from sandbox.eval.accuracy import greedy_responses
from sandbox.model.model import token_logprobs
from sandbox.train.sft import sft_batch
from sandbox.train.toolkit import evaluating


def probe_problems(task, n: int) -> list:
    """The fixed probe set: eval-split problems 0..n-1."""
    return [task.problem(i, split="eval") for i in range(n)]


def greedy_answers(policy, task, problems, max_new_tokens: int) -> list[str]:
    """Each problem's greedy answer line as the task parses it ('' when there is none)."""
    texts = greedy_responses(policy, task, problems, policy.tokenizer, max_new_tokens)
    return [task.score(p, t).answer or "" for p, t in zip(problems, texts)]


@torch.no_grad()
def gold_logp(policy, task, n: int) -> float:
    """Mean per-token log-likelihood of the gold solutions of eval problems 0..n-1."""
    with evaluating(policy.module):
        tokens, mask = sft_batch(task, policy.tokenizer, range(n), split="eval")
        logp = token_logprobs(policy.logits(tokens), tokens.to(next(policy.module.parameters()).device)).cpu()
    return float((logp * mask).sum() / mask.sum())


def flipped_fraction(answers: list[str], reference: list[str]) -> float:
    """Fraction of positions where ``answers`` differs from ``reference`` (same length)."""
    if len(answers) != len(reference):
        raise ValueError(f"{len(answers)} answers against {len(reference)} reference answers")
    return sum(a != r for a, r in zip(answers, reference)) / max(len(reference), 1)


class DriftProbe:
    """Measures ``drift/*`` on a fixed probe set against its first measurement (the reference):
    ``drift/flipped_fraction``, ``drift/gold_logp`` and ``drift/gold_logp_change`` (minus the
    reference's). The reference is part of the trainer's state, so a resumed run compares against
    the same answers as the uninterrupted one."""

    def __init__(self, task, n_problems: int, max_new_tokens: int):
        self.task, self.max_new_tokens = task, max_new_tokens
        self.problems = probe_problems(task, n_problems)
        self.reference: list[str] | None = None
        self.reference_gold_logp = 0.0

    def measure(self, policy) -> dict:
        answers = greedy_answers(policy, self.task, self.problems, self.max_new_tokens)
        logp = gold_logp(policy, self.task, len(self.problems))
        if self.reference is None:
            self.reference, self.reference_gold_logp = answers, logp
        return {
            "drift/flipped_fraction": flipped_fraction(answers, self.reference),
            "drift/gold_logp": logp,
            "drift/gold_logp_change": logp - self.reference_gold_logp,
        }

    def reference_state(self) -> dict:
        return {"answers": self.reference, "gold_logp": self.reference_gold_logp}

    def load_reference_state(self, state: dict) -> None:
        if len(state["answers"]) != len(self.problems):
            raise ValueError(f"drift reference has {len(state['answers'])} answers; drift_problems={len(self.problems)}")
        self.reference, self.reference_gold_logp = list(state["answers"]), float(state["gold_logp"])
