"""Sequence-level sandbox rewards as TRL ``reward_funcs``, sandbox tasks as TRL datasets.

TRL's ``GRPOTrainer`` calls each reward function as

    reward_func(prompts=[...], completions=[...], completion_ids=[...], trainer_state=..., **columns)

with one entry per completion and every other dataset column forwarded by name. ``trl_dataset``
makes a ``datasets.Dataset`` whose rows are a task's problems: the ``prompt`` (``task.prompt``),
the ``problem_index`` and the ``split``; ``SandboxReward`` reads those two columns back, rebuilds
each problem with ``task.problem(problem_index, split)``, checks that the prompt TRL sampled from
contains that problem's prompt (a dataset made for another task config fails loudly), and returns

    R_i = Σ_t r_{i,t} = Σ_k w_k · source_k(rollouts, ctx)[i, last token of i]

for the variant's weighted sources, through the registry (``compute_token_rewards``) exactly as
the sandbox's trainer computes them. Only *sequence-level* variants are accepted: every source must
be one of ``SEQUENCE_LEVEL_SOURCES``, which put one reward on a row's last response token, so the
row sum is the whole reward and nothing is lost by handing TRL a scalar. A variant with any
token-level source (step rewards, PRMs, DRO's R3) is a ``ConfigError`` naming it: TRL's GRPO has
no per-token rewards to put them in. The variant's filters, estimator, loss settings and sampler
are not used: TRL computes its own advantages (e.g. ``dapo`` contributes its outcome and soft
overlong sources here, not its dynamic sampling or clip-higher, which are TRL options).

The Rollouts handed to the sources hold what sequence-level sources read: texts, problems, the
task's verdicts, group and rollout indices (a problem's rows numbered in batch order, which keys
``random_reward`` by (seed, step, problem, rollout) with step = TRL's ``global_step``), and
response lengths, counted in the policy's own tokens from ``completion_ids`` (the overlong
penalty's length). Token ids are placeholders, every row is marked finished, and step ids are
−1: no source in ``SEQUENCE_LEVEL_SOURCES`` reads them. Completions may contain any characters
(a real model's output need not fit the character tokenizer).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from sandbox.rewards.base import RewardContext, sequence_rewards
from sandbox.rewards.pieces import SEQUENCE_LEVEL_SOURCES
from sandbox.rewards.registry import Variant, compute_token_rewards, get_variant
from sandbox.rollout.rollouts import Rollouts
from toy_envs.base import SPLITS, check


INDEX_COLUMN = "problem_index"
SPLIT_COLUMN = "split"


def check_sequence_level(variant: Variant) -> None:
    """``ConfigError`` naming the variant and its token-level sources unless every source is
    sequence-level and it has no distillation term (SDPO's loss is no reward) and no refinement
    (Critique-GRPO's added rows are no reward either)."""
    token_level = [name for name, _, _ in variant.sources if name not in SEQUENCE_LEVEL_SOURCES]
    check(not variant.distillation, "variant",
          f"a sequence-level variant without a distillation term; {variant.name!r} adds the loss "
          f"{variant.distillation[0] if variant.distillation else ''!r}, which a TRL reward function cannot carry", variant.name)
    check(not variant.refinement, "variant",
          f"a sequence-level variant without a refinement; {variant.name!r} adds refined rows to its groups "
          f"({variant.refinement[0] if variant.refinement else ''!r}), which a TRL reward function cannot carry", variant.name)
    check(
        not token_level,
        "variant",
        f"a sequence-level variant (every source among {sorted(SEQUENCE_LEVEL_SOURCES)}); "
        f"{variant.name!r} has token-level source(s) {token_level}, which a TRL reward function cannot carry",
        variant.name,
    )


def rollout_indices(problem_index: Sequence[int]) -> list[int]:
    """Each row's number among the rows of its problem, in batch order (0, 1, … per problem)."""
    seen: dict[int, int] = {}
    out = []
    for index in problem_index:
        out.append(seen.get(index, 0))
        seen[index] = out[-1] + 1
    return out


def reward_rollouts(task, problems: Sequence, texts: Sequence[str], lengths: Sequence[int]) -> Rollouts:
    """Rollouts for sequence-level sources: a one-token placeholder prompt, ``lengths[i]`` response
    tokens (at least 1, so the last token is a response token), the task's verdicts of ``texts``."""
    n = len(texts)
    response_lens = torch.tensor([max(1, int(length)) for length in lengths], dtype=torch.long)
    width = 1 + int(response_lens.max()) if n else 1
    positions = torch.arange(width)[None, :]
    mask = (positions >= 1) & (positions <= response_lens[:, None])
    problem_index = [problem.index for problem in problems]
    return Rollouts(
        tokens=torch.zeros((n, width), dtype=torch.long),
        response_mask=mask,
        logprobs=torch.zeros((n, width)),
        group=torch.tensor(problem_index, dtype=torch.long),
        step_ids=torch.full((n, width), -1, dtype=torch.long),
        truncated=torch.zeros(n, dtype=torch.bool),
        prompt_lens=torch.ones(n, dtype=torch.long),
        response_lens=response_lens,
        texts=list(texts),
        problems=list(problems),
        verdicts=[task.score(problem, text) for problem, text in zip(problems, texts)],
        problem_index=torch.tensor(problem_index, dtype=torch.long),
        rollout_index=torch.tensor(rollout_indices(problem_index), dtype=torch.long),
    )


def message_text(message: Any) -> str:
    """The text of a standard (string) or conversational (list of messages) prompt/completion:
    the last message's content."""
    if isinstance(message, str):
        return message
    return str(message[-1]["content"])


class SandboxReward:
    """A TRL reward function: a sequence-level variant's summed sandbox reward per completion."""

    def __init__(self, variant: str, task, seed: int = 0, max_new_tokens: int = 64) -> None:
        self.variant = get_variant(variant)
        check_sequence_level(self.variant)
        self.task = task
        self.seed = seed
        self.max_new_tokens = max_new_tokens
        self.__name__ = f"sandbox/{variant}"

    def __call__(
        self,
        prompts: Sequence,
        completions: Sequence,
        completion_ids: Sequence[Sequence[int]] | None = None,
        trainer_state: Any = None,
        **columns,
    ) -> list[float]:
        """One float per completion; ``columns`` must hold ``problem_index`` (``split`` defaults
        to ``"train"``)."""
        problems = self.problems(prompts, columns)
        texts = [message_text(completion) for completion in completions]
        lengths = [len(ids) for ids in completion_ids] if completion_ids is not None else [len(t) + 1 for t in texts]
        rollouts = reward_rollouts(self.task, problems, texts, lengths)
        step = 0 if trainer_state is None else int(trainer_state.global_step)
        ctx = RewardContext(task=self.task, seed=self.seed, step=step, max_new_tokens=self.max_new_tokens)
        rewards = compute_token_rewards(self.variant, rollouts, ctx)
        return sequence_rewards(rewards, rollouts.response_mask).tolist()

    def problems(self, prompts: Sequence, columns: dict) -> list:
        """The problem of each row from its ``problem_index``/``split`` columns, checked against its prompt."""
        if INDEX_COLUMN not in columns:
            raise ValueError(
                f"the dataset has no {INDEX_COLUMN!r} column: make it with sandbox.interop.trl.trl_dataset "
                f"(columns given: {sorted(columns)})"
            )
        indices = columns[INDEX_COLUMN]
        splits = columns.get(SPLIT_COLUMN) or ["train"] * len(indices)
        problems = [self.task.problem(int(index), split) for index, split in zip(indices, splits)]
        for row, (prompt, problem) in enumerate(zip(prompts, problems)):
            expected = self.task.prompt(problem).strip()
            if expected not in message_text(prompt):
                raise ValueError(
                    f"row {row}: the prompt does not contain problem {problem.index} ({problem.split}) of "
                    f"{self.task!r}, {expected!r}: the dataset was made for another task or config"
                )
        return problems


def trl_reward(variant: str, task, seed: int = 0, max_new_tokens: int = 64) -> SandboxReward:
    """The sequence-level ``variant`` on ``task`` as a TRL ``reward_funcs`` entry (``ConfigError``
    for an unknown or token-level variant). ``max_new_tokens`` is the response budget the overlong
    penalty measures against (TRL's ``max_completion_length``)."""
    return SandboxReward(variant, task, seed=seed, max_new_tokens=max_new_tokens)


def trl_dataset(task, n: int, split: str = "train", start: int = 0):
    """A ``datasets.Dataset`` of problems ``start .. start + n − 1`` of ``split``: columns
    ``prompt`` (the task's prompt, a plain string), ``problem_index`` and ``split``."""
    from datasets import Dataset

    check(isinstance(n, int) and n >= 1, "n", "an integer >= 1", n)
    check(split in SPLITS, "split", f"one of {SPLITS}", split)
    indices = list(range(start, start + n))
    return Dataset.from_dict(
        {
            "prompt": [task.prompt(task.problem(index, split)) for index in indices],
            INDEX_COLUMN: indices,
            SPLIT_COLUMN: [split] * n,
        }
    )
