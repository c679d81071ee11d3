"""The kit catches real bugs: each test plants one in an otherwise correct piece and asserts that
the right invariant fails, with a shrunk counterexample in the message.

Estimators: padding not masked, output not masked, RLOO off-by-one (baseline over G instead of
G − 1), RLOO scale off-by-one (caught by the oracle only), std over the batch instead of the
group, a sign flip, NaN std for a group of one row, groups taken as consecutive runs, inputs
modified in place, whitening without group centring. Filters: zero-variance groups of one row
kept (NaN variance), groups of two rows always kept, a metric summed over padding, a batch-level
threshold, a row-level decision in a group filter, a float keep mask. Sources: reward on the
row's last *column* (padding for shorter rows), NaN for an answerless response, global RNG,
randomness keyed by row position, a group statistic in a source declared row-local.
"""

from __future__ import annotations

import pytest
import torch

from sandbox.rewards.base import FilterResult, on_last_token
from sandbox.rewards.dr_grpo import dr_grpo
from sandbox.rewards.grpo import grpo
from sandbox.rewards.rloo import rloo
from sandbox.rewards.rpp_baseline import whiten_over_mask
from sandbox.rewards.outcome import outcome
from sandbox.rewards.variance_filter import variance_filter
from sandbox.testing import InvariantError, check_advantage_estimator, check_filter, check_reward_source


def groups(group: torch.Tensor) -> list[torch.Tensor]:
    """One bool row mask per distinct group id."""
    return [group == g for g in torch.unique(group)]


def per_group(returns: torch.Tensor, group: torch.Tensor, fn) -> torch.Tensor:
    """[B] ``fn(values of the group, row mask)`` written back to the group's rows, in float64."""
    out = torch.zeros(len(group), dtype=torch.float64)
    for rows in groups(group):
        out[rows] = fn(returns[rows].double(), rows)
    return out


def zscore(values: torch.Tensor) -> torch.Tensor:
    """GRPO's z-score of one group, with the exact zero of equal values and of one row."""
    if len(values) < 2 or (values == values[0]).all():
        return torch.zeros_like(values)
    return (values - values.mean()) / (values.std() + 1e-6)


def expect(invariant: str | tuple[str, ...], check, *args, shrink: bool = False, **kwargs) -> InvariantError:
    """Run the check; it must fail on ``invariant`` (or one of several) and show a
    counterexample. Without shrinking (the default here, for time) the invariant named is the
    first one, in the kit's order, that the first failing example violates."""
    with pytest.raises(InvariantError) as caught:
        check(*args, shrink=shrink, **kwargs)
    allowed = (invariant,) if isinstance(invariant, str) else invariant
    assert caught.value.invariant in allowed, str(caught.value)
    assert "counterexample" in str(caught.value)
    return caught.value


# --- estimators -------------------------------------------------------------------------------


def padding_not_masked(rewards, mask, group, step_ids):
    returns = rewards.sum(-1)  # bug: prompt and padding rewards are summed too
    return (per_group(returns, group, lambda v, _: zscore(v))[:, None] * mask).float()


def output_not_masked(rewards, mask, group, step_ids):
    returns = (rewards * mask).sum(-1)
    return per_group(returns, group, lambda v, _: zscore(v))[:, None].expand(mask.shape).float()  # bug: no * mask


def rloo_baseline_over_g(rewards, mask, group, step_ids):
    returns = (rewards * mask).sum(-1)
    advantage = per_group(returns, group, lambda v, _: v - (v.sum() - v) / len(v))  # bug: / G, not / (G − 1)
    return (advantage[:, None] * mask).float()


def rloo_scale_inverted(rewards, mask, group, step_ids):
    returns = (rewards * mask).sum(-1)
    n = len  # bug: (G − 1)/G · (R − mean) instead of G/(G − 1) · (R − mean)
    advantage = per_group(returns, group, lambda v, _: (n(v) - 1) / n(v) * (v - v.mean()))
    return (advantage[:, None] * mask).float()


def std_over_batch(rewards, mask, group, step_ids):
    returns = (rewards * mask).sum(-1).double()
    centred = per_group(returns, group, lambda v, _: v - v.mean())
    std = returns.std() if len(returns) > 1 else torch.tensor(0.0)  # bug: the batch's std
    return (centred / (std + 1e-6))[:, None].mul(mask).float()


def sign_flip(rewards, mask, group, step_ids):
    return -grpo(rewards, mask, group, step_ids)  # bug: mean − R


def nan_for_single_rows(rewards, mask, group, step_ids):
    returns = (rewards * mask).sum(-1)
    advantage = per_group(returns, group, lambda v, _: (v - v.mean()) / (v.std() + 1e-6))  # bug: std of 1 row is NaN
    return (advantage[:, None] * mask).float()


def consecutive_runs(rewards, mask, group, step_ids):
    runs = torch.cumsum(torch.cat([torch.ones(1), (group[1:] != group[:-1]).float()]), 0)  # bug: assumes adjacent rows
    return grpo(rewards, mask, runs.long(), step_ids)


def mutates_rewards(rewards, mask, group, step_ids):
    rewards.mul_(mask)  # bug: writes into the caller's tensor
    return grpo(rewards, mask, group, step_ids)


def forgets_to_whiten(rewards, mask, group, step_ids):
    return dr_grpo(rewards, mask, group, step_ids)  # bug: declared batch-whitened, only group-centred


def whitens_raw_rewards(rewards, mask, group, step_ids):
    returns = (rewards * mask).sum(-1)  # bug: no group centring before whitening
    return whiten_over_mask(returns[:, None].expand(mask.shape).double(), mask, 1e-6).float()


@pytest.mark.parametrize(
    "bug, invariant",
    [
        (padding_not_masked, "ignores rewards off the mask"),
        (output_not_masked, "zero off the mask"),
        (rloo_baseline_over_g, "equal rewards give zero"),
        (sign_flip, "monotone in reward"),
        (nan_for_single_rows, "finite"),
        (consecutive_runs, "row permutation"),
        (mutates_rewards, "inputs not modified"),
    ],
    ids=lambda x: getattr(x, "__name__", x),
)
def test_estimator_bugs_are_caught(bug, invariant):
    expect(invariant, check_advantage_estimator, bug, "outcome_group")


def test_std_over_the_batch_is_caught_as_leaking_between_groups():
    expect("group locality", check_advantage_estimator, std_over_batch, "outcome_group")


def test_whitening_without_group_centring_is_caught():
    expect("group shift", check_advantage_estimator, whitens_raw_rewards, "batch_whitened")


def test_group_centring_without_whitening_is_caught():
    expect("batch whitening", check_advantage_estimator, forgets_to_whiten, "batch_whitened")


def test_rloo_scale_bug_passes_the_invariants_but_not_the_oracle():
    """(G − 1)/G instead of G/(G − 1) keeps every structural invariant; only a reference finds it."""
    check_advantage_estimator(rloo_scale_inverted, "outcome_group")
    expect("oracle", check_advantage_estimator, rloo_scale_inverted, "outcome_group", oracle=rloo)


def test_the_counterexample_is_shrunk():
    """Shrunk, the NaN bug's counterexample is one group of one row, and the sign flip's a row
    and its twin; the messages show the NaN and both rows."""
    error = expect("finite", check_advantage_estimator, nan_for_single_rows, "outcome_group", shrink=True)
    assert len(error.example["group"]) == 1
    assert "nan" in str(error)
    error = expect("monotone in reward", check_advantage_estimator, sign_flip, "outcome_group", shrink=True)
    assert len(error.example["group"]) == 2
    assert "(original)" in str(error) and "(twin)" in str(error)


# --- filters ----------------------------------------------------------------------------------


def summed(rollouts, token_rewards):
    return (token_rewards * rollouts.response_mask).sum(-1).double()


def group_keep(rollouts, decide) -> torch.Tensor:
    keep = torch.zeros(len(rollouts), dtype=torch.bool)
    for rows in groups(rollouts.group):
        keep[rows] = decide(rows)
    return keep


def keeps_single_rows(rollouts, token_rewards, ctx):
    values = summed(rollouts, token_rewards)
    return FilterResult(group_keep(rollouts, lambda rows: bool(~(values[rows].var() == 0))))  # bug: NaN var for 1 row


def keeps_pairs(rollouts, token_rewards, ctx):
    values = summed(rollouts, token_rewards)
    # bug: "a pair is always a comparison" -- two equal rows are kept
    return FilterResult(group_keep(rollouts, lambda rows: int(rows.sum()) == 2 or bool(values[rows].var() > 0)))


def sums_padding(rollouts, token_rewards, ctx):
    values = token_rewards.sum(-1)  # bug: prompt and padding rewards counted
    return FilterResult(group_keep(rollouts, lambda rows: bool(values[rows].max() > values[rows].min())))


def batch_threshold(rollouts, token_rewards, ctx):
    values = summed(rollouts, token_rewards)
    return FilterResult(group_keep(rollouts, lambda rows: bool(values[rows].mean() >= values.mean())))  # bug: batch mean


def keeps_correct_rows(rollouts, token_rewards, ctx):
    return FilterResult(rollouts.correct > 0)  # bug: a row-level decision in a group filter


def float_keep(rollouts, token_rewards, ctx):
    return FilterResult(variance_filter(rollouts, token_rewards, ctx, metric="reward").keep.float())  # bug: not bool


@pytest.mark.parametrize(
    "bug, kind, invariant",
    [
        (keeps_single_rows, "variance", "zero variance rejected"),
        (keeps_pairs, "variance", "zero variance rejected"),
        # summing padding breaks two invariants: rewards off the response change the decision,
        # and so does another group (it sets the batch's padded width); the first example
        # drawn may trip either
        (sums_padding, "group", ("ignores rewards off the response", "group locality")),
        (batch_threshold, "group", "group locality"),
        (keeps_correct_rows, "group", "whole groups"),
        (float_keep, "variance", "keep is a bool [B] mask"),
    ],
    ids=lambda x: getattr(x, "__name__", x),
)
def test_filter_bugs_are_caught(bug, kind, invariant):
    expect(invariant, check_filter, bug, kind, metric="reward")


def test_zero_variance_groups_of_one_and_two_rows_are_the_counterexamples():
    """Shrunk, the counterexamples are the smallest batches showing each bug: one row, and a
    group of two equal rows."""
    single = expect("zero variance rejected", check_filter, keeps_single_rows, "variance", shrink=True)
    assert len(single.example["group"]) == 1 and "(1 rows) is kept although" in str(single)
    pair = expect("zero variance rejected", check_filter, keeps_pairs, "variance", shrink=True)
    assert "(2 rows) is kept although" in str(pair)


# --- sources ----------------------------------------------------------------------------------


def reward_on_last_column(rollouts, ctx):
    out = torch.zeros(rollouts.tokens.shape)
    out[:, -1] = rollouts.correct  # bug: the last column is padding for every shorter row
    return out


def valid_step_fraction(rollouts, ctx):
    valid = torch.tensor([float(sum(v.step_valid)) for v in rollouts.verdicts])
    steps = torch.tensor([float(len(v.step_valid)) for v in rollouts.verdicts])
    return on_last_token(rollouts, valid / steps)  # bug: 0/0 = NaN for an empty response


def global_rng(rollouts, ctx):
    return on_last_token(rollouts, (torch.rand(len(rollouts)) < 0.5).float())  # bug: not keyed


def keyed_by_position(rollouts, ctx):
    coins = torch.tensor([float(hash((ctx.seed, ctx.step, b)) % 2) for b in range(len(rollouts))])
    return on_last_token(rollouts, coins)  # bug: keyed by row position, not (problem, rollout)


def correct_minus_group_mean(rollouts, ctx):
    correct = rollouts.correct.double()
    return on_last_token(rollouts, per_group(correct, rollouts.group, lambda v, _: v - v.mean()).float())


@pytest.mark.parametrize(
    "bug, locality, invariant",
    [
        (reward_on_last_column, "row", "zero off the response"),
        (valid_step_fraction, "row", "finite"),
        # which check first sees two different draws depends on the global RNG's state, i.e. on
        # the tests that ran before in this process
        (global_rng, "row", ("deterministic", "row permutation")),
        (keyed_by_position, "batch", "row permutation"),  # (declared row-local, locality fails first)
        (correct_minus_group_mean, "row", "locality"),
    ],
    ids=lambda x: getattr(x, "__name__", x),
)
def test_source_bugs_are_caught(bug, locality, invariant):
    expect(invariant, check_reward_source, bug, locality=locality)


def test_a_nondeterministic_source_is_reported_as_an_invariant_error_when_shrinking():
    """Its failure does not recur on hypothesis' replay (hypothesis calls that flaky); the kit still
    raises an invariant's error, from one of the invariants that compare two calls."""
    with pytest.raises(InvariantError) as caught:
        check_reward_source(global_rng, shrink=True)
    assert caught.value.invariant in ("deterministic", "row permutation", "locality")


def test_a_group_statistic_is_fine_when_declared_group_local():
    check_reward_source(correct_minus_group_mean, locality="group", placement="last")
    check_reward_source(outcome, placement="last")
