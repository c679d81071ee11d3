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
tests the invariants below that apply to ``kind``. A failure raises ``InvariantError`` (an
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
"""

from __future__ import annotations

import random
from typing import Callable, NamedTuple

import torch
from hypothesis import strategies as st

from sandbox.testing.invariants import InvariantError, render_rows, run_property
from sandbox.testing.references import REFERENCES
from sandbox.testing.strategies import EstimatorBatch, estimator_batches, permuted_token_rewards
from sandbox.testing.trees import TREE_EXTRAS, TreeLayout, tree_layouts
from toy_envs.base import check

KINDS = ("outcome_group", "dense_group", "dense", "batch_whitened", "dense_whitened")
"""The estimator kinds (see the module docstring)."""

ROW_CONSTANT = ("outcome_group", "batch_whitened")
GROUP_LOCAL = ("outcome_group", "dense_group", "dense")
EQUAL_GIVES_ZERO = ("outcome_group", "dense_group")
SHIFT_INVARIANT = ("outcome_group", "batch_whitened")
ZERO_TOKEN_MEAN = ("batch_whitened", "dense_whitened")

EQUAL_VALUES = (0.0, 1.0, -0.5, 0.3, 2.0)
"""Rewards a group is set to for "equal rewards give zero" (0.3 is not exact in binary)."""
SHIFTS = (-1.5, 0.25, 1.0, 3.0)
"""Constants added to one group for "group shift" (exact in float32, as are the rewards then)."""
DELTAS = (0.5, 1.0, 2.0)
"""Extra reward given to a twin row for "monotone in reward"."""


class EstimatorCase(NamedTuple):
    """One drawn example: a batch, its trees, and the randomness each invariant uses."""

    batch: EstimatorBatch
    trees: TreeLayout | None
    order: torch.Tensor
    """[B] a row permutation."""
    new_group_ids: dict[int, int]
    """Group id -> another distinct id."""
    new_tree_ids: dict[int, int]
    """Tree id -> another id, distinct across the batch."""
    off_mask_rewards: torch.Tensor
    """[B, T] replacement rewards used off the mask."""
    chosen_group: int
    equal_value: float
    levels: torch.Tensor
    """[B] dyadic rewards k/4 for "group shift"."""
    shift: float
    twin_row: int
    delta: float
    equal_rows: torch.Tensor | None
    """[rows of the chosen group, L] one list of token rewards in another order per row, for
    "equal rewards give zero" (None: the group's rows get ``equal_value`` on their last token)."""


@st.composite
def estimator_cases(draw, with_trees: bool, max_groups: int = 4, max_group_size: int = 5) -> EstimatorCase:
    """A batch from ``estimator_batches`` plus what every invariant needs (drawn from one seed, so
    that hypothesis spends its shrinking on the batch)."""
    batch = draw(estimator_batches(max_groups=max_groups, max_group_size=max_group_size))
    n_rows, width = batch.rewards.shape
    trees = draw(tree_layouts(batch.group)) if with_trees else None
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    groups = sorted(set(batch.group.tolist()))
    tree_ids = sorted(set(trees.tree.tolist())) if trees is not None else []
    order = list(range(n_rows))
    rng.shuffle(order)
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


def last_response_token(mask: torch.Tensor) -> torch.Tensor:
    """[B] position of each row's last True in ``mask``."""
    return mask.shape[1] - 1 - mask.flip(1).int().argmax(1)


def rows_of(group: torch.Tensor, g: int) -> list[int]:
    return [i for i, x in enumerate(group.tolist()) if x == g]


def outcome_rewards(batch: EstimatorBatch, values: torch.Tensor) -> torch.Tensor:
    """The batch's rewards with every response token 0 except the last, which gets ``values[b]``."""
    rewards = torch.where(batch.mask, torch.zeros_like(batch.rewards), batch.rewards)
    rewards[torch.arange(len(values)), last_response_token(batch.mask)] = values.float()
    return rewards


class Estimator:
    """The estimator under test, called the same way each time and its output checked."""

    def __init__(self, fn: Callable, extras: tuple[str, ...], options: dict, atol: float, rtol: float):
        self.fn, self.extras, self.options, self.atol, self.rtol = fn, extras, options, atol, rtol

    def kwargs(self, trees: TreeLayout | None) -> dict:
        if not self.extras:
            return {}
        provided = trees.extras()
        return {key: provided[key] for key in self.extras}

    def __call__(self, batch: EstimatorBatch, trees: TreeLayout | None) -> torch.Tensor:
        copies = EstimatorBatch(*(x.clone() for x in batch))
        out = self.fn(*copies, **self.kwargs(trees), **self.options)
        if not (isinstance(out, torch.Tensor) and out.is_floating_point() and out.shape == batch.rewards.shape):
            described = f"{type(out).__name__} {getattr(out, 'dtype', '')} {tuple(getattr(out, 'shape', ()))}"
            fail(
                "output",
                "the estimator returns a floating-point tensor of shape [B, T]",
                f"got {described} for B, T = {tuple(batch.rewards.shape)}",
                batch,
                trees,
                {},
            )
        return out.detach().double().cpu()

    def close(self, a: torch.Tensor, b: torch.Tensor) -> bool:
        return bool(torch.allclose(a, b, atol=self.atol, rtol=self.rtol, equal_nan=False))


def row_labels(batch: EstimatorBatch, trees: TreeLayout | None, names: dict[int, str] | None = None) -> list[str]:
    labels = []
    for b, g in enumerate(batch.group.tolist()):
        label = f"row {b} group {g}" + (f" tree {int(trees.tree[b])}" if trees is not None else "")
        labels.append(label + (f" {names[b]}" if names and b in names else ""))
    return labels


def fail(invariant, demand, detail, batch, trees, outputs: dict[str, torch.Tensor], names=None) -> None:
    """Raise ``InvariantError`` showing ``batch`` (step ids, rewards) and ``outputs`` per row."""
    columns = {"step ids": batch.step_ids.double(), "rewards": batch.rewards, **outputs}
    table = render_rows(row_labels(batch, trees, names), batch.mask, columns)
    detail = f"{detail}\ncounterexample (entries off the mask in parentheses):\n{table}"
    example = {**batch._asdict(), **({"tree": trees.tree} if trees is not None else {}), **outputs}
    raise InvariantError(invariant, demand, detail, example)


def select(batch: EstimatorBatch, trees: TreeLayout | None, rows: list[int]):
    index = torch.tensor(rows, dtype=torch.long)
    return EstimatorBatch(*(x[index] for x in batch)), (trees.select(rows) if trees is not None else None)


def with_twin(batch: EstimatorBatch, trees: TreeLayout | None, row: int, delta: float):
    """The batch plus a copy of ``row`` (same group, same tree, a sibling leaf) with ``delta`` more
    reward on its last response token."""
    twin_rewards = batch.rewards[row].clone()
    twin_rewards[last_response_token(batch.mask[row : row + 1])[0]] += delta
    grown = EstimatorBatch(
        torch.cat([batch.rewards, twin_rewards[None]]),
        torch.cat([batch.mask, batch.mask[row : row + 1]]),
        torch.cat([batch.group, batch.group[row : row + 1]]),
        torch.cat([batch.step_ids, batch.step_ids[row : row + 1]]),
    )
    if trees is None:
        return grown, None
    tree_id, leaf = int(trees.tree[row]), int(trees.node[row])
    parents = {**trees.parents, tree_id: trees.parents[tree_id] + [trees.parents[tree_id][leaf]]}
    node = torch.cat([trees.node, torch.tensor([len(parents[tree_id]) - 1])])
    return grown, TreeLayout(torch.cat([trees.tree, trees.tree[row : row + 1]]), node, parents)


def check_basics(est: Estimator, case: EstimatorCase, adv: torch.Tensor) -> None:
    batch, trees = case.batch, case.trees
    copies = EstimatorBatch(*(x.clone() for x in batch))
    est.fn(*copies, **est.kwargs(trees), **est.options)
    for name, before, after in zip(EstimatorBatch._fields, batch, copies):
        if not torch.equal(before, after):
            fail("inputs not modified", "the estimator leaves its input tensors unchanged",
                 f"it modified {name!r} in place", batch, trees, {f"{name} after": after.double()})
    if not torch.isfinite(adv).all():
        fail("finite", "every advantage is finite (no NaN or inf), groups of one row included",
             "found a non-finite advantage", batch, trees, {"advantages": adv})
    if (adv[~batch.mask] != 0).any():
        fail("zero off the mask", "advantages are 0 on prompt and padding tokens (mask False)",
             "a token off the mask has a nonzero advantage", batch, trees, {"advantages": adv})
    moved = batch._replace(rewards=torch.where(batch.mask, batch.rewards, case.off_mask_rewards))
    other = est(moved, trees)
    if not est.close(adv, other):
        fail("ignores rewards off the mask", "rewards on prompt and padding tokens do not change any advantage",
             "only rewards off the mask were replaced (column 'new rewards')", batch, trees,
             {"new rewards": moved.rewards, "advantages": adv, "advantages after": other})


def check_relabelling(est: Estimator, case: EstimatorCase, adv: torch.Tensor) -> None:
    batch, trees = case.batch, case.trees
    order = case.order
    permuted = est(EstimatorBatch(*(x[order] for x in batch)), trees.select(order.tolist()) if trees is not None else None)
    back = torch.empty_like(permuted)
    back[order] = permuted
    if not est.close(adv, back):
        fail("row permutation", "reordering the rows reorders the advantages the same way",
             f"rows reordered as {order.tolist()} (new row k = old row order[k]); column 'permuted' is mapped back",
             batch, trees, {"advantages": adv, "permuted": back})
    renamed = batch._replace(group=torch.tensor([case.new_group_ids[g] for g in batch.group.tolist()]))
    other = est(renamed, trees)
    if not est.close(adv, other):
        fail("group relabelling", "renaming group ids (any distinct integers) changes no advantage",
             f"group ids renamed {case.new_group_ids}", batch, trees, {"advantages": adv, "renamed": other})
    if trees is not None:
        new_tree = torch.tensor([case.new_tree_ids[t] for t in trees.tree.tolist()])
        retreed = TreeLayout(new_tree, trees.node, {case.new_tree_ids[t]: p for t, p in trees.parents.items()})
        other = est(batch, retreed)
        if not est.close(adv, other):
            fail("tree relabelling", "renaming tree ids (distinct across the batch) changes no advantage",
                 f"tree ids renamed {case.new_tree_ids}", batch, trees, {"advantages": adv, "renamed": other})


def check_row_constant(est: Estimator, case: EstimatorCase, adv: torch.Tensor) -> None:
    batch = case.batch
    high = torch.where(batch.mask, adv, -torch.inf).amax(1)
    low = torch.where(batch.mask, adv, torch.inf).amin(1)
    if ((high - low) > est.atol).any():
        fail("constant over a row", "an outcome advantage is one value on all of a row's response tokens",
             "a row's response tokens have different advantages", batch, case.trees, {"advantages": adv})


def check_equal_rewards(est: Estimator, kind: str, case: EstimatorCase, adv: torch.Tensor) -> None:
    batch, trees = case.batch, case.trees
    if kind == "outcome_group":
        for g in set(batch.group.tolist()):
            rows = rows_of(batch.group, g)
            if len(rows) == 1 and adv[rows].abs().max() > est.atol:
                fail("equal rewards give zero", "a group of one row has no baseline: its advantage is 0",
                     f"group {g} has one row", batch, trees, {"advantages": adv})
    rows = rows_of(batch.group, case.chosen_group)
    value = case.equal_value
    if kind == "outcome_group" and case.equal_rows is not None:
        rewards = torch.where(batch.mask, torch.zeros_like(batch.rewards), batch.rewards)
        for row, values in zip(rows, case.equal_rows):
            positions = batch.mask[row].nonzero().flatten()[: len(values)]
            rewards[row, positions] = values
        demand = "a group whose rows' summed rewards are all equal gets advantage 0"
        value = "one list of per-token rewards, in another order on each row (equal exact totals)"
    elif kind == "outcome_group":
        chosen = (batch.group == case.chosen_group)[:, None]
        rewards = torch.where(chosen, outcome_rewards(batch, torch.full((len(batch.group),), value)), batch.rewards)
        demand = "a group whose rows' summed rewards are all equal gets advantage 0"
    else:
        chosen = (batch.group == case.chosen_group)[:, None] & batch.mask
        rewards = torch.where(chosen, torch.full_like(batch.rewards, value), batch.rewards)
        demand = "a group whose every response-token reward is the same value gets advantage 0"
    equal = batch._replace(rewards=rewards)
    out = est(equal, trees)
    if out[rows].abs().max() > est.atol:
        fail("equal rewards give zero", demand, f"the rewards of group {case.chosen_group} set to {value}",
             equal, trees, {"advantages": out})


def check_shift(est: Estimator, case: EstimatorCase) -> None:
    batch, trees = case.batch, case.trees
    base = batch._replace(rewards=outcome_rewards(batch, case.levels))
    shifted_levels = case.levels + case.shift * (batch.group == case.chosen_group)
    shifted = batch._replace(rewards=outcome_rewards(batch, shifted_levels))
    a, b = est(base, trees), est(shifted, trees)
    if not est.close(a, b):
        fail("group shift", "adding a constant to every reward of one group changes no advantage",
             f"group {case.chosen_group}'s rewards shifted by {case.shift} (column 'shifted rewards')",
             base, trees, {"shifted rewards": shifted.rewards, "advantages": a, "after shift": b})


def check_locality(est: Estimator, case: EstimatorCase, adv: torch.Tensor) -> None:
    batch, trees = case.batch, case.trees
    for g in sorted(set(batch.group.tolist())):
        rows = rows_of(batch.group, g)
        alone = est(*select(batch, trees, rows))
        if not est.close(adv[rows], alone):
            fail("group locality", "a group's advantages do not depend on the other groups of the batch",
                 f"group {g} estimated alone (column 'alone') differs from group {g} inside the batch",
                 batch, trees, {"advantages": adv, "alone": scatter_rows(alone, rows, adv)})


def scatter_rows(values: torch.Tensor, rows: list[int], like: torch.Tensor) -> torch.Tensor:
    out = torch.full_like(like, torch.nan)
    out[rows] = values
    return out


def check_zero_token_mean(est: Estimator, case: EstimatorCase, adv: torch.Tensor) -> None:
    batch, trees = case.batch, case.trees
    m = batch.mask.double()
    mean = float((adv * m).sum() / m.sum())
    if abs(mean) > est.atol:
        fail("zero token mean", "the advantages' mean over all response tokens of the batch is 0",
             f"their token mean is {mean:.4g}", batch, trees, {"advantages": adv})


def check_whitening(est: Estimator, case: EstimatorCase, adv: torch.Tensor) -> None:
    batch, trees = case.batch, case.trees
    per_group = {g: float(v) for g, v in zip(batch.group.tolist(), case.levels)}
    constant = batch._replace(rewards=outcome_rewards(batch, torch.tensor([per_group[g] for g in batch.group.tolist()])))
    out = est(constant, trees)
    if out.abs().max() > est.atol:
        fail("batch whitening", "when every group's rewards are constant, every advantage is 0 (centring is per group)",
             "each group's rows share one reward", constant, trees, {"advantages": out})


def check_monotone(est: Estimator, case: EstimatorCase) -> None:
    grown, grown_trees = with_twin(case.batch, case.trees, case.twin_row, case.delta)
    out = est(grown, grown_trees)
    row, twin = case.twin_row, len(grown.group) - 1
    mask = grown.mask[row]
    if (out[twin][mask] < out[row][mask] - est.atol).any():
        fail("monotone in reward",
             "a copy of a row with more reward on its last token gets at least the row's advantage (sign check)",
             f"row {twin} is row {row} with +{case.delta} on its last response token", grown, grown_trees,
             {"advantages": out}, names={row: "(original)", twin: "(twin)"})


def check_stateless(est: Estimator, case: EstimatorCase, adv: torch.Tensor) -> None:
    batch, trees = case.batch, case.trees
    again = est(batch, trees)
    est(*with_twin(batch, trees, case.twin_row, case.delta))  # another batch, of another size
    after = est(batch, trees)
    for label, other in (("called twice in a row", again), ("called again after another batch", after)):
        if not torch.allclose(adv, other, rtol=0, atol=0, equal_nan=True):  # bit-identical (NaN included)
            fail("stateless", "the same batch gives the same advantages every time (no running statistics, "
                 "caches or global random state)", f"the same batch {label} (column 'again') gives other advantages",
                 batch, trees, {"advantages": adv, "again": other})


def check_oracle(est: Estimator, oracle: Callable, case: EstimatorCase, adv: torch.Tensor, options: dict) -> None:
    """``oracle`` returns advantages, or a ``references.Result`` whose ``comparable`` rows are compared."""
    found = oracle(*EstimatorBatch(*(x.clone() for x in case.batch)), **est.kwargs(case.trees), **options)
    comparable = getattr(found, "comparable", torch.ones(len(adv), dtype=torch.bool))
    expected = torch.as_tensor(getattr(found, "advantages", found)).detach().double().cpu()
    if not est.close(adv[comparable], expected[comparable]):
        fail("oracle", "the advantages match the reference implementation", f"atol={est.atol}, rtol={est.rtol}",
             case.batch, case.trees, {"advantages": adv, "oracle": expected})


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
) -> None:
    """Property-test ``fn`` as an advantage estimator of ``kind`` (see the module docstring).

    ``kind`` is one of ``KINDS`` or a standard estimator's name (``references.REFERENCES``),
    which adds the built-in oracle, called with ``reference_options`` (default: the entries of
    ``options`` it accepts). ``options`` are passed to every call of ``fn`` as keyword
    arguments; ``extras`` names tree keys among ``TREE_EXTRAS`` to pass as well (default: those
    the standard kind needs); ``oracle`` is an optional reference implementation of your own.
    ``max_examples``/``derandomize`` override the active hypothesis profile; ``shrink=False``
    skips shrinking (faster, larger counterexample). Raises
    ``InvariantError`` (an ``AssertionError``) with the shrunk counterexample, ``ConfigError``
    for a bad argument."""
    check(kind in KINDS or kind in REFERENCES, "kind", f"one of {KINDS} or a standard estimator {tuple(REFERENCES)}", kind)
    reference = REFERENCES.get(kind)
    extras = tuple(extras) if extras is not None else (reference.extras if reference else ())
    check(set(extras) <= set(TREE_EXTRAS), "extras", f"keys among {TREE_EXTRAS}", extras)
    check(max_groups >= 1 and max_group_size >= 1, "max_groups/max_group_size", ">= 1", (max_groups, max_group_size))
    options = dict(options or {})
    if reference is not None:
        check(set(reference.extras) <= set(extras), "extras", f"including {reference.extras} for kind {kind!r}", extras)
        if reference_options is None:
            reference_options = {k: v for k, v in options.items() if k in reference.options}
        unknown = set(reference_options) - set(reference.options)
        check(not unknown, "reference_options", f"keys among {reference.options} for kind {kind!r}", reference_options)
        kind = reference.kind(reference_options) if callable(reference.kind) else reference.kind
    est = Estimator(fn, extras, options, atol, rtol)

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

    run_property(estimator_cases(bool(extras), max_groups, max_group_size), body, max_examples, derandomize, shrink)
