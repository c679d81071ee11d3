"""``Rollouts`` built from given response texts, without a policy.

Each row is ``<bos> prompt · response · <eos>`` in the character tokenizer (a truncated row has
no ``<eos>``), right-padded; the verdict is the task's score of the text, the step ids come from
the task's segmentation, and a row's group is its problem's index. Behaviour log-probs are 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from sandbox.model.tokenizer import SPECIAL_TOKENS, CharTokenizer
from sandbox.rollout.rollouts import Rollouts, response_step_ids


def rollouts_from_texts(
    task, problems: Sequence, texts: Sequence[str], truncated: Sequence[bool] | None = None
) -> Rollouts:
    """Rollouts of ``texts`` as responses to ``problems`` (one problem per row, repeats form
    groups); ``truncated[i]`` drops row i's ``<eos>``."""
    tokenizer = CharTokenizer()
    truncated = [False] * len(texts) if truncated is None else list(truncated)
    if any(cut and not text for text, cut in zip(texts, truncated)):
        raise ValueError("a truncated row needs a non-empty response (its last token carries its reward)")
    prompts = [tokenizer.encode(task.prompt(problem), bos=True) for problem in problems]
    responses = [tokenizer.encode(text, eos=not cut) for text, cut in zip(texts, truncated)]
    width = max(len(p) + len(r) for p, r in zip(prompts, responses))
    tokens = torch.full((len(texts), width), tokenizer.pad_id, dtype=torch.long)
    mask = torch.zeros((len(texts), width), dtype=torch.bool)
    step_ids = torch.full((len(texts), width), -1, dtype=torch.long)
    for row, (prompt, response, text) in enumerate(zip(prompts, responses, texts)):
        end = len(prompt) + len(response)
        tokens[row, :end] = torch.tensor(prompt + response)
        mask[row, len(prompt) : end] = True
        is_char = [token >= len(SPECIAL_TOKENS) for token in response]
        step_ids[row, len(prompt) : end] = torch.tensor(response_step_ids(response, task.segment(text), is_char))
    problem_index = [problem.index for problem in problems]
    seen: dict[int, int] = {}
    rollout_index = []
    for index in problem_index:
        rollout_index.append(seen.get(index, 0))
        seen[index] = rollout_index[-1] + 1
    return Rollouts(
        tokens=tokens,
        response_mask=mask,
        logprobs=torch.zeros((len(texts), width)),
        group=torch.tensor(problem_index),
        step_ids=step_ids,
        truncated=torch.tensor(truncated, dtype=torch.bool),
        prompt_lens=torch.tensor([len(p) for p in prompts]),
        response_lens=torch.tensor([len(r) for r in responses]),
        texts=list(texts),
        problems=list(problems),
        verdicts=[task.score(problem, text) for problem, text in zip(problems, texts)],
        problem_index=torch.tensor(problem_index),
        rollout_index=torch.tensor(rollout_index),
    )
