"""PRIME's advantage (``prime_rloo``): a naive oracle built from the outcome and process rewards
kept apart (PRIME's eq. 5, with and without batch whitening); a drift shared by a group's process
token rewards cancels (no length bias) where one summed-return baseline keeps it; equal outcomes
give no outcome part; outcome rewards alone give RLOO; the registry feeds the outcome's row total."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.model.model import ModelConfig, TinyLlama
from sandbox.model.policy import TinyPolicy
from sandbox.rewards.base import RewardContext
from sandbox.rewards.outcome import outcome
from sandbox.rewards.prime import ImplicitPRM, prime_implicit
from sandbox.rewards.prime_rloo import prime_rloo
from sandbox.rewards.registry import compute_advantages, compute_token_rewards, get_variant
from sandbox.rewards.return_to_go import return_to_go
from sandbox.rewards.rloo import rloo
from sandbox.testing.strategies import estimator_batches, rollouts_batches
from toy_envs import make_task
from test_rewards_return_to_go_loo import naive_whiten  # the same loop oracle (tests/ is on sys.path under pytest)

OUTCOMES = st.sampled_from([0.0, 1.0, -0.5, 2.0])


def naive(process, outcomes, mask, group) -> torch.Tensor:
    """Loops, eq. 5: Σ_{s≥t} (p_s − mean over the other rows of their mean token reward) plus
    (o_i − mean of the other rows' outcomes); a lone row is its own baseline."""
    rows, width = process.shape
    means = []
    for j in range(rows):
        tokens = [float(process[j, t]) for t in range(width) if mask[j, t]]
        means.append(sum(tokens) / len(tokens) if tokens else 0.0)
    out = torch.zeros(rows, width, dtype=torch.float64)
    for i in range(rows):
        others = [j for j in range(rows) if j != i and group[j] == group[i]]
        process_baseline = sum(means[j] for j in others) / len(others) if others else means[i]
        outcome_baseline = sum(outcomes[j] for j in others) / len(others) if others else outcomes[i]
        for t in range(width):
            if mask[i, t]:
                togo = sum(float(process[i, s]) - process_baseline for s in range(t, width) if mask[i, s])
                out[i, t] = togo + outcomes[i] - outcome_baseline
    return out


def with_outcomes(batch, outcomes: list[float]) -> tuple[torch.Tensor, torch.Tensor]:
    """(total token rewards: the batch's rewards as process rewards plus each outcome on its row's
    last response token, [B] outcomes)."""
    total = batch.rewards.clone().double()
    for i, value in enumerate(outcomes):
        last = int(batch.mask[i].nonzero().max())
        total[i, last] += value
    return total.float(), torch.tensor(outcomes, dtype=torch.float32)


@st.composite
def prime_batches(draw):
    batch = draw(estimator_batches())
    outcomes = draw(st.lists(OUTCOMES, min_size=len(batch.group), max_size=len(batch.group)))
    return batch, outcomes


@given(case=prime_batches())
def test_matches_a_naive_loop_over_rows_and_tokens(case):
    batch, outcomes = case
    total, outcome_total = with_outcomes(batch, outcomes)
    adv = prime_rloo(total, batch.mask, batch.group, batch.step_ids, outcome_total, whiten=False)
    assert torch.allclose(adv.double(), naive(batch.rewards, outcomes, batch.mask, batch.group), atol=1e-4)


@given(case=prime_batches())
def test_whitened_over_the_batch(case):
    batch, outcomes = case
    total, outcome_total = with_outcomes(batch, outcomes)
    adv = prime_rloo(total, batch.mask, batch.group, batch.step_ids, outcome_total)
    expected = naive_whiten(naive(batch.rewards, outcomes, batch.mask, batch.group), batch.mask)
    assert torch.allclose(adv.double(), expected, atol=1e-3, rtol=1e-4)


@given(case=prime_batches(), shift=st.sampled_from([-3.0, -0.25, 0.5, 4.0]), which=st.integers(0, 10))
def test_a_drift_shared_by_a_group_s_process_rewards_cancels(case, shift, which):
    """Adding c to every process token reward of one group leaves every advantage unchanged:
    responses of different lengths are not paid for a drift the whole group shares."""
    batch, outcomes = case
    total, outcome_total = with_outcomes(batch, outcomes)
    chosen = batch.group[which % len(batch.group)]
    shifted = total + shift * ((batch.group == chosen)[:, None] & batch.mask)
    before = prime_rloo(total, batch.mask, batch.group, batch.step_ids, outcome_total, whiten=False)
    after = prime_rloo(shifted, batch.mask, batch.group, batch.step_ids, outcome_total, whiten=False)
    assert torch.allclose(after, before, atol=1e-4)


def test_one_summed_return_baseline_keeps_the_drift_as_a_length_bias():
    """The control for the invariant above: two wrong rows of lengths 2 and 4, every implicit
    token reward −1. PRIME's advantage is 0 everywhere; ``return_to_go`` with one leave-one-out
    baseline of the summed return favours the short row (+2 on its first token, −2 on the long one's)."""
    mask = torch.tensor([[True, True, False, False], [True, True, True, True]])
    rewards = torch.where(mask, -1.0, 0.0)
    group, steps = torch.zeros(2, dtype=torch.long), torch.zeros(2, 4, dtype=torch.long)
    prime = prime_rloo(rewards, mask, group, steps, torch.zeros(2), whiten=False)
    summed = return_to_go(rewards, mask, group, steps, baseline="leave_one_out")
    assert torch.equal(prime, torch.zeros(2, 4))
    assert summed[0, 0] == 2.0 and summed[1, 0] == -2.0


@given(batch=estimator_batches(), value=OUTCOMES)
def test_equal_outcomes_give_no_outcome_part(batch, value):
    outcomes = [value] * len(batch.group)
    total, outcome_total = with_outcomes(batch, outcomes)
    with_equal = prime_rloo(total, batch.mask, batch.group, batch.step_ids, outcome_total, whiten=False)
    process_only = prime_rloo(batch.rewards, batch.mask, batch.group, batch.step_ids, whiten=False)
    assert torch.allclose(with_equal, process_only, atol=1e-4)


@given(case=prime_batches())
def test_outcome_rewards_alone_give_rloo(case):
    batch, outcomes = case
    total, outcome_total = with_outcomes(batch, outcomes)
    outcome_only = total - batch.rewards  # the outcome on each row's last response token
    adv = prime_rloo(outcome_only, batch.mask, batch.group, batch.step_ids, outcome_total, whiten=False)
    assert torch.allclose(adv, rloo(outcome_only, batch.mask, batch.group, batch.step_ids), atol=1e-5)


def test_a_lone_row_is_its_own_baseline():
    mask = torch.tensor([[True, True, True]])
    rewards = torch.tensor([[0.5, -1.0, 1.5]])  # process 0.5, −1, 0.5 and outcome 1 on the last token
    adv = prime_rloo(rewards, mask, torch.zeros(1, dtype=torch.long), torch.zeros(1, 3, dtype=torch.long), torch.ones(1), whiten=False)
    assert torch.allclose(adv, torch.tensor([[0.0, -0.5, 0.5]]))


TASK = make_task("arithmetic", n_steps=2)


def implicit_context() -> RewardContext:
    """An implicit PRM whose ψ is a perturbed copy of the reference, so its token rewards are nonzero."""
    torch.manual_seed(0)
    implicit = ImplicitPRM(TinyPolicy(TinyLlama(ModelConfig(d_model=32, n_layers=1, n_heads=2, n_kv_heads=2, d_ff=64))), beta=0.3)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in implicit.psi.parameters():
            parameter.add_(0.1 * torch.randn(parameter.shape, generator=gen))
    return RewardContext(task=TASK, auxiliaries={"implicit_prm": implicit})


CTX = implicit_context()


@settings(max_examples=10)
@given(rollouts=rollouts_batches(TASK))
def test_the_prime_variant_gets_the_outcome_total_from_the_registry(rollouts):
    """``compute_token_rewards`` records each source's row total; ``compute_advantages`` passes the
    outcome's to the estimator, so the variant's advantage is eq. 5 on its two sources."""
    variant = get_variant("prime")
    rewards = compute_token_rewards(variant, rollouts, CTX)
    assert torch.equal(rollouts.extras["outcome_total"], rollouts.correct.float())
    process = prime_implicit(rollouts, CTX)
    torch.testing.assert_close(rewards, outcome(rollouts, CTX) + process)
    mask = rollouts.response_mask
    expected = naive_whiten(naive(process, rollouts.correct.tolist(), mask, rollouts.group), mask)
    assert torch.allclose(compute_advantages(variant, rollouts, rewards).double(), expected, atol=1e-3, rtol=1e-4)
