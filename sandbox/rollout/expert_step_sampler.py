"""Expert-step sampling: one action per row, written from a state of the expert's demonstration
(SRL, Deng et al. 2025, arXiv 2510.25992; the states are ``toy_envs.expert_step.ExpertStep``).

    prompt of problem x at step s:   x + s_1 ... s_{k−1}        k = k(seed, s, x)
    row (x, j):                      the policy's continuation, keyed by row_key(seed, s, x, j),
                                     cut after its first line: the action a_j
    extras["generated_tokens"][row]  the tokens decoded for the row (the cost, before the cut)

The rows are ``Rollouts`` of the actions as responses to the state prompts (``Rollouts.from_texts``
with the view as the task): no ``<eos>`` follows an action that ends its line (one sampled before
any newline stays, as the row's last token), a row whose first line did not end within the budget
is ``truncated``; behaviour log-probs are the sampled tokens' own. Decoding stops at
``max_action_tokens`` (at most the run's response budget), since an action longer than that is no
line of these tasks (the longest arithmetic step, 5-digit values, is 15 characters). Cut down from
the paper: no inner monologue precedes the action (the tiny models write none), so the action is
the first line itself.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from sandbox.model.sampler import SamplingConfig
from sandbox.rng import row_keys
from sandbox.rollout.batching import evaluating
from sandbox.rollout.rollouts import Rollouts
from toy_envs.base import check, is_int
from toy_envs.expert_step import ExpertStep


def first_line(response: list[int], chars: list[int], text: str) -> tuple[int, bool]:
    """(tokens up to and including the one that completes ``text``'s first line, whether a line
    ended); all of ``response`` when no newline was written. ``chars``: characters per token."""
    newline = text.find("\n")
    if newline < 0:
        return len(response), False
    seen = 0
    for n, count in enumerate(chars):
        seen += count
        if seen > newline:
            return n + 1, True
    raise AssertionError("decoded text longer than its tokens")  # cannot happen: text is their decoding


def check_expert_step_options(group_size: int, max_action_tokens: int = 24) -> None:
    """``ConfigError`` naming ``max_action_tokens`` unless it is an integer >= 1."""
    check(is_int(max_action_tokens) and max_action_tokens >= 1, "max_action_tokens", "an integer >= 1", max_action_tokens)


@torch.no_grad()
def sample_expert_steps(
    policy,
    task,
    problem_indices: list[int],
    group_size: int,
    sampling: SamplingConfig,
    seed: int,
    step: int,
    split: str = "train",
    max_action_tokens: int = 24,
) -> Rollouts:
    """``group_size`` actions at each problem's expert state, rows of one problem adjacent."""
    if group_size < 1:
        raise ValueError(f"group_size={group_size} is not allowed: an integer >= 1")
    check_expert_step_options(group_size, max_action_tokens)
    view = ExpertStep(task, seed, step)
    rows = [(i, j) for i in problem_indices for j in range(group_size)]
    keys = row_keys(seed, [(step, i, j) for i, j in rows])
    return sample_actions(policy, view, rows, sampling, keys, split, max_action_tokens)


@torch.no_grad()
def sample_actions(policy, view: ExpertStep, rows: list[tuple[int, int]], sampling: SamplingConfig, keys: torch.Tensor,
                   split: str = "train", max_action_tokens: int = 24) -> Rollouts:
    """One action per (problem index, rollout index) in ``rows``, at ``view``'s state of that
    problem, drawn with the noise ``keys`` (one per row)."""
    tok = policy.tokenizer
    problems = [view.problem(i, split=split) for i, _ in rows]
    prompts = [tok.encode(view.prompt(p), bos=True) for p in problems]
    budget = replace(sampling, max_new_tokens=min(sampling.max_new_tokens, max_action_tokens))
    with evaluating(policy.module):
        out = policy.sample(prompts, budget, keys)

    texts, responses, logprobs, cut, decoded = [], [], [], [], []
    for b in range(len(rows)):
        start, length = int(out.prompt_lens[b]), int(out.response_lens[b])
        response = out.tokens[b, start : start + length].tolist()
        n, ended = first_line(response, tok.char_counts(response), tok.decode(response))
        n = max(n, 1)  # <eos> first: keep it, so that the row has a token to carry its reward
        responses.append(response[:n])
        logprobs.append(out.logprobs[b, start : start + n].tolist())
        texts.append(tok.decode(response[:n]))
        cut.append(not ended and bool(out.truncated[b]))
        decoded.append(length)
    return Rollouts.from_texts(
        view, problems, texts, cut, tokenizer=tok, responses=responses, logprobs=logprobs,
        rollout_index=[j for _, j in rows], extras={"generated_tokens": torch.tensor(decoded, dtype=torch.float32)},
    )
