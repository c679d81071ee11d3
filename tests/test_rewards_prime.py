"""PRIME's implicit PRM: token rewards sum to β·(log πψ(y) − log πref(y)), sit on the response
only, vanish when ψ = ref; the online BCE update learns the outcome; checkpoints round-trip."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.model.model import ModelConfig, TinyLlama, token_logprobs
from sandbox.model.policy import TinyPolicy
from sandbox.rewards.base import RewardContext
from sandbox.rewards.prime import ImplicitPRM, implicit_token_rewards, prime_implicit
from sandbox.testing import check_reward_source
from sandbox.testing.strategies import rollouts_batches
from sandbox.train.auxiliary_updates import AuxiliaryUpdates
from toy_envs import make_task

TASK = make_task("arithmetic", n_steps=2)


def tiny_policy(seed: int = 0) -> TinyPolicy:
    torch.manual_seed(seed)
    return TinyPolicy(TinyLlama(ModelConfig(d_model=32, n_layers=1, n_heads=2, n_kv_heads=2, d_ff=64)))


POLICY = tiny_policy()


def perturbed(implicit: ImplicitPRM, scale: float = 0.1) -> ImplicitPRM:
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in implicit.psi.parameters():
            parameter.add_(scale * torch.randn(parameter.shape, generator=gen))
    return implicit


IMPLICIT = perturbed(ImplicitPRM(POLICY, beta=0.3))


def context(implicit: ImplicitPRM) -> RewardContext:
    return RewardContext(task=TASK, auxiliaries={"implicit_prm": implicit})


def sequence_logprob(model, rollouts) -> torch.Tensor:
    """[B] log π(y) summed over response tokens, row by row (an independent recomputation)."""
    out = []
    for row in range(len(rollouts)):
        tokens = rollouts.tokens[row : row + 1]
        with torch.no_grad():
            logp = token_logprobs(model(tokens), tokens)[0]
        out.append(float(logp[rollouts.response_mask[row]].sum()))
    return torch.tensor(out)


@given(rollouts=rollouts_batches(TASK))
def test_token_rewards_sum_to_beta_times_the_sequence_log_ratio_and_sit_on_the_response(rollouts):
    rewards = prime_implicit(rollouts, context(IMPLICIT))
    assert (rewards[~rollouts.response_mask] == 0).all()
    expected = IMPLICIT.beta * (sequence_logprob(IMPLICIT.psi, rollouts) - sequence_logprob(IMPLICIT.reference, rollouts))
    assert torch.allclose(rewards.sum(-1), expected, atol=1e-4)


@given(rollouts=rollouts_batches(TASK))
def test_token_rewards_are_zero_when_psi_is_the_reference(rollouts):
    assert (prime_implicit(rollouts, context(ImplicitPRM(POLICY))) == 0).all()


@given(beta=st.floats(0.01, 2.0), seed=st.integers(0, 100))
def test_implicit_token_rewards_formula(beta, seed):
    gen = torch.Generator().manual_seed(seed)
    psi, ref = torch.randn(3, 5, generator=gen), torch.randn(3, 5, generator=gen)
    mask = torch.rand(3, 5, generator=gen) > 0.4
    rewards = implicit_token_rewards(psi, ref, mask, beta)
    assert torch.allclose(rewards, torch.where(mask, beta * (psi - ref), 0.0))


def test_the_source_passes_the_kit():
    check_reward_source(prime_implicit, ctx=context(IMPLICIT), placement="response")


@settings(max_examples=5)
@given(rollouts=rollouts_batches(TASK, max_groups=3, max_group_size=4))
def test_the_online_update_lowers_the_bce_and_leaves_the_reference_alone(rollouts):
    implicit = ImplicitPRM(POLICY, beta=0.5, lr=1e-4, updates=3)  # small steps: descent, not overshoot
    reference = [p.clone() for p in implicit.reference.parameters()]
    before = implicit.loss(rollouts).item()
    ctx = context(implicit)
    AuxiliaryUpdates({"implicit_prm": implicit}).observe(rollouts, ctx)  # the trainer takes the update
    assert implicit.loss(rollouts).item() < before
    assert "prime/implicit_bce" in ctx.metrics
    assert all(torch.equal(a, b) for a, b in zip(reference, implicit.reference.parameters()))


def test_save_and_load_restore_psi_and_its_optimizer(tmp_path):
    problems = [TASK.problem(i) for i in range(4)]
    from sandbox.rollout.rollouts import Rollouts

    rollouts = Rollouts.from_texts(TASK, problems, [TASK.gold_solution(p) for p in problems[:2]] + ["1", "x"])
    implicit, other = ImplicitPRM(POLICY, lr=1e-2), ImplicitPRM(POLICY, lr=1e-2)
    updates = {model: AuxiliaryUpdates({"implicit_prm": model}) for model in (implicit, other)}
    updates[implicit].observe(rollouts, context(implicit))
    updates[implicit].companions()["auxiliary-implicit_prm"].save(tmp_path / "psi")
    updates[other].companions()["auxiliary-implicit_prm"].load(tmp_path / "psi")
    assert torch.equal(implicit.score(rollouts), other.score(rollouts))
    for model in (implicit, other):
        updates[model].observe(rollouts, context(model))
    assert torch.equal(implicit.score(rollouts), other.score(rollouts))  # same optimizer state, same next step
