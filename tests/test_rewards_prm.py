"""PRM reward sources: step scores on step-end tokens only; a missing or unparseable answer step
scores as failing for every scorer (truncating before the answer never pays); learned PRMs by
checkpoint directory."""

import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sandbox.model.model import ModelConfig, TinyLlama
from sandbox.model.tokenizer import CharTokenizer
from sandbox.prm.discriminative import StepScorer, save_scorer, step_end_mask, step_scores
from sandbox.prm.oracle_labels import oracle_labels
from sandbox.rewards.base import RewardContext
from sandbox.rewards.prm_reward import prm_learned, prm_oracle, step_rewards
from sandbox.rollout.rollouts import Rollouts
from sandbox.testing.strategies import rollouts_batches
from sandbox.train import recipes
from toy_envs import ConfigError, make_task

TASK = make_task("arithmetic", n_steps=2)


@given(rollouts=rollouts_batches(TASK), mode=st.sampled_from(["score", "difference"]), target=st.sampled_from(["valid", "value"]))
def test_oracle_prm_reward_sits_only_on_step_end_tokens_of_the_response(rollouts, mode, target):
    rewards = prm_oracle(rollouts, RewardContext(task=TASK), target=target, mode=mode)
    ends = step_end_mask(rollouts)
    assert (ends <= rollouts.response_mask).all()
    assert (rewards[~ends] == 0).all()
    labels = oracle_labels(rollouts.verdicts, target)
    for row, row_labels in enumerate(labels):
        values = rewards[row][ends[row]].tolist()
        assert len(values) == len(row_labels)
        verdict = rollouts.verdicts[row]
        if row_labels and verdict.parse_status in ("no_answer", "bad_answer"):
            row_labels = row_labels[:-1] + [0.0]  # the failed answer step
        if mode == "score":
            assert values == row_labels
        elif row_labels:  # differences telescope to the last step's score
            assert abs(sum(values) - row_labels[-1]) < 1e-6


@given(rollouts=rollouts_batches(TASK), seed=st.integers(0, 1000))
def test_any_step_scores_are_placed_in_step_order(rollouts, seed):
    gen = torch.Generator().manual_seed(seed)
    ends = step_end_mask(rollouts)
    scores = [torch.rand(int(ends[row].sum()), generator=gen).tolist() for row in range(len(rollouts))]
    rewards = step_rewards(rollouts, scores, TASK)
    for row in range(len(rollouts)):
        expected = torch.tensor(scores[row], dtype=torch.float32)
        if len(expected) and rollouts.verdicts[row].parse_status in ("no_answer", "bad_answer"):
            expected[-1] = 0.0
        assert torch.allclose(rewards[row][ends[row]], expected)


def tiny_scorer() -> StepScorer:
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=CharTokenizer().vocab_size, d_model=32, n_layers=1, n_heads=2, n_kv_heads=2, d_ff=64, max_seq_len=128)
    scorer = StepScorer(TinyLlama(cfg))
    with torch.no_grad():
        scorer.head.weight.normal_()
    return scorer


@given(rollouts=rollouts_batches(TASK, max_groups=2, max_group_size=3))
def test_learned_prm_reward_from_a_checkpoint_directory_logs_its_mean_score(tmp_path_factory, rollouts):
    path = tmp_path_factory.mktemp("prm") / "ckpt"
    save_scorer(path, tiny_scorer(), {})
    ctx = RewardContext(task=TASK, prm=recipes.load(str(path), "prm"))
    rewards = prm_learned(rollouts, ctx)
    ends = step_end_mask(rollouts)
    assert (rewards[~ends] == 0).all()
    scores = step_scores(recipes.load(str(path), "prm"), rollouts)
    for row in range(len(rollouts)):
        expected = torch.tensor(scores[row], dtype=torch.float32)
        if len(expected) and rollouts.verdicts[row].parse_status in ("no_answer", "bad_answer"):
            expected[-1] = 0.0  # the failed answer step, whatever the PRM says
        assert torch.allclose(rewards[row][ends[row]], expected, atol=1e-6)
    metrics = ctx.metrics
    assert set(metrics) == {"prm/mean_score", "prm/oracle_correct", "prm/oracle_step_valid"}
    flat = [x for row in scores for x in row]
    if flat:  # the PRM's own mean score, so that hacking it stays visible
        assert abs(metrics["prm/mean_score"] - sum(flat) / len(flat)) < 1e-5


def test_unknown_prm_or_mode_is_rejected():
    with pytest.raises(ConfigError, match="prm"):
        recipes.load("no-such-recipe", "prm")
    with pytest.raises(ConfigError, match="mode"):
        step_rewards(None, [], TASK, mode="sum")


def test_rl_with_a_learned_prm_named_by_the_config_logs_its_score_beside_the_oracle(tmp_path):
    from sandbox.model.policy import TinyPolicy
    from sandbox.prm.discriminative import save_scorer
    from sandbox.train.prm_train import PRMTrainConfig, train_prm
    from sandbox.train.rl import RLConfig, Trainer

    torch.set_num_threads(1)
    model, task, _ = recipes.load("tiny")
    scorer, _ = train_prm(TinyPolicy(model), task, PRMTrainConfig(n_problems=4, group_size=2, steps=2, batch_size=4))
    save_scorer(tmp_path / "prm", scorer, {})
    cfg = RLConfig(variant="prm-mc", prm=str(tmp_path / "prm"), steps=1, problems_per_step=2, group_size=2,
                   eval_every=0, eval_problems=4, pass_problems=0, progress=False)
    metrics = Trainer(cfg, task, TinyPolicy(model)).train()[-1]
    assert 0 < metrics["prm/mean_score"] < 1
    assert 0 <= metrics["prm/oracle_step_valid"] <= 1 and metrics["prm/oracle_correct"] == metrics["rollout/accuracy"]


@st.composite
def truncations(draw):
    """A response (any kind) and the same response cut somewhere before its answer line (with or
    without ``<eos>``), as two rows of one group."""
    rollouts = draw(rollouts_batches(TASK, max_groups=1, max_group_size=1))
    text = rollouts.texts[0]
    steps = TASK.segment(text)
    answer_start = steps[-1].start if steps and steps[-1].kind == "answer" else len(text)
    cut = draw(st.integers(0, max(answer_start - 1, 0))) if answer_start else 0
    problem = rollouts.problems[0]
    return Rollouts.from_texts(TASK, [problem, problem], [text, text[:cut]], [bool(rollouts.truncated[0]), draw(st.booleans()) and cut > 0])


def summed(rewards: torch.Tensor, rollouts) -> list[float]:
    return (rewards * rollouts.response_mask).sum(-1).tolist()


def wrong_answer_and_its_reasoning():
    """A valid first step then a wrong answer, and that step alone (cut before the answer line)."""
    problem = TASK.problem(0)
    first = TASK.gold_solution(problem).splitlines(keepends=True)[0]
    return Rollouts.from_texts(TASK, [problem, problem], [first + "#1234567\n", first])


@given(pair=truncations(), mode=st.sampled_from(["score", "difference"]), target=st.sampled_from(["valid", "value"]))
@example(pair=wrong_answer_and_its_reasoning(), mode="difference", target="valid")
def test_truncating_before_the_answer_never_raises_the_oracle_step_reward(pair, mode, target):
    full, cut = summed(prm_oracle(pair, RewardContext(task=TASK), target=target, mode=mode), pair)
    assert cut <= full + 1e-6, (pair.texts, full, cut)


@given(pair=truncations(), mode=st.sampled_from(["score", "difference"]))
def test_truncating_before_the_answer_never_raises_a_learned_prm_step_reward(tmp_path_factory, pair, mode):
    path = tmp_path_factory.mktemp("prm") / "ckpt"
    save_scorer(path, tiny_scorer(), {})
    full, cut = summed(prm_learned(pair, RewardContext(task=TASK, prm=recipes.load(str(path), "prm")), mode=mode), pair)
    assert cut <= full + 1e-5, (pair.texts, full, cut)


@settings(max_examples=8, deadline=None)  # the judge samples verification chains
@given(pair=truncations())
def test_truncating_before_the_answer_never_raises_a_judge_step_reward_in_difference_mode(tmp_path_factory, pair):
    """A generative judge re-reads the whole (truncated) response, so its scores of the shared
    steps may change; the differences still telescope to the last step, the failed answer's 0."""
    from sandbox.model.checkpoint import save_checkpoint
    from sandbox.rewards.thinkprm_reward import prm_generative

    path = save_checkpoint(tmp_path_factory.mktemp("judge") / "random", tiny_scorer().backbone, {"judge": "random"})
    ctx = RewardContext(task=TASK, judge=recipes.load(str(path), "judge"))
    full, cut = summed(prm_generative(pair, ctx, mode="difference"), pair)
    assert cut <= full + 1e-5, (pair.texts, full, cut)
    scores = prm_generative(pair, ctx)  # score mode: the cut row's last token holds the failed answer
    assert scores[1, int(pair.last_token[1])] == 0


def test_stopping_before_the_answer_is_worse_than_a_wrong_answer_under_process_grpo():
    """Oracle step validity, one group: a wrong answer after a valid step, the same valid step
    then end-of-sequence, and an empty response. The two that stop early end in a failed answer
    step, so neither is advantaged over the wrong answer (before, the early stop kept full credit
    for its valid step and the empty response got advantage 0)."""
    from sandbox.rewards.registry import compute_advantages, get_variant

    problem = TASK.problem(0)
    gold = TASK.gold_solution(problem).splitlines(keepends=True)
    texts = [gold[0] + "#1234567\n", gold[0], ""]
    rollouts = Rollouts.from_texts(TASK, [problem] * 3, texts)
    variant = get_variant("prm-oracle")
    rewards = prm_oracle(rollouts, RewardContext(task=TASK))
    advantages = compute_advantages(variant, rollouts, rewards)
    first = [float(advantages[row][rollouts.response_mask[row]][0]) for row in range(3)]
    assert first[1] <= first[0] and first[2] < 0, first
