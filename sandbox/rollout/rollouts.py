"""``Rollouts``: the one structure every reward piece reads.

B rows, each ``prompt · response · padding`` right-padded to T tokens, with:

    tokens          [B, T] long   token ids
    response_mask   [B, T] bool   sampled tokens (``<eos>`` included)
    logprobs        [B, T] float  behaviour log-probs log π_old(y_t | ·) under the
                                  temperature-scaled policy, before top-p truncation
                                  (the loss recomputes exactly this quantity); 0 off-response
    group           [B]    long   which problem (rows with one value form a GRPO group)
    step_ids        [B, T] long   step index of each response token, −1 on prompt/padding;
                                  the answer line is its own (last) step, ``<eos>`` joins it
    truncated       [B]    bool   hit the token budget without ``<eos>``
    texts, problems, verdicts     decoded responses, the problems, and the task's verdict
                                  per row (correct, parse status, per-step validity and value);
                                  the samplers give ``Verdicts.lazy``: a row's verdict is
                                  computed (``task.score``) the first time something reads it,
                                  then kept, so a piece that never reads one never runs the
                                  verifier (the samplers segment steps with ``task.segment``)

A truncated row is scored like any other (its outcome reward sits on its last token) and its
truncation is visible to every piece. ``select(rows)`` and ``cat`` keep all fields aligned.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import torch

from toy_envs.base import Verdict


class _Pending:
    """One row's verdict before and after the task's ``score`` ran (shared by every selection
    of the row, so it runs at most once)."""

    __slots__ = ("task", "problem", "text", "verdict")

    def __init__(self, task, problem, text: str) -> None:
        self.task, self.problem, self.text, self.verdict = task, problem, text, None

    def resolve(self) -> Verdict:
        if self.verdict is None:
            self.verdict = self.task.score(self.problem, self.text)
            self.task = self.problem = self.text = None
        return self.verdict


class Verdicts(Sequence):
    """The verdicts of a batch's rows, each computed by the task's ``score`` the first time it
    is read and kept from then on. Reads like a list (index, iterate, ``len``, ``==``);
    ``Rollouts.select``/``cat`` keep rows that nobody read unscored. The trainer and every
    reward piece reach the verifier only through this, so a variant whose pieces never read a
    verdict (and that logs no verdict metrics, ``Variant.uses_verifier``) never runs it."""

    def __init__(self, entries) -> None:
        self._entries = list(entries)

    @classmethod
    def lazy(cls, task, problems, texts) -> Verdicts:
        """``task.score(problem, text)`` per row, deferred until read."""
        return cls(_Pending(task, p, t) for p, t in zip(problems, texts, strict=True))

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        entry = self._entries[operator.index(index)]
        return entry.resolve() if isinstance(entry, _Pending) else entry

    def __eq__(self, other) -> bool:
        return isinstance(other, Sequence) and not isinstance(other, str) and list(self) == list(other)

    def __repr__(self) -> str:
        return f"Verdicts({len(self)} rows, {self.scored()} scored)"

    def scored(self) -> int:
        """How many rows' verdicts have been computed so far."""
        return sum(not isinstance(e, _Pending) or e.verdict is not None for e in self._entries)

    def take(self, idx: list[int]) -> Verdicts:
        return Verdicts(self._entries[i] for i in idx)

    @staticmethod
    def concat(parts: list) -> Verdicts:
        """Rows of ``parts`` (``Verdicts`` or plain lists of verdicts) in order."""
        return Verdicts(e for part in parts for e in (part._entries if isinstance(part, Verdicts) else part))


@dataclass
class Rollouts:
    tokens: torch.Tensor
    response_mask: torch.Tensor
    logprobs: torch.Tensor
    group: torch.Tensor
    step_ids: torch.Tensor
    truncated: torch.Tensor
    prompt_lens: torch.Tensor
    response_lens: torch.Tensor
    texts: list[str]
    problems: list[Any]
    verdicts: Sequence[Verdict]
    """A list of verdicts or ``Verdicts`` (computed when first read)."""
    problem_index: torch.Tensor
    """[B] the problem's index in the task's train split (keys randomness and refills)."""
    rollout_index: torch.Tensor
    """[B] the row's index within its group's sampling (0..G−1)."""
    extras: dict[str, Any] = field(default_factory=dict)
    """Per-row data added by special samplers (e.g. the tree structure); lists or [B, ...] tensors."""

    def __post_init__(self) -> None:
        b = self.tokens.shape[0]
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, (torch.Tensor, list, Verdicts)) and len(value) != b:
                raise ValueError(f"Rollouts.{f.name} has {len(value)} rows, expected {b}")

    @classmethod
    def from_texts(
        cls,
        task,
        problems: Sequence,
        texts: Sequence[str],
        truncated: Sequence[bool] | None = None,
        *,
        tokenizer=None,
        responses: Sequence[Sequence[int]] | None = None,
        logprobs: Sequence[Sequence[float]] | None = None,
        rollout_index: Sequence[int] | None = None,
        extras: dict[str, Any] | None = None,
    ) -> Rollouts:
        """Rollouts of ``texts`` as responses to ``problems`` (one problem per row; rows of one
        problem form its group), right-padded: the one constructor for rows that are not a
        policy's padded samples (gold solutions, tree leaves, test and adapter batches).

        Row b is ``<bos> task.prompt(problems[b])`` then ``responses[b]`` (default: the encoded
        text with ``<eos>``, none where ``truncated[b]``) with behaviour log-probs ``logprobs[b]``
        (default 0). Step ids come from ``task.segment`` and the tokenizer's ``char_counts``
        (``response_step_ids``); group and problem index are ``problem.index``; ``rollout_index``
        defaults to each row's number among its problem's rows in batch order; the verdicts are
        ``Verdicts.lazy`` (the task's score, computed when first read). ``tokenizer`` defaults
        to the character tokenizer."""
        from sandbox.model.tokenizer import CharTokenizer
        from sandbox.rollout.batching import pad_rows

        tok = tokenizer or CharTokenizer()
        n = len(texts)
        truncated = [False] * n if truncated is None else [bool(cut) for cut in truncated]
        prompts = [tok.encode(task.prompt(problem), bos=True) for problem in problems]
        if responses is None:
            responses = [tok.encode(text, eos=not cut) for text, cut in zip(texts, truncated)]
        responses = [list(r) for r in responses]
        if any(cut and not r for r, cut in zip(responses, truncated)):
            raise ValueError("a truncated row needs a non-empty response (its last token carries its reward)")
        steps = [response_step_ids(r, task.segment(text), tok.char_counts(r)) for r, text in zip(responses, texts)]
        problem_index = [problem.index for problem in problems]
        if rollout_index is None:
            seen: dict[int, int] = {}
            rollout_index = []
            for index in problem_index:
                rollout_index.append(seen.get(index, 0))
                seen[index] = rollout_index[-1] + 1
        zeros = [[0.0] * len(r) for r in responses] if logprobs is None else [list(lp) for lp in logprobs]
        return cls(
            tokens=pad_rows([p + r for p, r in zip(prompts, responses)], tok.pad_id),
            response_mask=pad_rows([[False] * len(p) + [True] * len(r) for p, r in zip(prompts, responses)], False, torch.bool),
            logprobs=pad_rows([[0.0] * len(p) + lp for p, lp in zip(prompts, zeros)], 0.0, torch.float32),
            group=torch.tensor(problem_index, dtype=torch.long),
            step_ids=pad_rows([[-1] * len(p) + ids for p, ids in zip(prompts, steps)], -1),
            truncated=torch.tensor(truncated, dtype=torch.bool),
            prompt_lens=torch.tensor([len(p) for p in prompts], dtype=torch.long),
            response_lens=torch.tensor([len(r) for r in responses], dtype=torch.long),
            texts=list(texts),
            problems=list(problems),
            verdicts=Verdicts.lazy(task, list(problems), list(texts)),
            problem_index=torch.tensor(problem_index, dtype=torch.long),
            rollout_index=torch.tensor(list(rollout_index), dtype=torch.long),
            extras=dict(extras or {}),
        )

    def __len__(self) -> int:
        return self.tokens.shape[0]

    @property
    def device(self) -> torch.device:
        return self.tokens.device

    @property
    def correct(self) -> torch.Tensor:
        """[B] float: 1.0 where the task judged the final answer right."""
        return torch.tensor([float(v.correct) for v in self.verdicts], device=self.device)

    @property
    def last_token(self) -> torch.Tensor:
        """[B] position of each row's last response token."""
        return self.prompt_lens + self.response_lens - 1

    def select(self, rows: torch.Tensor | list[int]) -> Rollouts:
        """The rows ``rows`` (indices or a bool mask), every field kept aligned."""
        rows = torch.as_tensor(rows, device=self.device, dtype=None if len(rows) else torch.long)
        if rows.dtype == torch.bool:
            rows = rows.nonzero().flatten()
        idx = rows.tolist()
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "extras":
                out[f.name] = {k: _take(v, rows, idx) for k, v in value.items()}
            else:
                out[f.name] = _take(value, rows, idx)
        width = int((out["prompt_lens"] + out["response_lens"]).max()) if idx else 0
        for name in ("tokens", "response_mask", "logprobs", "step_ids"):
            out[name] = out[name][:, :width]
        return Rollouts(**out)

    @staticmethod
    def cat(parts: list[Rollouts], pad_id: int = 0) -> Rollouts:
        """Rows of all ``parts`` in order; token tensors are right-padded to the widest."""
        if not parts:
            raise ValueError("Rollouts.cat needs at least one part")
        width = max(p.tokens.shape[1] for p in parts)
        fill = {"tokens": pad_id, "response_mask": False, "logprobs": 0.0, "step_ids": -1}
        out = {}
        for f in fields(Rollouts):
            values = [getattr(p, f.name) for p in parts]
            if f.name in fill:
                padded = [torch.nn.functional.pad(v, (0, width - v.shape[1]), value=fill[f.name]) for v in values]
                out[f.name] = torch.cat(padded)
            elif f.name == "extras":
                keys = set().union(*(v.keys() for v in values))
                out[f.name] = {k: _concat([v[k] for v in values]) for k in keys}
            else:
                out[f.name] = _concat(values)
        return Rollouts(**out)


def _take(value, rows: torch.Tensor, idx: list[int]):
    if isinstance(value, torch.Tensor):
        return value[rows]
    if isinstance(value, Verdicts):
        return value.take(idx)
    return [value[i] for i in idx]


def _concat(values: list):
    if isinstance(values[0], torch.Tensor):
        return torch.cat(values)
    if any(isinstance(v, Verdicts) for v in values):
        return Verdicts.concat(values)
    return [x for v in values for x in v]


def response_step_ids(response_tokens: list[int], steps, char_counts: list[int]) -> list[int]:
    """Step index of each response token from the task's character spans.

    ``char_counts[i]`` is how many characters token i adds to the decoded text (the
    tokenizer's ``char_counts``; a bool per token works for the character tokenizer). A token
    belongs to the step of its first character; a token that adds none (``<eos>``, or a stray
    ``<pad>``/``<bos>``/``<sep>`` that decoding drops) joins the step of the character before
    it (the first step if there is none). A response with no step (empty text) gets −1
    everywhere.
    """
    if not steps:
        return [-1] * len(response_tokens)
    char_step = [0] * steps[-1].end
    for step in steps:
        char_step[step.start : step.end] = [step.index] * (step.end - step.start)
    ids, char, current = [], 0, steps[0].index
    for count in char_counts:
        if count and char < len(char_step):
            current = char_step[char]
        char += int(count)
        ids.append(current)
    return ids


def step_ends(mask: torch.Tensor, step_ids: torch.Tensor) -> torch.Tensor:
    """[B, T] bool: response tokens that are the last token of their step."""
    in_step = mask & (step_ids >= 0)
    next_ids = torch.nn.functional.pad(step_ids[:, 1:], (0, 1), value=-1)
    next_in_response = torch.nn.functional.pad(mask[:, 1:], (0, 1), value=False)
    return in_step & ((next_ids != step_ids) | ~next_in_response)
