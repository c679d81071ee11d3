"""``check_filter``: property-test any rollout filter, yours included.

    from sandbox.testing import check_filter
    def test_my_filter():
        check_filter(my_filter, kind="variance", metric="reward")

``fn(rollouts, token_rewards [B,T], ctx)`` must return a ``FilterResult`` (or a bare keep
tensor) whose ``keep`` is a bool [B] mask (the ``Filter`` protocol of ``sandbox.rewards.base``).
The check draws ``Rollouts`` of a real task (``sandbox.testing.strategies.rollouts_batches``:
1..4 groups of 1..5 rows answering one problem each, gold / wrong / answerless / garbage texts,
some truncated) with arbitrary rewards on prompt and padding tokens and, per group, either one
reward from a small pool on every row's last response token (a constant group), or one list of
per-token rewards in another order on each row (a constant group whose exact totals are equal
but whose float32 sums may not be), or rewards that differ between rows (a varying group: about half
of the groups of two or more rows; half of those with a small spread, 0.01 to 0.25).

Kinds, and what each is promised (✓ = checked):

    invariant                        row    group   group_rows   variance
    keep is a bool [B] mask           ✓       ✓          ✓           ✓
    stateless                         ✓       ✓          ✓           ✓
    ignores rewards off the response  ✓       ✓          ✓           ✓
    row permutation                   ✓       ✓          ✓           ✓
    whole groups                              ✓                      ✓
    row locality                      ✓
    group locality                            ✓          ✓           ✓
    zero variance rejected                                           ✓

- ``row``: keeps or drops single rows on their own merits (a rubric gate): a row's decision is
  the same when it is filtered alone ("row locality").
- ``group``: keeps or drops whole groups ("whole groups": all rows of a group share one
  decision) from the group alone ("group locality": the same decision when the group is
  filtered on its own, so no batch-level statistic leaks in).
- ``group_rows``: decides each row from its group alone, not necessarily the same for all of a
  group's rows (DRO's group rubric gate: groups with too few valid rows go, and the invalid rows
  of the others): "group locality" only.
- ``variance``: a group filter that keeps exactly the groups whose ``metric`` varies (DAPO's
  dynamic sampling): a group whose metric is constant — of any size, one and two rows included —
  is dropped, and a group whose metric differs between two rows is kept. ``metric="reward"``
  is each row's summed token reward over its response, ``"accuracy"`` the task's 1[correct].

"Stateless": the same rollouts and rewards give the same keep mask twice in a row and again after
another batch. "Row permutation": reordering the rows reorders the keep mask the same way. "Ignores rewards
off the response": rewards on prompt and padding tokens change no decision. A failure raises
``InvariantError`` (an ``AssertionError``) naming the invariant, with hypothesis' shrunk
counterexample; its ``example`` holds the texts, groups, metric and keep masks.
"""

from __future__ import annotations

import random
from typing import Callable, NamedTuple

import torch
from hypothesis import strategies as st

from sandbox.rewards.base import FilterResult, RewardContext
from sandbox.rollout.rollouts import Rollouts
from sandbox.testing.invariants import InvariantError, render_rows, run_property
from sandbox.testing.strategies import REWARD_POOLS, batch_permutations, permuted_token_rewards, rollouts_batches
from toy_envs import make_task
from toy_envs.base import check

SMALL_STEPS = (0.0, 0.01, 0.1, 0.25)
"""Offsets from one pool value that give a varying group a small spread."""

KINDS = ("row", "group", "group_rows", "variance")
"""The filter kinds (see the module docstring)."""
METRICS = ("reward", "accuracy")
"""What a variance filter looks at."""


class FilterCase(NamedTuple):
    """One drawn example."""

    rollouts: Rollouts
    rewards: torch.Tensor
    """[B, T] token rewards on the response (see the module docstring), noise off it."""
    off_response: torch.Tensor
    """[B, T] other values for the tokens off the response."""
    order: torch.Tensor
    """[B] a row permutation."""


@st.composite
def filter_cases(draw, task, max_groups: int = 4, max_group_size: int = 5) -> FilterCase:
    """Rollouts of ``task`` with pooled last-token rewards (see the module docstring)."""
    rollouts = draw(rollouts_batches(task, max_groups=max_groups, max_group_size=max_group_size))
    n_rows, width = rollouts.tokens.shape
    pool = draw(st.lists(draw(st.sampled_from(REWARD_POOLS)), min_size=2, max_size=3, unique=True))
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))

    def noise() -> torch.Tensor:
        return torch.tensor([[rng.choice((-2.0, -1.0, 0.5, 1.0, 3.0)) for _ in range(width)] for _ in range(n_rows)])

    rewards = torch.where(rollouts.response_mask, torch.zeros(n_rows, width), noise())
    for g in sorted(set(rollouts.group.tolist())):
        rows = rows_of(rollouts.group, g)
        shape = draw(st.sampled_from(("varying", "constant", "permuted", "varying")))  # half vary
        if shape == "varying" and len(rows) > 1:
            values = [rng.choice(pool) for _ in rows]
            if len(set(values)) == 1:
                values[rng.randrange(len(rows))] = next(v for v in pool if v != values[0])
            if draw(st.booleans()):  # a small spread: one pool value, some rows a little above it
                steps = [rng.choice(SMALL_STEPS) for _ in rows]
                low, high = rng.sample(range(len(rows)), 2)
                steps[low], steps[high] = 0.0, rng.choice(SMALL_STEPS[1:])
                values = [values[0] + step for step in steps]
            rewards[rows, rollouts.last_token[rows]] = torch.tensor(values, dtype=torch.float32)
        elif shape == "permuted":
            length = min(8, int(rollouts.response_mask[rows].sum(1).min()))
            for row, values in zip(rows, draw(permuted_token_rewards(len(rows), length))):
                start = int(rollouts.response_mask[row].int().argmax())
                rewards[row, start : start + length] = values
        else:
            rewards[rows, rollouts.last_token[rows]] = rng.choice(pool)
    return FilterCase(rollouts, rewards, noise(), draw(batch_permutations(n_rows)))


def row_metric(rollouts: Rollouts, rewards: torch.Tensor, metric: str) -> torch.Tensor:
    """[B] float64 the metric a variance filter must look at."""
    if metric == "accuracy":
        return rollouts.correct.double()
    return (rewards.double() * rollouts.response_mask).sum(-1)


def rows_of(group: torch.Tensor, g: int) -> list[int]:
    return [i for i, x in enumerate(group.tolist()) if x == g]


class FilterUnderTest:
    """The filter, called the same way each time and its keep mask checked."""

    def __init__(self, fn: Callable, ctx: RewardContext, params: dict):
        self.fn, self.ctx, self.params = fn, ctx, params

    def __call__(self, rollouts: Rollouts, rewards: torch.Tensor) -> torch.Tensor:
        out = self.fn(rollouts, rewards.clone(), self.ctx, **self.params)
        keep = out.keep if isinstance(out, FilterResult) else out
        if not (isinstance(keep, torch.Tensor) and keep.dtype == torch.bool and keep.shape == (len(rollouts),)):
            described = f"{type(keep).__name__} {getattr(keep, 'dtype', '')} {tuple(getattr(keep, 'shape', ()))}"
            fail("keep is a bool [B] mask", "the filter returns FilterResult(keep=bool tensor [B]) or that tensor",
                 f"got {described} for B = {len(rollouts)}", rollouts, rewards, {})
        return keep.cpu()


def fail(invariant: str, demand: str, detail: str, rollouts: Rollouts, rewards: torch.Tensor, columns: dict) -> None:
    """Raise ``InvariantError`` showing each row's text, correctness, summed reward and ``columns``."""
    labels = [f"row {b} group {g}" for b, g in enumerate(rollouts.group.tolist())]
    summed = (rewards.double() * rollouts.response_mask).sum(-1)
    table = render_rows(labels, rollouts.response_mask, {"correct": rollouts.correct.double(), "summed reward": summed,
                                                         **{k: v.double() for k, v in columns.items()}})
    texts = "\n".join(f"  row {b} text: {t!r}" for b, t in enumerate(rollouts.texts))
    example = {"texts": list(rollouts.texts), "group": rollouts.group, "correct": rollouts.correct,
               "summed_reward": summed, "rewards": rewards, **columns}
    raise InvariantError(invariant, demand, f"{detail}\ncounterexample:\n{table}\n{texts}", example)


def check_common(fut: FilterUnderTest, case: FilterCase, keep: torch.Tensor) -> None:
    rollouts, rewards = case.rollouts, case.rewards
    again = fut(rollouts, rewards)
    alone_keep(fut, rollouts, rewards, case.order[: max(1, len(rollouts) - 1)].tolist())  # another batch
    after = fut(rollouts, rewards)
    for label, other in (("called twice in a row", again), ("called again after another batch", after)):
        if not torch.equal(keep, other):
            fail("stateless", "the same rollouts, rewards and context give the same keep mask every time (no "
                 "global random state, caches or running statistics)", f"the same batch {label} disagrees",
                 rollouts, rewards, {"keep": keep, "keep again": other})
    moved = torch.where(rollouts.response_mask, rewards, case.off_response)
    other = fut(rollouts, moved)
    if not torch.equal(keep, other):
        fail("ignores rewards off the response", "rewards on prompt and padding tokens change no decision",
             "only rewards off the response were replaced", rollouts, rewards, {"keep": keep, "keep after": other})
    order = case.order
    permuted = fut(rollouts.select(order), rewards[order][:, : rollouts.select(order).tokens.shape[1]])
    back = torch.empty_like(permuted)
    back[order] = permuted
    if not torch.equal(keep, back):
        fail("row permutation", "reordering the rows reorders the keep mask the same way",
             f"rows reordered as {order.tolist()}; column 'permuted' is mapped back", rollouts, rewards,
             {"keep": keep, "permuted": back})


def check_groups(fut: FilterUnderTest, case: FilterCase, keep: torch.Tensor, whole: bool = True) -> None:
    rollouts, rewards = case.rollouts, case.rewards
    for g in sorted(set(rollouts.group.tolist())):
        rows = rows_of(rollouts.group, g)
        if whole and len(set(keep[rows].tolist())) > 1:
            fail("whole groups", "a group filter keeps or drops all rows of a group together",
                 f"group {g} is split", rollouts, rewards, {"keep": keep})
    for g in sorted(set(rollouts.group.tolist())):
        rows = rows_of(rollouts.group, g)
        alone = alone_keep(fut, rollouts, rewards, rows)
        if not torch.equal(alone, keep[rows]):
            fail("group locality", "a group's decision does not depend on the other groups of the batch",
                 f"group {g} filtered alone (column 'alone') is decided differently", rollouts, rewards,
                 {"keep": keep, "alone": spread(alone, rows, len(rollouts))})


def check_rows(fut: FilterUnderTest, case: FilterCase, keep: torch.Tensor) -> None:
    rollouts, rewards = case.rollouts, case.rewards
    for row in range(len(rollouts)):
        alone = alone_keep(fut, rollouts, rewards, [row])
        if bool(alone[0]) != bool(keep[row]):
            fail("row locality", "a row's decision does not depend on the other rows of the batch",
                 f"row {row} filtered alone is decided differently", rollouts, rewards,
                 {"keep": keep, "alone": spread(alone, [row], len(rollouts))})


def alone_keep(fut: FilterUnderTest, rollouts: Rollouts, rewards: torch.Tensor, rows: list[int]) -> torch.Tensor:
    sub = rollouts.select(rows)
    return fut(sub, rewards[rows][:, : sub.tokens.shape[1]])


def spread(values: torch.Tensor, rows: list[int], n: int) -> torch.Tensor:
    """[n] float: ``values`` at ``rows``, NaN elsewhere (for the table)."""
    out = torch.full((n,), float("nan"), dtype=torch.float64)
    out[rows] = values.double()
    return out


def check_variance(fut: FilterUnderTest, case: FilterCase, keep: torch.Tensor, metric: str) -> None:
    rollouts, rewards = case.rollouts, case.rewards
    values = row_metric(rollouts, rewards, metric)
    for g in sorted(set(rollouts.group.tolist())):
        rows = rows_of(rollouts.group, g)
        varies = bool(values[rows].max() > values[rows].min())
        if bool(keep[rows[0]]) != varies:
            what = "kept although its" if not varies else "dropped although its"
            fail("zero variance rejected",
                 f"a group is kept iff its {metric} varies: zero-variance groups of any size (1 and 2 rows too) are dropped",
                 f"group {g} ({len(rows)} rows) is {what} {metric} is {'constant' if not varies else 'not constant'}",
                 rollouts, rewards, {"keep": keep})


def check_filter(
    fn: Callable,
    kind: str = "group",
    *,
    metric: str = "reward",
    task=None,
    ctx: RewardContext | None = None,
    params: dict | None = None,
    max_groups: int = 4,
    max_group_size: int = 5,
    max_examples: int | None = None,
    derandomize: bool | None = None,
    shrink: bool = True,
) -> None:
    """Property-test ``fn`` as a filter of ``kind`` (see the module docstring).

    ``task`` defines the rollouts (default: 2-step arithmetic chains); ``ctx`` is passed to the
    filter (default ``RewardContext(task=task)``); ``params`` are keyword arguments for every
    call; ``metric`` is what a ``variance`` filter looks at. ``max_examples``/``derandomize``
    override the active hypothesis profile; ``shrink=False`` skips shrinking (faster, larger
    counterexample). Raises ``InvariantError`` (an ``AssertionError``) with the shrunk
    counterexample, ``ConfigError`` for a bad argument."""
    check(kind in KINDS, "kind", f"one of {KINDS}", kind)
    check(metric in METRICS, "metric", f"one of {METRICS}", metric)
    task = task if task is not None else (ctx.task if ctx is not None else make_task("arithmetic", n_steps=2))
    fut = FilterUnderTest(fn, ctx if ctx is not None else RewardContext(task=task), dict(params or {}))

    def body(case: FilterCase) -> None:
        keep = fut(case.rollouts, case.rewards)
        check_common(fut, case, keep)
        if kind == "row":
            check_rows(fut, case, keep)
        else:
            check_groups(fut, case, keep, whole=kind != "group_rows")
        if kind == "variance":
            check_variance(fut, case, keep, metric)

    run_property(filter_cases(task, max_groups, max_group_size), body, max_examples, derandomize, shrink)
