import torch

import toy_envs
from sandbox.model.policy import TinyPolicy
from sandbox.model.sampler import SamplingConfig
from sandbox.model.tokenizer import CharTokenizer
from sandbox.rollout.group_sampler import sample_groups
from sandbox.rollout.rollouts import Rollouts, response_step_ids

tok = CharTokenizer()


def test_step_ids_follow_the_task_spans_and_eos_joins_the_last_step():
    task = toy_envs.make_task("arithmetic", n_steps=2)
    text = "3+4=7\n7*2=14\n#14\n"
    steps = task.segment(text)
    ids = tok.encode(text, eos=True)
    got = response_step_ids(ids, steps, [i >= 4 for i in ids])
    assert got == [0] * 6 + [1] * 7 + [2] * 4 + [2]


def test_stray_special_tokens_keep_the_mapping_aligned():
    task = toy_envs.make_task("arithmetic", n_steps=2)
    text = "3+4=7\n#7\n"
    ids = tok.encode("3+4") + [tok.pad_id] + tok.encode("=7\n#7\n")
    got = response_step_ids(ids, task.segment(text), [i >= 4 for i in ids])
    assert got == [0, 0, 0, 0, 0, 0, 0, 1, 1, 1]


def test_sampled_groups_select_and_cat(warmstart_tiny):
    model, task, _ = warmstart_tiny
    r = sample_groups(TinyPolicy(model), task, [3, 7, 9], 4, SamplingConfig(max_new_tokens=30), seed=0, step=0)
    assert len(r) == 12 and r.group.tolist() == [3] * 4 + [7] * 4 + [9] * 4
    assert r.rollout_index.tolist() == [0, 1, 2, 3] * 3
    for b in range(len(r)):
        response = r.step_ids[b][r.response_mask[b]]
        assert (r.step_ids[b][~r.response_mask[b]] == -1).all()
        assert (response >= 0).all() and (response.diff() >= 0).all()  # steps in order
        assert r.verdicts[b] == task.score(r.problems[b], r.texts[b])
    part = r.select(torch.tensor([5, 0]))
    assert part.texts == [r.texts[5], r.texts[0]] and part.group.tolist() == [7, 3]
    both = Rollouts.cat([part, r.select([11])])
    assert len(both) == 3 and both.texts[2] == r.texts[11]
    assert torch.equal(both.tokens[2, : r.tokens.shape[1]][: both.tokens.shape[1]], r.tokens[11, : both.tokens.shape[1]])


def test_same_keys_same_rollouts_regardless_of_batch(warmstart_tiny):
    model, task, _ = warmstart_tiny
    cfg = SamplingConfig(max_new_tokens=30)
    big = sample_groups(TinyPolicy(model), task, [1, 2, 3], 2, cfg, seed=5, step=4)
    small = sample_groups(TinyPolicy(model), task, [2], 2, cfg, seed=5, step=4)
    assert big.texts[2:4] == small.texts


def test_selecting_no_rows_gives_empty_rollouts():
    from sandbox.rollout.rollouts import Rollouts
    from toy_envs import make_task

    task = make_task("arithmetic", n_steps=2)
    rollouts = Rollouts.from_texts(task, [task.problem(0)], ["#1\n"])
    assert len(rollouts.select([])) == 0


def test_from_texts_rows_match_a_row_by_row_build():
    """Each row against its own pieces: prompt then response tokens, the mask on the response,
    step ids from the segmentation, group and rollout index by problem, lazy verdicts."""
    task = toy_envs.make_task("arithmetic", n_steps=2)
    problems = [task.problem(0), task.problem(1), task.problem(0), task.problem(2)]
    texts = [task.gold_solution(problems[0]), "1+1=3\n#3\n", "#", "x" * 40]
    truncated = [False, False, True, False]
    rollouts = Rollouts.from_texts(task, problems, texts, truncated)
    assert rollouts.verdicts.scored() == 0
    width = max(len(tok.encode(task.prompt(p), bos=True)) + len(tok.encode(t, eos=not c)) for p, t, c in zip(problems, texts, truncated))
    assert rollouts.tokens.shape == (4, width)
    for b, (problem, text, cut) in enumerate(zip(problems, texts, truncated)):
        prompt, response = tok.encode(task.prompt(problem), bos=True), tok.encode(text, eos=not cut)
        n, end = len(prompt), len(prompt) + len(response)
        assert rollouts.tokens[b].tolist() == prompt + response + [tok.pad_id] * (width - end)
        assert rollouts.response_mask[b].tolist() == [False] * n + [True] * len(response) + [False] * (width - end)
        ids = response_step_ids(response, task.segment(text), tok.char_counts(response))
        assert rollouts.step_ids[b].tolist() == [-1] * n + ids + [-1] * (width - end)
        assert int(rollouts.last_token[b]) == end - 1 and bool(rollouts.truncated[b]) == cut
        assert float(rollouts.logprobs[b].abs().sum()) == 0.0
    assert rollouts.group.tolist() == rollouts.problem_index.tolist() == [0, 1, 0, 2]
    assert rollouts.rollout_index.tolist() == [0, 0, 1, 0]
    assert list(rollouts.verdicts) == [task.score(p, t) for p, t in zip(problems, texts)]


def test_from_texts_takes_given_tokens_and_logprobs():
    task = toy_envs.make_task("arithmetic", n_steps=2)
    problem = task.problem(3)
    response = tok.encode("#5\n") + [tok.pad_id]  # a stray special token is kept as given
    rollouts = Rollouts.from_texts(task, [problem], [tok.decode(response)], [True], responses=[response],
                                   logprobs=[[-0.5, -1.0, -1.5, -2.0]], rollout_index=[7], extras={"tag": [1]})
    n = len(tok.encode(task.prompt(problem), bos=True))
    assert rollouts.tokens[0, n:].tolist() == response
    assert rollouts.logprobs[0, n:].tolist() == [-0.5, -1.0, -1.5, -2.0]
    assert rollouts.rollout_index.tolist() == [7] and rollouts.extras == {"tag": [1]}
    try:
        Rollouts.from_texts(task, [problem], [""], [True])
    except ValueError as err:
        assert "truncated row" in str(err)
    else:
        raise AssertionError("an empty truncated row was accepted")
