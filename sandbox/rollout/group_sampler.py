"""Group sampling: G rollouts of each problem; each row's verdict is computed by the task's
oracle once, when something first reads it (``Verdicts.lazy``): the step ids come from the
task's segmentation (``task.segment``), which needs no verifier.

Row (problem p, rollout j) at RL step s draws its tokens with noise keyed by
``row_key(seed, s, p, j)``: the same row gets the same sample whatever else is in the batch,
however many processes share the work, and wherever a resumed run restarts.
"""

from __future__ import annotations

import torch

from sandbox.model.sampler import SamplingConfig
from sandbox.rng import row_keys
from sandbox.rollout.batching import evaluating
from sandbox.rollout.rollouts import Rollouts, Verdicts, response_step_ids


def sample_groups(
    policy,
    task,
    problem_indices: list[int],
    group_size: int,
    sampling: SamplingConfig,
    seed: int,
    step: int,
    split: str = "train",
) -> Rollouts:
    """``group_size`` rollouts of each of ``problem_indices``, rows of one problem adjacent."""
    if group_size < 1:
        raise ValueError(f"group_size={group_size} is not allowed: an integer >= 1")
    tok = policy.tokenizer
    problems = [task.problem(i, split=split) for i in problem_indices]
    prompt_ids = [tok.encode(task.prompt(p), bos=True) for p in problems]
    rows = [(i, j) for i in range(len(problems)) for j in range(group_size)]
    keys = row_keys(seed, [(step, problem_indices[i], j) for i, j in rows])
    with evaluating(policy.module):
        out = policy.sample([prompt_ids[i] for i, _ in rows], sampling, keys)

    texts, row_problems = [], []
    step_ids = torch.full_like(out.tokens, -1)
    for b, (i, _) in enumerate(rows):
        start, length = int(out.prompt_lens[b]), int(out.response_lens[b])
        response = out.tokens[b, start : start + length].tolist()
        text = tok.decode(response)
        ids = response_step_ids(response, task.segment(text), tok.char_counts(response))
        step_ids[b, start : start + length] = torch.tensor(ids, dtype=torch.long)
        texts.append(text)
        row_problems.append(problems[i])
    return Rollouts(
        tokens=out.tokens,
        response_mask=out.response_mask,
        logprobs=out.logprobs,
        group=torch.tensor([problem_indices[i] for i, _ in rows]),
        step_ids=step_ids,
        truncated=out.truncated,
        prompt_lens=out.prompt_lens,
        response_lens=out.response_lens,
        texts=texts,
        problems=row_problems,
        verdicts=Verdicts.lazy(task, row_problems, texts),
        problem_index=torch.tensor([problem_indices[i] for i, _ in rows]),
        rollout_index=torch.tensor([j for _, j in rows]),
    )
