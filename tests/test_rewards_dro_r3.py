"""DRO's R3: σ-weight invariants (hypothesis), R3 against a naive per-row loop of forwards,
the masked variant, reward placement, and that training never consults the verifier."""

import copy

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from sandbox.model.sampler import SamplingConfig
from sandbox.model.policy import TinyPolicy
from sandbox.rewards.base import RewardContext
from sandbox.rewards.dro_r3 import (
    dro_r3,
    reasoning_of,
    reference_answer,
    reflect,
    sigma_weights,
    token_sigma,
    uniform_weights,
    weighted_reflection,
)
from sandbox.rewards.registry import VARIANTS
from sandbox.rollout.group_sampler import sample_groups
from sandbox.rollout.rollouts import Rollouts
from sandbox.testing.strategies import group_layouts, rollouts_batches
from sandbox.train.rl import RLConfig, Trainer
from sandbox.testing.models import small_random_policy
from toy_envs import ConfigError, make_task

TASK = make_task("arithmetic", n_steps=2, operators="+-", start_max=50, long_answer=True)


POLICY = small_random_policy()


@st.composite
def ell_batches(draw):
    """(ℓ [B, J], mask [B, J], group [B]): rows of one group share their reference length."""
    group = torch.tensor(draw(group_layouts(max_groups=4, max_group_size=6)))
    lengths = {g: draw(st.integers(1, 6)) for g in group.unique().tolist()}
    width = max(lengths.values())
    values = draw(st.lists(st.floats(-20, 0, allow_nan=False), min_size=len(group) * width, max_size=len(group) * width))
    ell = torch.tensor(values, dtype=torch.float32).reshape(len(group), width)
    mask = torch.arange(width)[None, :] < torch.tensor([lengths[g] for g in group.tolist()])[:, None]
    return ell * mask, mask, group


TEMPERATURES = st.sampled_from([0.1, 1.0, 5.0])


@given(ell_batches(), TEMPERATURES)
def test_weights_are_non_negative_and_sum_to_one_over_the_reference(batch, tau):
    ell, mask, group = batch
    w = sigma_weights(token_sigma(ell, mask, group), mask, tau)
    assert (w >= 0).all() and (w[~mask] == 0).all()
    assert torch.allclose(w.sum(-1), torch.ones(len(group)), atol=1e-6)


@given(ell_batches(), TEMPERATURES, st.data())
def test_a_token_with_equal_ell_in_every_rollout_gets_the_minimum_weight(batch, tau, data):
    ell, mask, group = batch
    g = group[0]
    rows = group == g
    j = data.draw(st.integers(0, int(mask[0].sum()) - 1))
    ell[rows, j] = data.draw(st.floats(-20, 0, allow_nan=False))
    sigma = token_sigma(ell, mask, group)
    w = sigma_weights(sigma, mask, tau)
    assert (sigma[rows, j] == 0).all()
    row = rows.nonzero()[0, 0]
    assert w[row, j] <= w[row][mask[row]].min() + 1e-7


@given(ell_batches(), TEMPERATURES, st.data())
def test_permuting_rollouts_permutes_r3_and_keeps_sigma_and_weights(batch, tau, data):
    ell, mask, group = batch
    order = torch.tensor(data.draw(st.permutations(range(len(group)))))
    sigma, p_sigma = token_sigma(ell, mask, group), token_sigma(ell[order], mask[order], group[order])
    w, p_w = sigma_weights(sigma, mask, tau), sigma_weights(p_sigma, mask[order], tau)
    assert torch.allclose(p_sigma, sigma[order], atol=1e-6)
    assert torch.allclose(p_w, w[order], atol=1e-6)
    assert torch.allclose(weighted_reflection(ell[order], p_w), weighted_reflection(ell, w)[order], atol=1e-5)


@given(ell_batches())
def test_uniform_weights_make_r3_the_mean_log_likelihood_of_the_reference(batch):
    """The ablation's R3 against an independent oracle: the plain mean of ℓ over each row's
    reference tokens; it equals the σ-weighted R3 in the τ → ∞ limit."""
    ell, mask, group = batch
    w = uniform_weights(mask)
    assert torch.allclose(w.sum(-1), torch.ones(len(group)), atol=1e-6) and (w[~mask] == 0).all()
    expected = torch.tensor([ell[b][mask[b]].double().mean().item() for b in range(len(group))], dtype=torch.float64)
    assert torch.allclose(weighted_reflection(ell, w).double(), expected, atol=1e-5)
    flat = sigma_weights(token_sigma(ell, mask, group), mask, 1e9)
    assert torch.allclose(weighted_reflection(ell, flat), weighted_reflection(ell, w), atol=1e-4)


def test_dro_uniform_differs_from_dro_only_in_its_weights():
    """Same ℓ, σ and references; uniform weights; a bad weighting is a ConfigError."""
    problems = [TASK.problem(i) for i in (0, 0, 0, 1, 1, 1)]
    texts = [TASK.gold_solution(p) for p in problems[:1]] + ["1+1=2\n#5,7\n", "#3\n"] + [TASK.gold_solution(problems[3]), "#9\n", "2\n#4,4\n"]
    batch = Rollouts.from_texts(TASK, problems, texts)
    sigma_run, uniform_run = reflect(batch, TASK, POLICY), reflect(batch, TASK, POLICY, weighting="uniform")
    assert torch.equal(sigma_run.ell, uniform_run.ell) and torch.equal(sigma_run.sigma, uniform_run.sigma)
    assert torch.equal(uniform_run.weights, uniform_weights(sigma_run.mask))
    assert VARIANTS["dro-uniform"].sources[0][2] == {"weighting": "uniform"}
    with pytest.raises(ConfigError, match="weighting"):
        reflect(batch, TASK, POLICY, weighting="softmax")


@given(ell_batches())
def test_sigma_is_the_population_std_of_each_group(batch):
    ell, mask, group = batch
    sigma = token_sigma(ell, mask, group)
    for g in group.unique():
        rows = group == g
        expected = ell[rows].double().std(0, unbiased=False) * mask[rows][0]
        assert torch.allclose(sigma[rows], expected.float().expand_as(sigma[rows]), atol=1e-5)


def naive_reference_logprobs(policy, prompt: str, reasoning: str, reference: str) -> list[float]:
    """One forward per (row, reference token): log π(y_j | prompt, reasoning, y_<j)."""
    tok = policy.tokenizer
    context, answer = tok.encode(prompt + reasoning, bos=True), tok.encode(reference)
    out = []
    for j, token in enumerate(answer):
        prefix = torch.tensor([context + answer[:j]])
        with torch.no_grad():
            out.append(float(policy.logits(prefix)[0, -1].log_softmax(-1)[token]))
    return out


def naive_r3(policy, rollouts, tau: float, masked: bool) -> list[float]:
    """R3 by per-row loops: ℓ by separate forwards, σ and weights by plain Python."""
    ell = []
    for problem, text in zip(rollouts.problems, rollouts.texts):
        row = naive_reference_logprobs(policy, TASK.prompt(problem), reasoning_of(TASK, text), reference_answer(TASK, problem))
        if masked:
            empty = naive_reference_logprobs(policy, TASK.prompt(problem), "", reference_answer(TASK, problem))
            row = [a - b for a, b in zip(row, empty)]
        ell.append(row)
    groups = rollouts.group.tolist()
    out = []
    for i, g in enumerate(groups):
        members = [ell[k] for k in range(len(groups)) if groups[k] == g]
        sigma = []
        for j in range(len(ell[i])):
            column = [m[j] for m in members]
            mean = sum(column) / len(column)
            sigma.append((sum((x - mean) ** 2 for x in column) / len(column)) ** 0.5)
        exps = [torch.tensor(s / tau, dtype=torch.float64).exp().item() for s in sigma]
        out.append(sum(e / sum(exps) * x for e, x in zip(exps, ell[i])))
    return out


@pytest.mark.parametrize("masked", [False, True])
@given(rollouts_batches(TASK, max_groups=3, max_group_size=4))
def test_r3_matches_a_naive_loop_of_single_row_forwards(masked, rollouts):
    ours = reflect(rollouts, TASK, POLICY, temperature=1.0, masked=masked).r3
    assert torch.allclose(ours, torch.tensor(naive_r3(POLICY, rollouts, 1.0, masked), dtype=torch.float32), atol=1e-4)


def test_reasoning_is_the_response_before_its_answer_line_and_the_reference_is_the_gold_answer_line():
    problem = TASK.problem(0)
    gold = TASK.gold_solution(problem)
    assert reference_answer(TASK, problem) == "#19,22\n" and gold.endswith("#19,22\n")
    assert reasoning_of(TASK, "17+2=19\n19+3=22\n#1,2\n") == "17+2=19\n19+3=22\n"
    assert reasoning_of(TASK, "17+2=19\n19+3") == "17+2=19\n19+3"
    assert reasoning_of(TASK, "#5\n") == ""


def test_r3_sits_on_the_last_response_token_only(warmstart_long_answer):
    model, task, _ = warmstart_long_answer
    problem = task.problem(0)
    texts = ["17+2=19\n19+3=22\n#19,22\n", "17+2=20\n20+3=23\n#20,23\n", "17+2=19\n19+3=23\n#19,23\n"]
    rollouts = Rollouts.from_texts(task, [problem] * 3, texts)
    rewards = dro_r3(rollouts, RewardContext(task=task, policy=TinyPolicy(model)))
    rows = torch.arange(3)
    assert (rewards.count_nonzero(-1) <= 1).all()
    r3 = rewards[rows, rollouts.last_token]
    assert r3[0] > r3[2] > r3[1], "right reasoning > one wrong intermediate > two wrong intermediates"


def test_bad_scorer_and_temperature_are_config_errors():
    batch = Rollouts.from_texts(TASK, [TASK.problem(0)] * 2, ["#1\n", "#2\n"])
    with pytest.raises(ConfigError, match="scorer"):
        dro_r3(batch, RewardContext(task=TASK, policy=POLICY), scorer="judge")
    with pytest.raises(ConfigError, match="temperature"):
        dro_r3(batch, RewardContext(task=TASK, policy=POLICY), temperature=0.0)
    with pytest.raises(ValueError, match="reference"):
        dro_r3(batch, RewardContext(task=TASK, policy=POLICY), scorer="reference")


VERIFIER_FREE = sorted(name for name, variant in VARIANTS.items() if not variant.uses_verifier)


def test_the_dro_variants_declare_that_they_learn_without_the_verifier():
    assert {"dro", "dro-uniform", "dro+gate", "rubric-dense"} <= set(VERIFIER_FREE)


@pytest.mark.parametrize("variant", VERIFIER_FREE)
def test_training_a_verifier_free_variant_never_consults_the_verifier(warmstart_long_answer, variant, monkeypatch):
    """The task's ``score`` raises for the whole run: two training steps of each variant that
    declares ``uses_verifier=False`` (``dro`` with its query filter screening the stream first,
    rewards, filters, advantages, PPO updates, rollout metrics) complete and move the weights.
    Held-out evaluation and the drift probe are switched off because they measure with the
    verifier by design."""
    model, task, _ = warmstart_long_answer

    def consulted(self, problem, text):
        raise AssertionError(f"the verifier was consulted while training {variant!r}")

    monkeypatch.setattr(type(task), "score", consulted)
    with pytest.raises(AssertionError, match="consulted"):
        task.score(task.problem(0), "#1\n")
    policy = TinyPolicy(copy.deepcopy(model))
    cfg = RLConfig(variant=variant, steps=2, problems_per_step=4, group_size=4, eval_every=0, eval_problems=0, pass_problems=0, drift_every=0, progress=False, warmup_steps=0, lr=1e-4)
    history = Trainer(cfg, task, policy, reference=TinyPolicy(copy.deepcopy(model))).train()
    assert len(history) == 2 and all("rollout/accuracy" not in m for m in history)
    assert all(m["rollout/advantage_abs_mean"] > 0 for m in history)
    assert any(not torch.equal(p, q) for p, q in zip(policy.module.parameters(), model.parameters()))


def auroc(scores: list[float], labels: list[bool]) -> float:
    """P(score of a random positive > score of a random negative), ties count 1/2."""
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    return sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_r3_ranks_right_reasoning_above_wrong_without_a_verifier(warmstart_long_answer, seed):
    """What holds from the long-answer warm start: R3 (scored by the policy itself, no verifier)
    ranks rollouts whose answer is right above wrong ones within a group. Measured on 32 problems ×
    8 rollouts at temperature 1: within-group AUROC 1.000 for seeds 0, 1, 2 from
    'tiny-long-answer-fast', the copy the suite loads (since 6 Dec 2026 a fresh model of the smaller
    test size, 600 SFT steps; over 15-21 groups with both right and wrong rollouts, on a 2-core AMD
    EPYC's own build and its ``ATEN_CPU_CAPABILITY=default`` build; the copy continued from 'tiny'
    before: 0.994, 1.000, 1.000), 1.000 for each from the recipe 'tiny-long-answer' (over 23, 19, 18 groups);
    asserted ≥ 0.95: the warm start copies its reasoning's intermediates into the answer, so the
    reference line is likely exactly when the reasoning computed it. DRO *training* does not raise
    greedy accuracy from the recipe in a small budget (tutorials/guides/results.md: 0.426 → 0.438 /
    0.438 / 0.387 after 12 steps of 32 problems for seeds 0 / 1 / 2); outcome-grpo does not either
    (0.410 / 0.398 / 0.430)."""
    model, task, _ = warmstart_long_answer
    policy = TinyPolicy(model)
    rollouts = sample_groups(policy, task, list(range(32)), 8, SamplingConfig(max_new_tokens=32), seed, 0)
    r3 = reflect(rollouts, task, policy).r3
    pairs = []
    for g in rollouts.group.unique():
        rows = (rollouts.group == g).nonzero().flatten().tolist()
        labels = [rollouts.verdicts[i].correct for i in rows]
        if 0 < sum(labels) < len(labels):
            pairs.append(auroc([float(r3[i]) for i in rows], labels))
    assert sum(pairs) / len(pairs) >= 0.95, sum(pairs) / len(pairs)
