"""Critique-GRPO's refinement piece (sandbox.rewards.critique_grpo): the shaping function and its
gradient against the closed form, the pick of refinements against a brute-force oracle, the rows it
adds (bare prompt, parent's group, after the group's rows), and the policy loss on those rows."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from sandbox.model.sampler import Samples
from sandbox.model.tokenizer import CharTokenizer
from sandbox.rewards.critique_grpo import (
    OFF_POLICY,
    CritiqueRefinement,
    choose_refinements,
    group_order,
    on_policy_rows,
    shaped_token_loss,
    shaping,
)
from sandbox.rewards.registry import VARIANTS, Variant, build_refinement
from sandbox.rewards.sdpo import teacher_prompt
from sandbox.rollout.batching import pad_rows
from sandbox.rollout.rollouts import Rollouts
from sandbox.train.policy_loss import LossConfig, policy_loss
from toy_envs import ConfigError, make_task
from toy_envs.feedback import feedback

TASK = make_task("arithmetic", n_steps=2, operators="+-", start_max=50)
TOK = CharTokenizer()


@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(0.01, 1.0))
def test_shaping_is_increasing_below_one_and_half_at_gamma(p, q, gamma):
    fp, fq = shaping(torch.tensor(p, dtype=torch.float64), gamma), shaping(torch.tensor(q, dtype=torch.float64), gamma)
    assert 0 <= fp < 1
    if p < q:
        assert fp <= fq
    assert shaping(torch.tensor(gamma, dtype=torch.float64), gamma) == pytest.approx(0.5)


@given(st.lists(st.floats(-8.0, 0.0), min_size=1, max_size=6), st.floats(-2.0, 2.0), st.floats(0.01, 1.0))
def test_shaped_loss_gradient_is_the_closed_form(logps, advantage, gamma):
    """d/d log π of −A f(π) = −A γ π / (π + γ)² (the reweighted log-likelihood gradient)."""
    logp = torch.tensor([logps], dtype=torch.float64, requires_grad=True)
    adv = torch.full_like(logp, advantage)
    shaped_token_loss(logp, adv, gamma).sum().backward()
    p = logp.detach().exp()
    assert torch.allclose(logp.grad, -advantage * gamma * p / (p + gamma) ** 2, atol=1e-12)


@st.composite
def candidates(draw):
    n = draw(st.integers(0, 12))
    groups = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    correct = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    keys = draw(st.lists(st.integers(0, 2**32 - 1), min_size=n, max_size=n, unique=True))
    return groups, correct, keys, draw(st.integers(1, 3))


@given(candidates())
def test_choose_refinements_matches_a_brute_force_pick(case):
    """Per group: every correct candidate before any wrong one, each kind in key order, the first k."""
    groups, correct, keys, k = case
    chosen = choose_refinements(groups, correct, k, keys)
    expected = []
    for g in sorted(set(groups)):
        members = [c for c in range(len(groups)) if groups[c] == g]
        right = sorted((c for c in members if correct[c]), key=lambda c: keys[c])
        wrong = sorted((c for c in members if not correct[c]), key=lambda c: keys[c])
        expected += (right + wrong)[:k]
    assert chosen == sorted(expected)


@given(st.lists(st.integers(0, 4), max_size=20))
def test_group_order_keeps_groups_adjacent_in_first_appearance_order(group):
    order = group_order(torch.tensor(group, dtype=torch.long)).tolist()
    assert sorted(order) == list(range(len(group)))
    seen = [group[b] for b in order]
    runs = [g for i, g in enumerate(seen) if i == 0 or seen[i - 1] != g]
    assert runs == list(dict.fromkeys(group))  # each group one run, in first-appearance order
    for g in set(group):
        assert [b for b in order if group[b] == g] == [b for b in range(len(group)) if group[b] == g]


def batch(texts_per_problem: dict[int, list[str]]) -> Rollouts:
    problems, texts = [], []
    for index, rows in texts_per_problem.items():
        problems += [TASK.problem(index)] * len(rows)
        texts += rows
    return Rollouts.from_texts(TASK, problems, texts, tokenizer=TOK)


def wrong(index: int) -> str:
    """The gold solution with its first step's result off by one (answer wrong too)."""
    lines = TASK.gold_solution(TASK.problem(index)).strip().split("\n")
    head, result = lines[0].rsplit("=", 1)
    lines[0] = f"{head}={int(result) + 1}"
    lines[-1] = "#" + str(int(lines[-1][1:]) + 1)
    return "\n".join(lines) + "\n"


def samples_of(prompts: list[list[int]], texts: list[str]) -> Samples:
    """What the policy's sampler returns for ``prompts`` had it written ``texts`` (with ``<eos>``)."""
    responses = [TOK.encode(t, eos=True) for t in texts]
    return Samples(
        tokens=pad_rows([p + r for p, r in zip(prompts, responses)], TOK.pad_id),
        response_mask=pad_rows([[False] * len(p) + [True] * len(r) for p, r in zip(prompts, responses)], False, torch.bool),
        logprobs=pad_rows([[0.0] * (len(p) + len(r)) for p, r in zip(prompts, responses)], 0.0, torch.float32),
        prompt_lens=torch.tensor([len(p) for p in prompts]),
        response_lens=torch.tensor([len(r) for r in responses]),
        truncated=torch.zeros(len(prompts), dtype=torch.bool),
    )


@pytest.mark.parametrize("level", ["indicative", "located", "corrective", "solution"])
def test_requests_refine_exactly_the_failed_rows_with_the_oracles_critique(level):
    gold = TASK.gold_solution(TASK.problem(0))
    rollouts = batch({0: [gold, wrong(0), wrong(0)], 1: [wrong(1), wrong(1)]})
    piece = CritiqueRefinement(level=level)
    requests = piece.requests(rollouts, TASK, TOK, seed=3, step=5)
    assert requests.rows == [1, 2, 3, 4]
    for r, b in enumerate(requests.rows):
        siblings = [(rollouts.texts[o], rollouts.verdicts[o]) for o in range(len(rollouts))
                    if o != b and int(rollouts.group[o]) == int(rollouts.group[b])]
        critique = feedback(TASK, rollouts.problems[b], rollouts.verdicts[b], level, siblings)
        assert requests.critiques[r] == critique
        assert TOK.decode(requests.prompts[r]) == teacher_prompt(TASK.prompt(rollouts.problems[b]), critique)
    assert len(set(requests.keys.tolist())) == len(requests.rows)  # keyed by (problem, rollout)
    if level == "solution":  # a correct sibling exists only in problem 0's group
        assert requests.critiques[:2] == [gold, gold] and requests.critiques[2:] == ["", ""]


def test_merge_adds_the_picked_refinements_as_answers_to_the_bare_prompt_after_their_group():
    golds = {i: TASK.gold_solution(TASK.problem(i)) for i in (0, 1, 2)}
    rollouts = batch({0: [wrong(0), wrong(0), golds[0]], 1: [wrong(1), wrong(1)], 2: [golds[2]]})
    piece = CritiqueRefinement(level="corrective", per_group=1)
    requests = piece.requests(rollouts, TASK, TOK, seed=0, step=0)
    assert requests.rows == [0, 1, 3, 4]
    # refinements: problem 0 -> one right, one wrong; problem 1 -> both wrong
    written = [golds[0], wrong(0), wrong(1), wrong(1)]
    merged, metrics = piece.merge(rollouts, requests, samples_of(requests.prompts, written), TASK, TOK, seed=0, step=0)
    off = merged.extras[OFF_POLICY]
    assert len(merged) == len(rollouts) + 2 and int(off.sum()) == 2
    assert on_policy_rows(merged).tolist() == (~off).tolist()
    assert merged.group.tolist() == [0, 0, 0, 0, 1, 1, 1, 2]  # each refinement right after its group
    assert merged.rollout_index.tolist() == [0, 1, 2, 3, 0, 1, 2, 0]
    refined = merged.select(off)
    assert refined.texts[0] == golds[0] and refined.verdicts[0].correct  # correct first within group 0
    assert refined.problem_index.tolist() == [0, 1]
    for b in range(len(refined)):  # the bare prompt: the policy learns the refinement without its critique
        start = int(refined.prompt_lens[b])
        assert TOK.decode(refined.tokens[b, :start].tolist()) == TASK.prompt(refined.problems[b])
    assert metrics == {"refine/requested": 4.0, "refine/accuracy": 0.25, "refine/added": 2.0,
                       "refine/rescued_groups": 0.0, "refine/failed_groups": 1.0}
    assert merged.extras[OFF_POLICY].dtype == torch.bool


def test_a_correct_refinement_of_a_group_that_all_failed_is_counted_rescued():
    rollouts = batch({4: [wrong(4), wrong(4)]})
    piece = CritiqueRefinement(level="corrective", per_group=2)
    requests = piece.requests(rollouts, TASK, TOK, seed=0, step=0)
    written = [wrong(4), TASK.gold_solution(TASK.problem(4))]
    merged, metrics = piece.merge(rollouts, requests, samples_of(requests.prompts, written), TASK, TOK, seed=0, step=0)
    assert metrics["refine/rescued_groups"] == 1.0 and metrics["refine/added"] == 2.0
    assert [v.correct for v in merged.verdicts] == [False, False, False, True]  # both added, in candidate order
    assert merged.rollout_index.tolist() == [0, 1, 2, 3]


def test_the_policy_loss_takes_the_shaped_term_on_refinement_rows_and_ppo_clip_elsewhere():
    gen = torch.Generator().manual_seed(0)
    new = -torch.rand(3, 5, generator=gen) * 3
    old = new + 0.5 * torch.randn(3, 5, generator=gen)  # ratios far from 1: PPO clips
    adv = torch.tensor([[1.0] * 5, [-1.0] * 5, [2.0] * 5])
    mask = torch.ones(3, 5)
    rows = torch.tensor([False, True, True])
    cfg = LossConfig(aggregation="token-mean")
    shaped = shaped_token_loss(new, adv, 0.1)
    loss, metrics = policy_loss(new, old, adv, mask, cfg, off_policy=(rows, shaped))
    plain, _ = policy_loss(new[:1], old[:1], adv[:1], mask[:1], cfg)
    expected = (plain * 5 + shaped[1:].sum()) / 15
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    ratio = (new[0] - old[0]).exp()
    clipped = ((-adv[0] * ratio.clamp(0.8, 1.2)) > (-adv[0] * ratio)).float().mean()
    assert metrics["loss/clip_fraction"] == pytest.approx(clipped.item())  # on-policy tokens only


def test_critique_grpo_is_registered_and_its_settings_are_checked_before_compute():
    variant = VARIANTS["critique-grpo"]
    assert isinstance(build_refinement(variant), CritiqueRefinement)
    assert build_refinement(VARIANTS["outcome-grpo"]) is None
    for params in ({"level": "none"}, {"level": "vague"}, {"per_group": 0}, {"gamma": 0.0}):
        with pytest.raises(ConfigError):
            Variant(name="x", description="x", sources=(("outcome", 1.0, {}),), estimator="dr_grpo",
                    refinement=("critique", params))
    with pytest.raises(ConfigError, match="sampler"):
        Variant(name="x", description="x", sources=(("outcome", 1.0, {}),), estimator="tree_grpo", sampler="tree",
                sampler_options={"trees": 2, "rounds": 2, "branches": 2}, refinement=("critique", {}))
    with pytest.raises(ConfigError, match="refinement"):
        Variant(name="x", description="x", sources=(("outcome", 1.0, {}),), estimator="dr_grpo", refinement=("rewrite", {}))
