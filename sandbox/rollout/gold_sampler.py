"""Gold "sampling": the task's gold solution in place of the policy's samples, for controls.

Each problem's row is ``<bos> prompt gold <eos>``, the exact tokens SFT trains on, repeated
``group_size`` times so that batch shapes, minibatch splits and optimizer steps match a sampled
run; behaviour log-probs are the policy's own (one forward pass at the sampling temperature),
so the first PPO pass over a batch has ratio 1. With advantage +1 on every token and token-mean
aggregation, the policy-loss gradient is then exactly the SFT gradient
−∇ Σ m log π(y*) / Σ m: the ``gold-sft`` variant is continued SFT through the RL code path.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from sandbox.model.model import token_logprobs
from sandbox.model.sampler import SamplingConfig
from sandbox.rollout.batching import evaluating
from sandbox.rollout.rollouts import Rollouts


@torch.no_grad()
def sample_gold(
    policy,
    task,
    problem_indices: list[int],
    group_size: int,
    sampling: SamplingConfig,
    seed: int,
    step: int,
    split: str = "train",
) -> Rollouts:
    """``group_size`` copies of each problem's gold solution, rows of one problem adjacent.
    ``seed`` and ``step`` key nothing (there is no sampling noise); they keep the sampler signature."""
    if group_size < 1:
        raise ValueError(f"group_size={group_size} is not allowed: an integer >= 1")
    tok = policy.tokenizer
    problems = [task.problem(i, split=split) for i in problem_indices]
    rows = [(i, j) for i in range(len(problems)) for j in range(group_size)]
    responses = [tok.encode(task.gold_solution(problems[i]), eos=True) for i, _ in rows]
    rollouts = Rollouts.from_texts(task, [problems[i] for i, _ in rows], [tok.decode(r) for r in responses], tokenizer=tok,
                                   responses=responses, rollout_index=[j for _, j in rows])
    return with_behaviour_logprobs(policy, rollouts, sampling.temperature)


@torch.no_grad()
def with_behaviour_logprobs(policy, rollouts: Rollouts, temperature: float) -> Rollouts:
    """``rollouts`` with the policy's own log-probs of their response tokens at ``temperature``
    (one forward): rows the policy did not sample get the behaviour log-probs of a sampled row."""
    with evaluating(policy.module):
        logits = policy.logits(rollouts.tokens).cpu()
    logprobs = token_logprobs(logits, rollouts.tokens, temperature) * rollouts.response_mask
    return replace(rollouts, logprobs=logprobs)
