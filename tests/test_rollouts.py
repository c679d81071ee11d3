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
    from sandbox.testing.fake_rollouts import rollouts_from_texts
    from toy_envs import make_task

    task = make_task("arithmetic", n_steps=2)
    rollouts = rollouts_from_texts(task, [task.problem(0)], ["#1\n"])
    assert len(rollouts.select([])) == 0
