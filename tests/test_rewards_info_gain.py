"""L2T's information-gain reward: the Fisher penalty against the explicit (Vd) x (Vd) matrix, the
episode gradients against autograd, the fitting gains against one forward per prefix (and their
telescoping sum), and where the reward lands."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.model.sampler import SamplingConfig
from sandbox.rewards.base import RewardContext
from sandbox.rewards.dro_r3 import reference_answer
from sandbox.rewards.info_gain import episode_gradients, episode_ids, episode_spans, fisher_penalties, fitting_gains, info_gain
from sandbox.rewards.registry import get_variant
from sandbox.rollout.group_sampler import sample_groups
from sandbox.rollout.rollouts import Rollouts
from sandbox.testing.models import small_random_policy
from toy_envs import ConfigError, make_task

TASK = make_task("arithmetic", n_steps=2, operators="+-", start_max=50, repeat_lines=0.5)


POLICY = small_random_policy()


@st.composite
def gradient_matrices(draw):
    n, p = draw(st.integers(1, 7)), draw(st.integers(1, 6))
    values = draw(st.lists(st.floats(-3, 3, allow_nan=False), min_size=n * p, max_size=n * p))
    return torch.tensor(values, dtype=torch.float64).reshape(n, p)


@given(gradient_matrices(), st.integers(1, 8), st.sampled_from([1e-3, 0.1, 1.0]))
def test_the_penalty_is_half_eta_squared_times_the_quadratic_form_of_the_rank_truncated_empirical_fisher(g, rank, eta):
    n = g.shape[0]
    fisher = g.T @ g / n  # the explicit matrix, truncated through its own eigendecomposition
    values, vectors = torch.linalg.eigh(fisher)
    top = values.argsort(descending=True)[:rank]
    truncated = vectors[:, top] @ torch.diag(values[top]) @ vectors[:, top].T
    expected = 0.5 * eta**2 * torch.einsum("np,pq,nq->n", g, truncated, g)
    assert torch.allclose(fisher_penalties(g, rank, eta), expected, rtol=1e-3, atol=1e-6 * (1 + expected.abs().max()))


@given(gradient_matrices(), st.integers(1, 7))
def test_the_penalty_is_non_negative_grows_with_rank_and_at_full_rank_sums_squared_inner_products(g, rank):
    low, high = fisher_penalties(g, rank, 1.0), fisher_penalties(g, rank + 1, 1.0)
    assert (low >= -1e-9).all() and (high >= low - 1e-6 * (1 + high.abs().max())).all()
    full = fisher_penalties(g, g.shape[0], 1.0)
    assert torch.allclose(full, 0.5 * ((g @ g.T) ** 2).sum(0) / g.shape[0], rtol=1e-6, atol=1e-6)


def sampled(policy=POLICY, problems=4, group=3, seed=0) -> Rollouts:
    return sample_groups(policy, TASK, list(range(problems)), group, SamplingConfig(max_new_tokens=40), seed, 0)


def from_texts(texts: list[str], problem_index: int = 0) -> Rollouts:
    return Rollouts.from_texts(TASK, [TASK.problem(problem_index)] * len(texts), texts)


SOLUTIONS = ["17+2=19\n17+2=19\n19+3=22\n#22\n", "17+2=19\n19+3=22\n#22\n", "17+2=18\n18+3=21\n#21\n", "17+2=19\n"]


def test_episode_gradients_are_the_lm_head_gradients_of_each_episodes_log_likelihood():
    rollouts = from_texts(SOLUTIONS)
    spans = episode_spans(TASK, rollouts.texts)
    episodes = episode_ids(rollouts, spans)
    got = episode_gradients(POLICY, rollouts.tokens, episodes)
    weight = POLICY.module.lm_head.weight
    for b, row in enumerate(spans):
        for k in range(len(row)):
            POLICY.module.zero_grad()
            logp = POLICY.logits(rollouts.tokens[b : b + 1]).float().log_softmax(-1)[0, :-1]
            picked = logp.gather(-1, rollouts.tokens[b, 1:, None]).squeeze(-1)
            (picked * (episodes[b, 1:] == k)).sum().backward()
            assert torch.allclose(got[b, k], weight.grad, atol=1e-5), (b, k)


def test_episodes_are_the_step_lines_and_the_answer_line_is_none():
    rollouts = from_texts(SOLUTIONS[:3])  # with answer lines (without one, <eos> joins the last step line)
    episodes = episode_ids(rollouts, episode_spans(TASK, rollouts.texts))
    for b, text in enumerate(rollouts.texts):
        lines = text.splitlines(keepends=True)
        step_lines = [line for line in lines if not line.startswith("#")]
        response = rollouts.response_mask[b]
        ids = episodes[b][response].tolist()
        assert sorted(set(ids) - {-1}) == list(range(len(step_lines)))
        for k, line in enumerate(step_lines):
            assert ids.count(k) == len(line)  # one character, one token
        assert ids.count(-1) == int(response.sum()) - sum(map(len, step_lines))


def answer_loglik(policy, prompt: str, context: str, answer: str) -> float:
    """An independent J: one forward of prompt + context + answer, summed over the answer's tokens."""
    tok = policy.tokenizer
    head = tok.encode(prompt + context, bos=True)
    tail = tok.encode(answer)
    logp = policy.logits(torch.tensor([head + tail])).float().log_softmax(-1)[0]
    return float(sum(logp[len(head) - 1 + j, t] for j, t in enumerate(tail)))


@settings(max_examples=5, deadline=None)
@given(st.integers(0, 2))
def test_gains_are_differences_of_the_answer_loglik_after_each_prefix_and_telescope(seed):
    rollouts = sampled(seed=seed)
    spans = episode_spans(TASK, rollouts.texts)
    prompts = [TASK.prompt(p) for p in rollouts.problems]
    references = [reference_answer(TASK, p) for p in rollouts.problems]
    gains = fitting_gains(POLICY, prompts, rollouts.texts, spans, references)
    with torch.no_grad():
        for n, text in enumerate(rollouts.texts):
            ends = [0, *(e for _, e in spans[n])]
            j = [answer_loglik(POLICY, prompts[n], text[:end] + "#", references[n][1:]) for end in ends]
            assert gains[n] == pytest.approx([j[k + 1] - j[k] for k in range(len(spans[n]))], abs=1e-3)
            assert sum(gains[n]) == pytest.approx(j[-1] - j[0], abs=1e-3)


def test_the_reward_sits_on_each_step_lines_last_token_and_is_gain_minus_beta_penalty():
    rollouts = sampled()
    spans = episode_spans(TASK, rollouts.texts)
    ctx = RewardContext(task=TASK, policy=POLICY)
    r0 = info_gain(rollouts, ctx, beta=0.0)
    r1 = info_gain(rollouts, RewardContext(task=TASK, policy=POLICY), beta=2.0, eta=0.5)
    episodes = episode_ids(rollouts, spans)
    for b, row in enumerate(spans):
        ends = {int((episodes[b] == k).nonzero().max()) for k in range(len(row))}
        nonzero = set(r0[b].nonzero().flatten().tolist()) | set(r1[b].nonzero().flatten().tolist())
        assert nonzero <= ends
        assert (r1[b] <= r0[b] + 1e-6).all()  # the penalty only subtracts
    assert ctx.metrics["l2t/episodes"] == pytest.approx(sum(map(len, spans)) / len(rollouts))


def test_bad_parameters_are_refused_before_any_forward():
    rollouts = from_texts(SOLUTIONS[:1])
    for field, value in (("beta", -1.0), ("eta", 0.0), ("rank", 0)):
        with pytest.raises(ConfigError, match=field):
            info_gain(rollouts, RewardContext(task=TASK, policy=POLICY), **{field: value})
    with pytest.raises(ConfigError, match="policy"):
        info_gain(rollouts, RewardContext(task=TASK))


def test_the_l2t_variant_adds_the_weighted_process_rewards_to_the_outcome():
    variant = get_variant("l2t")
    assert [s for s, _, _ in variant.sources] == ["outcome", "info_gain"]
    assert variant.estimator == "grpo"
