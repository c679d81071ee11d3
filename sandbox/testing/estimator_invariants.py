"""The invariants ``check_advantage_estimator`` tests, one function each, and what they share.

Each ``check_*`` takes the wrapped estimator (``Estimator``), one drawn ``EstimatorCase`` and,
where it needs them, the advantages of the unchanged batch; it raises ``InvariantError`` naming
the invariant with the counterexample. Which invariants apply to which kind of estimator is
decided in ``sandbox.testing.estimator_checks`` (its module docstring has the table).
"""

from __future__ import annotations

import random
from typing import Callable, NamedTuple

import torch

from sandbox.testing.invariants import InvariantError, render_rows
from sandbox.testing.strategies import EstimatorBatch
from sandbox.testing.trees import TreeLayout
from toy_envs.base import ConfigError

EQUAL_VALUES = (0.0, 1.0, -0.5, 0.3, 2.0)
"""Rewards a group is set to for "equal rewards give zero" (0.3 is not exact in binary)."""
SHIFTS = (-1.5, 0.25, 1.0, 3.0)
"""Constants added to one group for "group shift" (exact in float32, as are the rewards then)."""
DELTAS = (0.5, 1.0, 2.0)
"""Extra reward given to a twin row for "monotone in reward"."""
LONE_ROW = ("zero", "raw")
"""What an outcome estimator gives a group of one row: 0 (no baseline, the kit's and GRPO's
convention) or the row's own summed reward (verl's: mean 0 and std 1 for a lone row)."""


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
    """The estimator under test, called the same way each time and its output checked, with the
    contract it declares: ``group_size`` (batches are contiguous groups of exactly that many rows;
    None: any layout) and ``lone_row`` (``LONE_ROW``)."""

    def __init__(self, fn: Callable, extras: tuple[str, ...], options: dict, atol: float, rtol: float,
                 group_size: int | None = None, lone_row: str = "zero"):
        self.fn, self.extras, self.options, self.atol, self.rtol = fn, extras, options, atol, rtol
        self.group_size, self.lone_row = group_size, lone_row

    def kwargs(self, trees: TreeLayout | None) -> dict:
        if not self.extras:
            return {}
        provided = trees.extras()
        return {key: provided[key] for key in self.extras}

    def run(self, batch: EstimatorBatch, trees: TreeLayout | None):
        """``fn`` on ``batch`` itself (not a copy); an exception it raises becomes the "runs"
        invariant's error, with the batch that raised it (a ``ConfigError`` is passed through)."""
        try:
            return self.fn(*batch, **self.kwargs(trees), **self.options)
        except ConfigError:
            raise
        except Exception as error:
            fail("runs", "the estimator returns advantages for every valid batch",
                 f"it raised {type(error).__name__}: {error}", batch, trees, {}, cause=error)

    def __call__(self, batch: EstimatorBatch, trees: TreeLayout | None) -> torch.Tensor:
        out = self.run(EstimatorBatch(*(x.clone() for x in batch)), trees)
        if not (isinstance(out, torch.Tensor) and out.is_floating_point() and out.shape == batch.rewards.shape):
            described = f"{type(out).__name__} {getattr(out, 'dtype', '')} {tuple(getattr(out, 'shape', ()))}"
            hint = " (a verl-style (advantages, returns) pair: wrap the function with from_verl)" if isinstance(out, tuple) else ""
            fail(
                "output",
                "the estimator returns a floating-point tensor of shape [B, T]",
                f"got {described} for B, T = {tuple(batch.rewards.shape)}{hint}",
                batch,
                trees,
                {},
            )
        return out.detach().double().cpu()

    def lone_rows(self, group: torch.Tensor) -> torch.Tensor:
        """[B] bool: rows alone in their group."""
        return torch.tensor([len(rows_of(group, g)) == 1 for g in group.tolist()], dtype=torch.bool)

    def close(self, a: torch.Tensor, b: torch.Tensor) -> bool:
        return bool(torch.allclose(a, b, atol=self.atol, rtol=self.rtol, equal_nan=False))


def row_labels(batch: EstimatorBatch, trees: TreeLayout | None, names: dict[int, str] | None = None) -> list[str]:
    labels = []
    for b, g in enumerate(batch.group.tolist()):
        label = f"row {b} group {g}" + (f" tree {int(trees.tree[b])}" if trees is not None else "")
        labels.append(label + (f" {names[b]}" if names and b in names else ""))
    return labels


def fail(invariant, demand, detail, batch, trees, outputs: dict[str, torch.Tensor], names=None, cause=None) -> None:
    """Raise ``InvariantError`` showing ``batch`` (step ids, rewards) and ``outputs`` per row
    (chained to ``cause``, an exception the estimator raised, when given)."""
    columns = {"step ids": batch.step_ids.double(), "rewards": batch.rewards, **outputs}
    table = render_rows(row_labels(batch, trees, names), batch.mask, columns)
    detail = f"{detail}\ncounterexample (entries off the mask in parentheses):\n{table}"
    example = {**batch._asdict(), **({"tree": trees.tree} if trees is not None else {}), **outputs}
    raise InvariantError(invariant, demand, detail, example) from cause


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


def twin_of(est: Estimator, case: EstimatorCase):
    """(batch, trees, row, twin): the case's batch where row ``twin`` is a copy of ``case.twin_row``
    with ``case.delta`` more reward on its last response token -- an added row (``with_twin``), or,
    where the estimator declares contiguous groups of a fixed size, another row of the same group
    replaced by the copy; None for groups of one row of a fixed size."""
    row = case.twin_row
    if est.group_size is None:
        grown, grown_trees = with_twin(case.batch, case.trees, row, case.delta)
        return grown, grown_trees, row, len(grown.group) - 1
    if est.group_size == 1:
        return None
    block = row - row % est.group_size
    twin = block + (row - block + 1) % est.group_size
    rewards, mask, group, step_ids = (x.clone() for x in case.batch)
    rewards[twin], mask[twin], step_ids[twin] = rewards[row], mask[row], step_ids[row]
    rewards[twin, last_response_token(mask[row : row + 1])[0]] += case.delta
    return EstimatorBatch(rewards, mask, group, step_ids), case.trees, row, twin


def check_basics(est: Estimator, case: EstimatorCase, adv: torch.Tensor) -> None:
    batch, trees = case.batch, case.trees
    copies = EstimatorBatch(*(x.clone() for x in batch))
    est.run(copies, trees)
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
        lone = est.lone_rows(batch.group)
        if est.lone_row == "raw":
            expected = torch.where(batch.mask, batch.rewards.double(), 0).sum(1, keepdim=True) * batch.mask
            invariant, demand = "lone row", "a group of one row gets its own summed reward as advantage (lone_row='raw')"
        else:
            expected = torch.zeros_like(adv)
            invariant, demand = "equal rewards give zero", "a group of one row has no baseline: its advantage is 0"
        if not est.close(adv[lone], expected[lone]):
            fail(invariant, demand, "a group has one row", batch, trees, {"advantages": adv})
    rows = rows_of(batch.group, case.chosen_group)
    if est.lone_row == "raw" and len(rows) == 1:
        return  # checked just above
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
        demand = ("a group of one row has no baseline: its advantage is 0" if len(rows) == 1
                  else "a group whose rows' summed rewards are all equal gets advantage 0")
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
    if est.lone_row == "raw":  # a lone row's advantage is its reward, shifted too (checked in check_equal_rewards)
        kept = ~est.lone_rows(batch.group)
        a, b = a * kept[:, None], b * kept[:, None]
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
    twinned = twin_of(est, case)
    if twinned is None:
        return
    grown, grown_trees, row, twin = twinned
    out = est(grown, grown_trees)
    mask = grown.mask[row]
    if (out[twin][mask] < out[row][mask] - est.atol).any():
        fail("monotone in reward",
             "a copy of a row with more reward on its last token gets at least the row's advantage (sign check)",
             f"row {twin} is a copy of row {row} with +{case.delta} on its last response token", grown, grown_trees,
             {"advantages": out}, names={row: "(original)", twin: "(twin)"})


def check_stateless(est: Estimator, case: EstimatorCase, adv: torch.Tensor) -> None:
    batch, trees = case.batch, case.trees
    again = est(batch, trees)
    twinned = twin_of(est, case)  # another batch (of another size unless the group size is fixed)
    est(*(twinned[:2] if twinned is not None else (batch._replace(rewards=batch.rewards + 1), trees)))
    after = est(batch, trees)
    for label, other in (("called twice in a row", again), ("called again after another batch", after)):
        if not torch.allclose(adv, other, rtol=0, atol=0, equal_nan=True):  # bit-identical (NaN included)
            fail("stateless", "the same batch gives the same advantages every time (no running statistics, "
                 "caches or global random state)", f"the same batch {label} (column 'again') gives other advantages",
                 batch, trees, {"advantages": adv, "again": other})


def check_oracle(est: Estimator, oracle: Callable, case: EstimatorCase, adv: torch.Tensor, options: dict) -> None:
    """``oracle`` returns advantages, or a ``references.Result`` whose ``comparable`` rows are compared."""
    found = oracle(*EstimatorBatch(*(x.clone() for x in case.batch)), **est.kwargs(case.trees), **options)
    comparable = getattr(found, "comparable", torch.ones(len(adv), dtype=torch.bool)).clone()
    if est.lone_row == "raw":  # a reference's lone rows get 0; this estimator's, their reward (checked apart)
        comparable &= ~est.lone_rows(case.batch.group)
    expected = torch.as_tensor(getattr(found, "advantages", found)).detach().double().cpu()
    if not est.close(adv[comparable], expected[comparable]):
        fail("oracle", "the advantages match the reference implementation", f"atol={est.atol}, rtol={est.rtol}",
             case.batch, case.trees, {"advantages": adv, "oracle": expected})
