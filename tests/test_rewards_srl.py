"""SRL's pieces: the expert states (toy_envs/expert_step.py), the one-action sampler
(sandbox/rollout/expert_step_sampler.py) and the step-wise similarity reward
(sandbox/rewards/expert_similarity.py).

Invariants: a state's prompt is the task's prompt and the gold lines before position k, k in
1..n + 1 (n steps, then the answer line) and a pure function of (seed, step, problem), every
position drawn; given lines + the expert's line + the rest is the gold solution; the reward is
2M/T with M from an independent Ratcliff/Obershelp matcher, 1 iff the action is the expert's, -1
iff the action is not one line that parses; the sampler's rows are the first line of the policy's own continuation at those states, keyed per
row (a row's action does not depend on the rest of the batch), at a cost counted before the cut;
the variant refuses any other sampler. The reward-source kit (tests/test_testing_registry.py)
checks placement, bounds, statelessness and locality.
"""

import collections

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from sandbox.model.model import ModelConfig, TinyLlama
from sandbox.model.policy import TinyPolicy
from sandbox.model.sampler import SamplingConfig
from sandbox.model.tokenizer import CharTokenizer
from sandbox.rewards.base import RewardContext
from sandbox.rewards.expert_similarity import action_rewards, expert_similarity, similarity, well_formed
from sandbox.rewards.registry import Variant, get_variant
from sandbox.rng import row_keys
from sandbox.rollout.expert_step_sampler import first_line, sample_expert_steps
from toy_envs import ArithmeticChain, ConfigError, TreePuzzle
from toy_envs.expert_step import ExpertStep, position_of

TASKS = [ArithmeticChain(n_steps=3), ArithmeticChain(n_steps_mix="1:1,4:1", operators="+-"), TreePuzzle(depth=2)]


def gold_lines(task, problem) -> list[str]:
    """The gold solution's lines through its answer line ('#'), read independently."""
    lines = task.gold_solution(problem).splitlines(keepends=True)
    return lines[: next(i for i, line in enumerate(lines) if line.startswith("#")) + 1]


@given(task=st.sampled_from(TASKS), seed=st.integers(0, 3), step=st.integers(0, 50), index=st.integers(0, 5_000))
def test_a_state_is_the_prompt_and_the_gold_steps_before_the_one_to_write(task, seed, step, index):
    problem = task.problem(index)
    lines = gold_lines(task, problem)
    states = ExpertStep(task, seed, step)
    k = states.position(problem)
    assert 1 <= k <= len(lines) and k == ExpertStep(task, seed, step).position(problem)
    assert states.prompt(problem) == task.prompt(problem) + "".join(lines[: k - 1])
    assert states.expert(problem) == lines[k - 1]
    assert states.given(problem) + states.expert(problem) + "".join(lines[k:]) == "".join(lines)
    verdict = states.score(problem, states.expert(problem))
    assert verdict.step_valid[-1] and verdict.first_error is None
    assert verdict.correct == (k == len(lines))  # the answer only once the answer line is written


def test_every_position_is_drawn_about_equally_often():  # 4 lines: 3 steps and the answer
    counts = collections.Counter(position_of(seed, step, index, 4) for seed in range(3) for step in range(10) for index in range(100))
    assert sorted(counts) == [1, 2, 3, 4]
    assert all(abs(c - 750) < 120 for c in counts.values()), counts  # 3000 draws; ±120 is about 5 standard deviations


def test_a_bad_step_count_is_one_error_naming_it():
    with pytest.raises(ConfigError, match="n_steps"):
        position_of(0, 0, 0, 0)


@given(text=st.text(alphabet="12+-=#\nab", max_size=12))
def test_first_line_keeps_the_tokens_through_the_first_newline(text):
    tok = CharTokenizer()
    ids = tok.encode(text, eos=True)
    n, ended = first_line(ids, tok.char_counts(ids), tok.decode(ids))
    expected = text[: text.index("\n") + 1] if "\n" in text else None
    assert ended == (expected is not None)
    assert tok.decode(ids[:n]) == (expected if ended else text)
    assert n == (len(expected) if ended else len(ids))


def gestalt_matches(a: str, b: str) -> int:
    """M of Ratcliff/Obershelp pattern matching, written out: the longest common substring (the
    earliest in a, then in b, among the longest), plus M of what lies left of it and right of it."""
    if not a or not b:
        return 0
    k, i, j = max(((n, -i, -j) for i in range(len(a)) for j in range(len(b))
                   for n in [next((n for n in range(min(len(a) - i, len(b) - j), 0, -1) if a[i:i + n] == b[j:j + n]), 0)]),
                  default=(0, 0, 0))
    i, j = -i, -j
    if k == 0:
        return 0
    return k + gestalt_matches(a[:i], b[:j]) + gestalt_matches(a[i + k:], b[j + k:])


@given(a=st.text(alphabet="0123456789+-=", max_size=10), b=st.text(alphabet="0123456789+-=", max_size=10))
def test_similarity_is_twice_the_gestalt_matches_over_the_total_length(a, b):
    expected = 2 * gestalt_matches(a, b) / (len(a) + len(b)) if a or b else 1.0
    assert similarity(a, b) == pytest.approx(expected)
    assert 0.0 <= similarity(a, b) <= 1.0 and (similarity(a, b) == 1.0) == (a == b)


@given(task=st.sampled_from(TASKS[:2]), index=st.integers(0, 2_000), step=st.integers(0, 20))
def test_the_reward_is_one_for_the_expert_line_below_one_for_another_line_and_minus_one_for_malformed(task, index, step):
    problem = task.problem(index)
    states = ExpertStep(task, 0, step)
    expert = states.expert(problem)
    other = expert.rstrip("\n") + "1\n"  # a well-formed line with another value
    answer = "#5\n" if expert != "#5\n" else "#6\n"
    actions = [expert, other, answer, expert + "#5\n", expert.rstrip("\n"), "", "x\n"]
    rewards = action_rewards(task, actions, [expert] * len(actions))
    assert rewards[0] == 1.0
    assert well_formed(task, other) and 0.0 < rewards[1] < 1.0
    assert well_formed(task, answer) and 0.0 <= rewards[2] < 1.0
    assert rewards[3:] == [-1.0] * 4


def random_policy() -> TinyPolicy:
    torch.manual_seed(0)
    return TinyPolicy(TinyLlama(ModelConfig(d_model=32, n_layers=1, n_heads=2, n_kv_heads=2, d_ff=64)))


def test_the_sampler_writes_one_line_at_each_state_keyed_per_row_and_the_source_scores_it():
    task, policy, sampling = ArithmeticChain(n_steps=3), random_policy(), SamplingConfig(max_new_tokens=30)
    rows = sample_expert_steps(policy, task, [3, 7, 11], 4, sampling, seed=5, step=2)
    states, tok = ExpertStep(task, 5, 2), policy.tokenizer
    assert rows.group.tolist() == [3] * 4 + [7] * 4 + [11] * 4 and rows.rollout_index.tolist() == [0, 1, 2, 3] * 3
    for b in range(len(rows)):
        start = int(rows.prompt_lens[b])
        assert tok.decode(rows.tokens[b, :start]) == states.prompt(rows.problems[b])
        assert rows.texts[b].count("\n") <= 1 and (rows.texts[b].endswith("\n") or rows.texts[b].count("\n") == 0)
        assert int(rows.response_lens[b]) <= int(rows.extras["generated_tokens"][b])
    # the same continuation as the policy's own sample from that prompt with the row's key, cut after its first line
    keys = row_keys(5, [(2, i, j) for i in [3, 7, 11] for j in range(4)])
    prompts = [tok.encode(states.prompt(p), bos=True) for p in rows.problems]
    whole = policy.sample(prompts, SamplingConfig(max_new_tokens=24), keys)
    for b in range(len(rows)):
        start = int(whole.prompt_lens[b])
        text = tok.decode(whole.tokens[b, start: start + int(whole.response_lens[b])])
        assert rows.texts[b] == (text[: text.index("\n") + 1] if "\n" in text else text)
    alone = sample_expert_steps(policy, task, [7], 4, sampling, seed=5, step=2)
    assert alone.texts == rows.texts[4:8]
    ctx = RewardContext(task=task, seed=5, step=2)
    rewards = expert_similarity(rows, ctx)
    expected = action_rewards(task, rows.texts, [states.expert(p) for p in rows.problems])
    assert rewards.sum(-1).tolist() == pytest.approx(expected)
    assert set(ctx.metrics) == {"srl/similarity", "srl/format_ok", "srl/exact", "srl/valid_action"}


def test_the_srl_variant_pairs_its_source_with_the_expert_step_sampler():
    srl = get_variant("srl")
    assert srl.sampler == "expert-step" and srl.sources[0][0] == "expert_similarity"
    with pytest.raises(ConfigError, match="sampler"):
        Variant(name="x", description="", sources=(("expert_similarity", 1.0, {}),), estimator="grpo")
    with pytest.raises(ConfigError, match="max_action_tokens"):
        sample_expert_steps(random_policy(), TASKS[0], [0], 2, SamplingConfig(), 0, 0, max_action_tokens=0)
