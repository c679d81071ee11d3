"""Gold "sampling": the task's gold solution in place of the policy's samples, for controls.

Each problem's row is ``<bos> prompt gold <eos>``, the exact tokens SFT trains on, repeated
``group_size`` times so that batch shapes, minibatch splits and optimizer steps match a sampled
run; behaviour log-probs are the policy's own (one forward pass at the sampling temperature),
so the first PPO pass over a batch has ratio 1. With advantage +1 on every token and token-mean
aggregation, the policy-loss gradient is then exactly the SFT gradient
−∇ Σ m log π(y*) / Σ m: the ``gold-sft`` variant is continued SFT through the RL code path.
"""

from __future__ import annotations

import torch

from sandbox.model.model import token_logprobs
from sandbox.model.sampler import SamplingConfig
from sandbox.rollout.batching import evaluating
from sandbox.rollout.rollouts import Rollouts, Verdicts, response_step_ids


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
    prompts = [tok.encode(task.prompt(p), bos=True) for p in problems]
    responses = [tok.encode(task.gold_solution(p), eos=True) for p in problems]
    width = max(len(prompts[i]) + len(responses[i]) for i, _ in rows)
    tokens = torch.full((len(rows), width), tok.pad_id, dtype=torch.long)
    response_mask = torch.zeros(len(rows), width, dtype=torch.bool)
    step_ids = torch.full((len(rows), width), -1, dtype=torch.long)
    texts, row_problems = [], []
    for b, (i, _) in enumerate(rows):
        start, response = len(prompts[i]), responses[i]
        tokens[b, :start] = torch.tensor(prompts[i])
        tokens[b, start : start + len(response)] = torch.tensor(response)
        response_mask[b, start : start + len(response)] = True
        text = tok.decode(response)
        ids = response_step_ids(response, task.segment(text), tok.char_counts(response))
        step_ids[b, start : start + len(response)] = torch.tensor(ids, dtype=torch.long)
        texts.append(text)
        row_problems.append(problems[i])
    with evaluating(policy.module):
        logprobs = token_logprobs(policy.logits(tokens).cpu(), tokens, sampling.temperature) * response_mask
    return Rollouts(
        tokens=tokens,
        response_mask=response_mask,
        logprobs=logprobs,
        group=torch.tensor([problem_indices[i] for i, _ in rows]),
        step_ids=step_ids,
        truncated=torch.zeros(len(rows), dtype=torch.bool),
        prompt_lens=torch.tensor([len(prompts[i]) for i, _ in rows]),
        response_lens=torch.tensor([len(responses[i]) for i, _ in rows]),
        texts=texts,
        problems=row_problems,
        verdicts=Verdicts.lazy(task, row_problems, texts),
        problem_index=torch.tensor([problem_indices[i] for i, _ in rows]),
        rollout_index=torch.tensor([j for _, j in rows]),
    )
