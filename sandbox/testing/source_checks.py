"""``check_reward_source``: property-test any reward source, yours included.

    from sandbox.testing import check_reward_source
    def test_my_reward():
        check_reward_source(my_reward, placement="last", bounds=(-1, 1))

``fn(rollouts, ctx, **params)`` must return token rewards [B, T] (the ``RewardSource``
protocol of ``sandbox.rewards.base``). The check draws ``Rollouts`` of a real task
(``sandbox.testing.strategies.rollouts_batches``: 1..4 groups of 1..5 rows answering one
problem each; gold, wrong-answer, answerless and garbage texts, empty ones included; some rows
truncated; on a task with ``confidence_line`` the gold and wrong-answer texts state drawn
confidences, in range, out of range, malformed or none) and tests, for every source:

- "output": a floating tensor of the rollouts' token shape [B, T];
- "finite": no NaN or inf (empty and unparseable responses included);
- "zero off the response": 0 on prompt and padding tokens (``response_mask`` False);
- "placement": with ``placement="last"`` nonzero only on each row's last response token, with
  ``"step_ends"`` only on the last token of a step (the tokens ``sandbox.rewards.process_grpo``
  reads), with ``"response"`` (default) anywhere on the response;
- "stateless": the same rollouts and the same context give the same rewards, twice in a row and
  again after another batch (no global random state, caches or running statistics);
- "row permutation": reordering the rows reorders the rewards the same way (a source keyed by
  (problem, rollout) index, like ``random_reward``, passes; one keyed by row position does not);
- "locality": with ``locality="row"`` (default) a row's rewards are the same when the row is
  scored alone; with ``"group"`` the same when its group is scored alone (a source that looks
  across the group, such as DRO's R3); ``"batch"`` skips this;
- "bounds" (with ``bounds=(lo, hi)``, the source's declared range): every row's summed reward
  over its response lies in [lo, hi] -- e.g. (−1, 1) for a Brier reward, which an unclamped
  stated confidence of 1.5 pushes out;
- "weights sum to 1" and "linear in the weights" (with ``weights="<parameter name>"``, for a
  source that mixes components with weights it takes as a keyword parameter, a sequence or a
  dict of numbers): the weights declared in ``params`` (else the parameter's default) sum to 1,
  and on drawn weights w summing to 1 the rewards are Σ_k w_k · (rewards with weight 1 on
  component k alone).

Comparisons allow ``atol``/``rtol`` (a model scoring a padded batch is not bit-identical to one
scoring a row alone). A failure raises ``InvariantError`` (an ``AssertionError``) naming the
invariant, with hypothesis' shrunk counterexample; its ``example`` holds the texts and rewards.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import inspect
import math

import torch
from hypothesis import strategies as st

from sandbox.rewards.base import RewardContext
from sandbox.rollout.rollouts import step_ends
from sandbox.rollout.rollouts import Rollouts
from sandbox.testing.invariants import InvariantError, render_rows, run_property
from sandbox.testing.strategies import batch_permutations, rollouts_batches
from toy_envs import make_task
from toy_envs.base import check

PLACEMENTS = ("response", "last", "step_ends")
"""Where a source may put nonzero rewards."""
LOCALITIES = ("row", "group", "batch")
"""What a row's rewards may depend on."""


class SourceCase(NamedTuple):
    rollouts: Rollouts
    order: torch.Tensor
    """[B] a row permutation."""
    mix: list[float]
    """Weights summing to 1, one per declared weight (for "linear in the weights")."""


@st.composite
def source_cases(draw, task, max_groups: int = 4, max_group_size: int = 5, n_weights: int = 0) -> SourceCase:
    rollouts = draw(rollouts_batches(task, max_groups=max_groups, max_group_size=max_group_size))
    parts = draw(st.lists(st.integers(1, 8), min_size=n_weights, max_size=n_weights))
    return SourceCase(rollouts, draw(batch_permutations(len(rollouts))), [p / sum(parts) for p in parts])


def declared_weights(fn: Callable, params: dict, name: str):
    """The weights a source declares: ``params[name]``, else the default of its parameter ``name``."""
    if name in params:
        return params[name]
    parameter = inspect.signature(fn).parameters.get(name)
    check(parameter is not None and parameter.default is not inspect.Parameter.empty, "weights",
          "the name of a keyword parameter of the source that has a default or is given in params", name)
    return parameter.default


def weight_values(weights) -> list[float]:
    return [float(v) for v in (weights.values() if isinstance(weights, dict) else weights)]


def with_weight_values(weights, values: list[float]):
    """``weights`` (a dict or a sequence) holding ``values`` instead."""
    if isinstance(weights, dict):
        return dict(zip(weights, values))
    return type(weights)(values) if isinstance(weights, (list, tuple)) else list(values)


def allowed_positions(rollouts: Rollouts, placement: str) -> torch.Tensor:
    """[B, T] bool: where ``placement`` allows a nonzero reward."""
    if placement == "last":
        allowed = torch.zeros_like(rollouts.response_mask)
        allowed[torch.arange(len(rollouts)), rollouts.last_token] = True
        return allowed & rollouts.response_mask
    if placement == "step_ends":
        return step_ends(rollouts.response_mask, rollouts.step_ids)
    return rollouts.response_mask


def fail(invariant: str, demand: str, detail: str, rollouts: Rollouts, columns: dict) -> None:
    """Raise ``InvariantError`` showing each row's step ids, ``columns`` and text."""
    labels = [f"row {b} group {g}" for b, g in enumerate(rollouts.group.tolist())]
    table = render_rows(labels, rollouts.response_mask, {"step ids": rollouts.step_ids.double(), **columns})
    texts = "\n".join(f"  row {b} text: {t!r}{' (truncated)' if cut else ''}"
                      for b, (t, cut) in enumerate(zip(rollouts.texts, rollouts.truncated.tolist())))
    example = {"texts": list(rollouts.texts), "group": rollouts.group, "response_mask": rollouts.response_mask, **columns}
    detail = f"{detail}\ncounterexample (prompt and padding tokens in parentheses):\n{table}\n{texts}"
    raise InvariantError(invariant, demand, detail, example)


class SourceUnderTest:
    def __init__(self, fn: Callable, ctx: RewardContext, params: dict, atol: float, rtol: float):
        self.fn, self.ctx, self.params, self.atol, self.rtol = fn, ctx, params, atol, rtol

    def __call__(self, rollouts: Rollouts, overrides: dict | None = None) -> torch.Tensor:
        out = self.fn(rollouts, self.ctx, **{**self.params, **(overrides or {})})
        shape = tuple(rollouts.tokens.shape)
        if not (isinstance(out, torch.Tensor) and out.is_floating_point() and tuple(out.shape) == shape):
            described = f"{type(out).__name__} {getattr(out, 'dtype', '')} {tuple(getattr(out, 'shape', ()))}"
            fail("output", "the source returns a floating-point tensor of the token shape [B, T]",
                 f"got {described} for B, T = {shape}", rollouts, {})
        return out.detach().double().cpu()

    def close(self, a: torch.Tensor, b: torch.Tensor) -> bool:
        return a.shape == b.shape and bool(torch.allclose(a, b, atol=self.atol, rtol=self.rtol))


def check_values(sut: SourceUnderTest, rollouts: Rollouts, rewards: torch.Tensor, placement: str) -> None:
    if not torch.isfinite(rewards).all():
        fail("finite", "every reward is finite (empty and unparseable responses included)",
             "found a NaN or infinite reward", rollouts, {"rewards": rewards})
    if (rewards[~rollouts.response_mask] != 0).any():
        fail("zero off the response", "rewards are 0 on prompt and padding tokens",
             "a token off the response has a nonzero reward", rollouts, {"rewards": rewards})
    if (rewards[~allowed_positions(rollouts, placement)] != 0).any():
        where = {"last": "each row's last response token", "step_ends": "the last token of a step"}[placement]
        fail("placement", f"with placement={placement!r} rewards are nonzero only on {where}",
             "a reward sits elsewhere", rollouts, {"rewards": rewards})


def check_stateless(sut: SourceUnderTest, case: SourceCase, rewards: torch.Tensor) -> None:
    rollouts = case.rollouts
    again = sut(rollouts)
    sut(rollouts.select(case.order[: max(1, len(rollouts) - 1)]))  # another batch
    after = sut(rollouts)
    for label, other in (("called twice in a row", again), ("called again after another batch", after)):
        if not sut.close(rewards, other):
            fail("stateless", "the same rollouts and context give the same rewards every time (no global random "
                 "state, caches or running statistics)", f"the same rollouts {label} (column 'again') differ",
                 rollouts, {"rewards": rewards, "again": other})


def check_bounds(rollouts: Rollouts, rewards: torch.Tensor, bounds: tuple[float, float], atol: float) -> None:
    lo, hi = bounds
    summed = (rewards * rollouts.response_mask).sum(-1)
    outside = (summed < lo - atol) | (summed > hi + atol)
    if outside.any():
        row = int(outside.nonzero()[0])
        fail("bounds", f"every row's summed reward lies in the declared range [{lo:g}, {hi:g}]",
             f"row {row} sums to {float(summed[row]):.6g}", rollouts, {"rewards": rewards, "summed": summed})


def check_linear_in_weights(sut: SourceUnderTest, case: SourceCase, name: str, weights) -> None:
    rollouts, mix = case.rollouts, case.mix
    k = len(mix)
    components = [sut(rollouts, {name: with_weight_values(weights, [float(i == j) for j in range(k)])}) for i in range(k)]
    mixed = sut(rollouts, {name: with_weight_values(weights, mix)})
    expected = sum(w * c for w, c in zip(mix, components))
    if not sut.close(mixed, expected):
        fail("linear in the weights", "with weights w summing to 1, the rewards are Σ_k w_k · (rewards of component k "
             "alone, weight 1)", f"weights {[round(w, 4) for w in mix]}", rollouts,
             {"rewards": mixed, "Σ w_k·component": expected})


def check_consistency(sut: SourceUnderTest, case: SourceCase, rewards: torch.Tensor, locality: str) -> None:
    rollouts = case.rollouts
    permuted = sut(rollouts.select(case.order))
    back = torch.zeros_like(rewards)
    back[case.order, : permuted.shape[1]] = permuted
    if not sut.close(rewards, back):
        fail("row permutation", "reordering the rows reorders the rewards the same way",
             f"rows reordered as {case.order.tolist()}; column 'permuted' is mapped back", rollouts,
             {"rewards": rewards, "permuted": back})
    if locality == "batch":
        return
    units = [[row] for row in range(len(rollouts))] if locality == "row" else [
        [i for i, x in enumerate(rollouts.group.tolist()) if x == g] for g in sorted(set(rollouts.group.tolist()))
    ]
    for rows in units:
        alone = sut(rollouts.select(rows))
        if not sut.close(rewards[rows, : alone.shape[1]], alone):
            shown = torch.full_like(rewards, float("nan"))
            shown[rows, : alone.shape[1]] = alone
            fail("locality", f"a row's rewards are the same when its {locality} is scored alone (locality={locality!r})",
                 f"rows {rows} scored alone (column 'alone') differ", rollouts, {"rewards": rewards, "alone": shown})


def check_reward_source(
    fn: Callable,
    *,
    task=None,
    ctx: RewardContext | None = None,
    params: dict | None = None,
    placement: str = "response",
    locality: str = "row",
    bounds: tuple[float, float] | None = None,
    weights: str | None = None,
    atol: float = 1e-5,
    rtol: float = 1e-5,
    max_groups: int = 4,
    max_group_size: int = 5,
    max_examples: int | None = None,
    derandomize: bool | None = None,
    shrink: bool = True,
) -> None:
    """Property-test ``fn`` as a reward source (see the module docstring).

    ``task`` defines the rollouts (default: 2-step arithmetic chains); ``ctx`` is passed to the
    source (default ``RewardContext(task=task)``; put models a source needs in it); ``params``
    are keyword arguments for every call; ``bounds`` is the declared (lo, hi) range of a row's
    summed reward; ``weights`` names the keyword parameter holding the source's mixture weights.
    ``max_examples``/``derandomize`` override the active
    hypothesis profile; ``shrink=False`` skips shrinking (faster, larger counterexample). Raises
    ``InvariantError`` (an ``AssertionError``) with the shrunk counterexample, ``ConfigError``
    for a bad argument."""
    check(placement in PLACEMENTS, "placement", f"one of {PLACEMENTS}", placement)
    check(locality in LOCALITIES, "locality", f"one of {LOCALITIES}", locality)
    check(bounds is None or (len(bounds) == 2 and all(math.isfinite(b) for b in bounds) and bounds[0] <= bounds[1]),
          "bounds", "None or (lo, hi) with finite lo <= hi", bounds)
    task = task if task is not None else (ctx.task if ctx is not None else make_task("arithmetic", n_steps=2))
    params = dict(params or {})
    sut = SourceUnderTest(fn, ctx if ctx is not None else RewardContext(task=task), params, atol, rtol)
    declared = declared_weights(fn, params, weights) if weights is not None else None
    if declared is not None:
        values = weight_values(declared)
        if abs(math.fsum(values) - 1) > 1e-6:
            raise InvariantError("weights sum to 1", "the source's declared mixture weights sum to 1",
                                 f"{weights}={declared!r} sums to {math.fsum(values):.6g}", {weights: declared})

    def body(case: SourceCase) -> None:
        rewards = sut(case.rollouts)
        check_values(sut, case.rollouts, rewards, placement)
        check_stateless(sut, case, rewards)
        if bounds is not None:
            check_bounds(case.rollouts, rewards, bounds, atol)
        check_consistency(sut, case, rewards, locality)
        if declared is not None and len(case.mix) > 1:
            check_linear_in_weights(sut, case, weights, declared)

    n_weights = len(weight_values(declared)) if declared is not None else 0
    run_property(source_cases(task, max_groups, max_group_size, n_weights), body, max_examples, derandomize, shrink)
