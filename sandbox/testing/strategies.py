"""Hypothesis strategies for reward pieces: random groups, token layouts and rollouts.

    group_layouts          group id per row: 1..5 groups of 1..6 rows, ids arbitrary, rows shuffled
    contiguous_group_layouts   1..5 groups of exactly G rows each, as contiguous blocks (TRL's layout)
    estimator_batches      (rewards, mask, group, step_ids) for any ``AdvantageEstimator``
    within_group_permutations / batch_permutations   row orders to check permutation properties
    rollouts_batches       ``Rollouts`` of a real task: gold, wrong, answerless and garbage texts

Token layouts are right-padded rows ``prompt · response · padding``; step ids are a
non-decreasing step index from 0 over the response and −1 elsewhere. Rewards sit on the last
response token, on step ends, or on every response token, with arbitrary values *off* the
response too, which every estimator must ignore. Reward values come from a small pool per
example, so that ties (equal rewards within a group) are common.
"""

from __future__ import annotations

import random
from typing import NamedTuple

import torch
from hypothesis import strategies as st

from sandbox.rollout.rollouts import Rollouts

REWARD_POOLS = (
    st.sampled_from([0.0, 1.0]),
    st.sampled_from([-1.0, 0.0, 0.5, 1.0, 2.0]),
    st.integers(-40, 40).map(lambda k: k / 10),
    st.floats(-4.0, 4.0, allow_nan=False, allow_subnormal=False, width=32),
)
"""Where reward values come from: binary, a small set, a 0.1 grid, any bounded float."""

REWARD_LAYOUTS = ("last", "step_ends", "dense")

TOKEN_REWARDS = st.one_of(
    st.integers(-100, 100).map(lambda k: k / 100),
    st.builds(lambda sign, significand, exponent: sign * significand * 2.0 ** (exponent - 23),
              st.sampled_from((-1, 1)), st.integers(2**23, 2**24 - 1), st.integers(-8, 1)),
)
"""Per-token rewards for equal-total rows: a 0.01 grid (not exact in binary), or float32 values
with all 24 significand bits used and magnitudes in [2^-8, 4), whose float32 sums depend on the
order of the terms far more often (float64 sums of either are exact, hence order-free)."""


@st.composite
def permuted_token_rewards(draw, n_rows: int, length: int) -> torch.Tensor:
    """[n_rows, length] float32: one drawn list of ``length`` token rewards, in another order on
    each row -- rows whose exact totals are equal, though their float32 sums may not be."""
    values = draw(st.lists(TOKEN_REWARDS, min_size=length, max_size=length))
    rows = [draw(st.permutations(values)) for _ in range(n_rows)]
    return torch.tensor(rows, dtype=torch.float32)


class EstimatorBatch(NamedTuple):
    """The arguments of an ``AdvantageEstimator``."""

    rewards: torch.Tensor
    """[B, T] float32."""
    mask: torch.Tensor
    """[B, T] bool response tokens."""
    group: torch.Tensor
    """[B] long group ids."""
    step_ids: torch.Tensor
    """[B, T] long step index on response tokens, −1 elsewhere."""


@st.composite
def group_layouts(draw, max_groups: int = 5, max_group_size: int = 6) -> list[int]:
    """A group id per row: 1..max_groups groups of 1..max_group_size rows, in shuffled order."""
    n_groups = draw(st.integers(1, max_groups))
    ids = draw(st.lists(st.integers(0, 10**6), min_size=n_groups, max_size=n_groups, unique=True))
    sizes = draw(st.lists(st.integers(1, max_group_size), min_size=n_groups, max_size=n_groups))
    rows = [group for group, size in zip(ids, sizes) for _ in range(size)]
    return draw(st.permutations(rows))


@st.composite
def contiguous_group_layouts(draw, max_groups: int = 5, group_size: int = 4) -> list[int]:
    """A group id per row: 1..max_groups groups of exactly ``group_size`` rows, each group one
    contiguous block (the layout TRL's GRPOTrainer assumes: ``num_generations`` completions of a
    prompt side by side); ids arbitrary and distinct."""
    n_groups = draw(st.integers(1, max_groups))
    ids = draw(st.lists(st.integers(0, 10**6), min_size=n_groups, max_size=n_groups, unique=True))
    return [group for group in ids for _ in range(group_size)]


def step_index_sequence(rng: random.Random, length: int) -> list[int]:
    """A non-decreasing step index from 0 over ``length`` tokens (a new step starts w.p. 1/3)."""
    ids = [0]
    for _ in range(length - 1):
        ids.append(ids[-1] + (rng.random() < 1 / 3))
    return ids


def step_end_positions(step_ids: list[int]) -> list[int]:
    """Positions (within the response) of each step's last token."""
    return [t for t in range(len(step_ids)) if t == len(step_ids) - 1 or step_ids[t + 1] != step_ids[t]]


@st.composite
def estimator_batches(
    draw,
    max_groups: int = 5,
    max_group_size: int = 6,
    max_prompt: int = 4,
    max_response: int = 8,
    layouts: tuple[str, ...] = REWARD_LAYOUTS,
    pools: tuple = REWARD_POOLS,
    group_size: int | None = None,
) -> EstimatorBatch:
    """Random estimator inputs (see the module docstring); with ``group_size``, groups of exactly
    that many rows in contiguous blocks (``contiguous_group_layouts``), else ``group_layouts``."""
    if group_size is None:
        group = draw(group_layouts(max_groups, max_group_size))
    else:
        group = draw(contiguous_group_layouts(max_groups, group_size))
    n_rows = len(group)
    prompt_lens = draw(st.lists(st.integers(1, max_prompt), min_size=n_rows, max_size=n_rows))
    response_lens = draw(st.lists(st.integers(1, max_response), min_size=n_rows, max_size=n_rows))
    width = max(p + r for p, r in zip(prompt_lens, response_lens)) + draw(st.integers(0, 2))
    layout = draw(st.sampled_from(layouts))
    pool = draw(st.lists(draw(st.sampled_from(pools)), min_size=1, max_size=6))
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))

    rewards = torch.tensor([[rng.choice(pool) for _ in range(width)] for _ in range(n_rows)], dtype=torch.float32)
    mask = torch.zeros((n_rows, width), dtype=torch.bool)
    step_ids = torch.full((n_rows, width), -1, dtype=torch.long)
    for row, (start, length) in enumerate(zip(prompt_lens, response_lens)):
        ids = step_index_sequence(rng, length)
        mask[row, start : start + length] = True
        step_ids[row, start : start + length] = torch.tensor(ids)
        rewarded = {
            "last": [length - 1],
            "step_ends": step_end_positions(ids),
            "dense": list(range(length)),
        }[layout]
        for t in set(range(length)) - set(rewarded):
            rewards[row, start + t] = 0.0
    return EstimatorBatch(rewards, mask, torch.tensor(group), step_ids)


@st.composite
def within_group_permutations(draw, group: torch.Tensor) -> torch.Tensor:
    """[B] row order ``order`` (new row k is old row order[k]) that only shuffles rows within groups."""
    order = list(range(len(group)))
    for g in sorted(set(group.tolist())):
        rows = [i for i, x in enumerate(group.tolist()) if x == g]
        for slot, row in zip(rows, draw(st.permutations(rows))):
            order[slot] = row
    return torch.tensor(order)


def batch_permutations(n_rows: int) -> st.SearchStrategy[torch.Tensor]:
    """[B] any row order of the batch."""
    return st.permutations(range(n_rows)).map(torch.tensor)


def permute_batch(batch: EstimatorBatch, order: torch.Tensor) -> EstimatorBatch:
    """The batch with its rows in ``order``."""
    return EstimatorBatch(*(field[order] for field in batch))


TEXT_KINDS = ("gold", "wrong_answer", "no_answer", "garbage")

CONFIDENCE_LINES = st.one_of(
    st.sampled_from(["0", "1", "0.5", "1.0", "0.25", "0.125", "0.05", "0.999", "0.001"]),  # in range
    st.integers(0, 1000).map(lambda k: f"{k / 1000:g}"),  # any q in [0, 1], 0-3 decimals
    st.sampled_from(["1.5", "-0.2", "2", "-1", "10", "1.0001", "-0.0001"]),  # out of range
    st.sampled_from(["high", "nan", "inf", "-inf", "", "0.7 0.2", "70%", "1e-3"]),  # malformed
).map(lambda q: f"conf: {q}\n")
"""Confidence lines a response may write: in-range values with 0 to 3 decimals, out-of-range
values (a source must clamp or reject them), malformed ones (``nan``, ``inf`` included)."""


def answer_line_index(lines: list[str]) -> int:
    """Index of the first line starting with ``#`` (the answer line); ``len(lines)`` without one."""
    return next((i for i, line in enumerate(lines) if line.startswith("#")), len(lines))


def wrong_answer_line(draw, task, problem, steps: str) -> str:
    """An answer line the task scores wrong after ``steps``: a drawn integer, else the gold answer
    with a digit appended, else ``#x``."""
    gold = task.gold_solution(problem).splitlines(keepends=True)
    gold_answer = gold[answer_line_index(gold)].rstrip("\n")[1:] if answer_line_index(gold) < len(gold) else ""
    for candidate in (f"#{draw(st.integers(-999, 999))}\n", f"#{gold_answer}9\n", "#x\n"):
        if not task.score(problem, steps + candidate).correct:
            return candidate
    return "#x\n"


def response_text(draw, task, problem, kind: str) -> str:
    """A response of the given kind: the gold solution, its steps with a wrong answer line, its
    steps without an answer line, or random characters from the task's line grammar. On a task
    with ``confidence_line`` the gold and wrong-answer kinds end with a drawn confidence line
    (``CONFIDENCE_LINES``: the demonstration's q, other values in [0, 1], out-of-range and
    malformed ones) or none."""
    lines = task.gold_solution(problem).splitlines(keepends=True)
    answer_at = answer_line_index(lines)
    steps, answer, demonstration = "".join(lines[:answer_at]), "".join(lines[answer_at : answer_at + 1]), "".join(lines[answer_at + 1 :])
    if kind == "no_answer":
        return steps
    if kind == "garbage":
        return draw(st.text(alphabet="0123456789+-*=,#\n", max_size=16))
    if kind == "wrong_answer":
        answer = wrong_answer_line(draw, task, problem, steps)
    trailer = demonstration
    if getattr(task, "confidence_line", False):
        trailer = draw(st.one_of(st.just(demonstration), st.just(""), CONFIDENCE_LINES))
    return steps + answer + trailer


@st.composite
def rollouts_batches(
    draw, task, max_groups: int = 4, max_group_size: int = 5, kinds: tuple[str, ...] = TEXT_KINDS
):
    """``Rollouts`` of ``task``: groups of rows answering one train problem each, texts of mixed
    kinds, some truncated, rows shuffled."""
    group = draw(group_layouts(max_groups, max_group_size))
    problems = [task.problem(index) for index in group]
    texts = [response_text(draw, task, problem, draw(st.sampled_from(kinds))) for problem in problems]
    truncated = [bool(text) and draw(st.booleans()) for text in texts]
    return Rollouts.from_texts(task, problems, texts, truncated)
