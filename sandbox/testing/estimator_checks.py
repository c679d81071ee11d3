"""``check_advantage_estimator``: property-test any advantage estimator, yours included.

    from sandbox.testing import check_advantage_estimator
    def test_my_estimator():
        check_advantage_estimator(my_estimator, kind="outcome_group")

    check_advantage_estimator(my_rloo, kind="rloo")      # a standard estimator: + a built-in oracle

``fn(rewards [B,T], mask [B,T] bool, group [B], step_ids [B,T], **extras, **options)`` must
return advantages [B, T] (the ``AdvantageEstimator`` protocol of ``sandbox.rewards.base``).
The check draws random batches (``sandbox.testing.strategies.estimator_batches``: 1..4 groups
of 1..5 rows, ids arbitrary and shuffled, prompts and padding carrying arbitrary rewards that
must be ignored, rewards on the last token, on step ends or on every token, ties common) and
tests the invariants below that apply to ``kind`` (one function each in ``estimator_invariants``). A failure raises ``InvariantError`` (an
``AssertionError``) naming the invariant, with hypothesis' shrunk counterexample.

Kinds, and what each is promised (✓ = checked):

    invariant                    outcome_group  dense_group  dense  batch_whitened  dense_whitened
    output [B, T] floating             ✓             ✓         ✓          ✓               ✓
    stateless                          ✓             ✓         ✓          ✓               ✓
    inputs not modified                ✓             ✓         ✓          ✓               ✓
    finite                             ✓             ✓         ✓          ✓               ✓
    zero off the mask                  ✓             ✓         ✓          ✓               ✓
    ignores rewards off the mask       ✓             ✓         ✓          ✓               ✓
    row permutation                    ✓             ✓         ✓          ✓               ✓
    group relabelling                  ✓             ✓         ✓          ✓               ✓
    monotone in reward                 ✓             ✓         ✓          ✓               ✓
    constant over a row                ✓                                  ✓
    equal rewards give zero            ✓             ✓
    group shift                        ✓                                  ✓
    group locality                     ✓             ✓         ✓
    batch whitening                                                       ✓
    zero token mean                                                       ✓               ✓

A standard estimator's name is a kind too (``sandbox.testing.references.REFERENCES``: grpo,
dr_grpo, rloo, tree_grpo, rpp_baseline, return_to_go, process_grpo): it gets the
structural checks of its kind above *and* an "oracle" check against the kit's own reference
implementation (naive loops, independent of ``sandbox.rewards``), called with the entries of
``options`` the reference accepts (``eps``, ``std``, ``gamma``, ``baseline``, ``whiten``, ``prompt_term``)
or with ``reference_options``; ``tree_grpo`` passes the tree ids (``extras=("tree",)``).

- ``outcome_group``: one advantage per row from the rows' summed rewards, relative to the
  row's group (GRPO, Dr.GRPO, RLOO, Tree-GRPO). "Equal rewards give zero": a group whose rows
  all sum to the same reward — every group of one row included, and rows carrying one list of
  per-token rewards in different orders (equal exact totals that float32 sums may split) —
  gets exactly 0 (within ``atol``): no baseline, no signal. "Group shift": adding a constant c to every reward of one
  group changes nothing.
- ``dense_group``: per-token advantages normalised within the group (process-supervised GRPO):
  a group whose every response-token reward is the same value gets 0.
- ``dense``: per-token advantages without a group-relative promise (return-to-go, with or
  without a group-mean baseline): a group's advantages depend on that group only.
- ``batch_whitened``: group-centred outcome advantages whitened over the whole batch
  (REINFORCE++-baseline): not group-local, but the masked token mean is 0 and a batch whose
  every group is constant gets 0 everywhere.
- ``dense_whitened``: per-token advantages whitened over the whole batch (GAE and PRIME's
  return-to-go with their default ``whiten=True``): not group-local, but the masked token mean
  is 0.

The invariants: "stateless" — the same batch gives the same advantages twice in a row and again
after another batch (no running statistics, caches or global random state); "row permutation" — reordering the batch's rows (within and across groups)
reorders the advantages the same way; "group relabelling" — renaming group ids (any distinct
integers, not contiguous, not sorted) changes nothing; "ignores rewards off the mask" —
rewards on prompt and padding tokens do not matter; "monotone in reward" — a copy of a row
added to its group (and tree) with δ > 0 more reward on its last response token gets an
advantage at least the original's on every response token (a sign flip fails this); "group
locality" — each group's advantages are the same when the group is estimated alone (an std
over the batch instead of the group fails this); "zero token mean" — the advantages' mean over
all response tokens of the batch is 0; "batch whitening" — see above. With
``extras=("tree",)`` (or ``tree_node``/``tree_graph``) rows also carry a tree layout
(``sandbox.testing.trees``) passed as keyword arguments, twins join their row's tree, and
"tree relabelling" checks that renaming tree ids (distinct across the batch) changes nothing.
``oracle``, when given, is a reference implementation with the same signature that ``fn``
must match within ``atol``/``rtol``.

Contracts, for code written to narrower assumptions (``sandbox.testing.adapters`` declares them
for TRL- and verl-style functions): ``group_size=G`` draws only contiguous groups of exactly G
rows, permutes rows only within groups and whole groups as blocks, and makes the "monotone" twin
by replacing another row of the group instead of adding one; ``lone_row="raw"`` expects a group
of one row to get its own summed reward (checked as "lone row") and leaves such rows out of "group
shift" and the oracle. A function that cannot be called as ``SIGNATURE`` is refused in one line
before anything is drawn; an exception it raises is reported as the "runs" invariant with the
batch that raised it.
"""

from __future__ import annotations

import inspect
import random
from typing import Callable

import torch
from hypothesis import strategies as st

from sandbox.testing.estimator_invariants import (
    DELTAS,
    EQUAL_VALUES,
    LONE_ROW,
    SHIFTS,
    Estimator,
    EstimatorCase,
    check_basics,
    check_equal_rewards,
    check_locality,
    check_monotone,
    check_oracle,
    check_relabelling,
    check_row_constant,
    check_shift,
    check_stateless,
    check_whitening,
    check_zero_token_mean,
    rows_of,
)
from sandbox.testing.invariants import run_property
from sandbox.testing.references import REFERENCES
from sandbox.testing.strategies import EstimatorBatch, estimator_batches, permuted_token_rewards
from sandbox.testing.trees import TREE_EXTRAS, tree_layouts
from toy_envs.base import ConfigError, check, is_int

KINDS = ("outcome_group", "dense_group", "dense", "batch_whitened", "dense_whitened")
"""The estimator kinds (see the module docstring)."""

ROW_CONSTANT = ("outcome_group", "batch_whitened")
GROUP_LOCAL = ("outcome_group", "dense_group", "dense")
EQUAL_GIVES_ZERO = ("outcome_group", "dense_group")
SHIFT_INVARIANT = ("outcome_group", "batch_whitened")
ZERO_TOKEN_MEAN = ("batch_whitened", "dense_whitened")

SIGNATURE = "fn(rewards [B,T] float, mask [B,T] bool, group [B] long, step_ids [B,T] long, **options) -> advantages [B,T]"
"""How ``check_advantage_estimator`` calls the estimator (``sandbox.rewards.base.AdvantageEstimator``)."""


def check_signature(fn: Callable, keywords: list[str]) -> None:
    """One-line ``ConfigError`` unless ``fn`` can be called as ``SIGNATURE`` with ``keywords``
    (a callable without an inspectable signature is let through)."""
    __tracebackhide__ = True
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(*EstimatorBatch._fields, **dict.fromkeys(keywords))
    except TypeError as error:
        name = getattr(fn, "__name__", type(fn).__name__)
        empty = inspect.Parameter.empty
        bare = signature.replace(parameters=[p.replace(annotation=empty) for p in signature.parameters.values()],
                                 return_annotation=empty)
        raise ConfigError(
            f"fn={name}{bare} cannot be called as an advantage estimator {SIGNATURE} ({error}); "
            "wrap a TRL-style fn(rewards [B], num_generations) with sandbox.testing.from_trl, "
            "a verl-style fn(token_level_rewards, response_mask, index, ...) with sandbox.testing.from_verl"
        ) from None


def block_order(rng: random.Random, n_rows: int, group_size: int) -> list[int]:
    """A row order that keeps contiguous groups of ``group_size`` rows contiguous: the groups
    shuffled as blocks, the rows shuffled within each."""
    blocks = [list(range(start, start + group_size)) for start in range(0, n_rows, group_size)]
    rng.shuffle(blocks)
    for block in blocks:
        rng.shuffle(block)
    return [row for block in blocks for row in block]


@st.composite
def estimator_cases(
    draw, with_trees: bool, max_groups: int = 4, max_group_size: int = 5, group_size: int | None = None
) -> EstimatorCase:
    """A batch from ``estimator_batches`` plus what every invariant needs (drawn from one seed, so
    that hypothesis spends its shrinking on the batch). With ``group_size``, contiguous groups of
    that many rows, and row permutations that keep them contiguous."""
    batch = draw(estimator_batches(max_groups=max_groups, max_group_size=max_group_size, group_size=group_size))
    n_rows, width = batch.rewards.shape
    trees = draw(tree_layouts(batch.group)) if with_trees else None
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    groups = sorted(set(batch.group.tolist()))
    tree_ids = sorted(set(trees.tree.tolist())) if trees is not None else []
    if group_size is None:
        order = list(range(n_rows))
        rng.shuffle(order)
    else:
        order = block_order(rng, n_rows, group_size)
    # "equal rewards give zero" on permuted per-token rewards needs a group of >= 2 rows whose
    # responses have >= 3 tokens (two terms add the same in either order)
    shortest = {g: int(batch.mask[rows_of(batch.group, g)].sum(1).min()) for g in groups}
    permutable = [g for g in groups if len(rows_of(batch.group, g)) >= 2 and shortest[g] >= 3]
    permuted = bool(permutable) and draw(st.integers(0, 3)) > 0  # 3 times in 4 where possible
    chosen_group = rng.choice(permutable if permuted else groups)
    n_chosen = len(rows_of(batch.group, chosen_group))
    equal_rows = draw(permuted_token_rewards(n_chosen, shortest[chosen_group])) if permuted else None
    return EstimatorCase(
        batch=batch,
        trees=trees,
        order=torch.tensor(order),
        new_group_ids=dict(zip(groups, rng.sample(range(-(10**6), 10**6), len(groups)))),
        new_tree_ids=dict(zip(tree_ids, rng.sample(range(10**6), len(tree_ids)))),
        off_mask_rewards=torch.tensor([[rng.choice((-3.0, -1.0, 0.5, 1.0, 2.5)) for _ in range(width)] for _ in range(n_rows)]),
        chosen_group=chosen_group,
        equal_value=rng.choice(EQUAL_VALUES),
        levels=torch.tensor([rng.randint(-4, 4) / 4 for _ in range(n_rows)]),
        shift=rng.choice(SHIFTS),
        twin_row=rng.randrange(n_rows),
        delta=rng.choice(DELTAS),
        equal_rows=equal_rows,
    )


def check_advantage_estimator(
    fn: Callable,
    kind: str = "outcome_group",
    *,
    options: dict | None = None,
    extras: tuple[str, ...] | None = None,
    oracle: Callable | None = None,
    reference_options: dict | None = None,
    atol: float = 1e-4,
    rtol: float = 1e-4,
    max_groups: int = 4,
    max_group_size: int = 5,
    max_examples: int | None = None,
    derandomize: bool | None = None,
    shrink: bool = True,
    group_size: int | None = None,
    lone_row: str | None = None,
) -> None:
    """Property-test ``fn`` as an advantage estimator of ``kind`` (see the module docstring).

    ``kind`` is one of ``KINDS`` or a standard estimator's name (``references.REFERENCES``),
    which adds the built-in oracle, called with ``reference_options`` (default: the entries of
    ``options`` it accepts). ``options`` are passed to every call of ``fn`` as keyword
    arguments; ``extras`` names tree keys among ``TREE_EXTRAS`` to pass as well (default: those
    the standard kind needs); ``oracle`` is an optional reference implementation of your own.
    ``max_examples``/``derandomize`` override the active hypothesis profile; ``shrink=False``
    skips shrinking (faster, larger counterexample). The contract ``fn`` is written for (default:
    what an adapter declared in ``fn.kit_contract``, else any layout and 0 for a lone row):
    ``group_size=G`` draws only batches of contiguous groups of exactly G rows; ``lone_row="raw"``
    (outcome kinds) expects a group of one row to get its own summed reward instead of 0. Raises
    ``InvariantError`` (an ``AssertionError``) with the shrunk counterexample, ``ConfigError``
    (one line) for a bad argument or an ``fn`` that cannot be called as ``SIGNATURE``."""
    __tracebackhide__ = True  # pytest shows the caller's line and the error, not the kit's frames
    contract = getattr(fn, "kit_contract", {})
    group_size = contract.get("group_size") if group_size is None else group_size
    lone_row = contract.get("lone_row", "zero") if lone_row is None else lone_row
    check(kind in KINDS or kind in REFERENCES, "kind", f"one of {KINDS} or a standard estimator {tuple(REFERENCES)}", kind)
    check(group_size is None or (is_int(group_size) and group_size >= 1), "group_size", "None or an int >= 1", group_size)
    check(lone_row in LONE_ROW, "lone_row", f"one of {LONE_ROW}", lone_row)
    reference = REFERENCES.get(kind)
    extras = tuple(extras) if extras is not None else (reference.extras if reference else ())
    check(set(extras) <= set(TREE_EXTRAS), "extras", f"keys among {TREE_EXTRAS}", extras)
    check(max_groups >= 1 and max_group_size >= 1, "max_groups/max_group_size", ">= 1", (max_groups, max_group_size))
    check(not (extras and group_size is not None), "group_size", "None with tree extras (trees need free row layouts)", group_size)
    options = dict(options or {})
    check_signature(fn, [*extras, *options])
    if reference is not None:
        check(set(reference.extras) <= set(extras), "extras", f"including {reference.extras} for kind {kind!r}", extras)
        if reference_options is None:
            reference_options = {k: v for k, v in options.items() if k in reference.options}
        unknown = set(reference_options) - set(reference.options)
        check(not unknown, "reference_options", f"keys among {reference.options} for kind {kind!r}", reference_options)
        kind = reference.kind(reference_options) if callable(reference.kind) else reference.kind
    check(lone_row == "zero" or kind == "outcome_group", "lone_row", "'zero' unless the kind is outcome_group", lone_row)
    est = Estimator(fn, extras, options, atol, rtol, group_size, lone_row)

    def body(case: EstimatorCase) -> None:
        adv = est(case.batch, case.trees)
        check_stateless(est, case, adv)
        check_basics(est, case, adv)
        check_relabelling(est, case, adv)
        if kind in ROW_CONSTANT:
            check_row_constant(est, case, adv)
        if kind in EQUAL_GIVES_ZERO:
            check_equal_rewards(est, kind, case, adv)
        if kind in GROUP_LOCAL:
            check_locality(est, case, adv)
        if kind in SHIFT_INVARIANT:
            check_shift(est, case)
        if kind in ZERO_TOKEN_MEAN:
            check_zero_token_mean(est, case, adv)
        if kind == "batch_whitened":
            check_whitening(est, case, adv)
        check_monotone(est, case)
        if reference is not None:
            check_oracle(est, reference.fn, case, adv, reference_options)
        if oracle is not None:
            check_oracle(est, oracle, case, adv, options)

    run_property(estimator_cases(bool(extras), max_groups, max_group_size, group_size), body, max_examples, derandomize, shrink)
