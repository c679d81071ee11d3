"""The train pool (toy_envs/pool.py, RLConfig.train_problems): one-shot and few-shot RL streams.

Invariants: train problem i of a pool of N is train problem i mod N of the task, exactly; every
other split is the task's own; everything else is delegated; a bad N is one error naming
``train_problems``. In a run, every group of a step is one of the N problems, and groups of the
same problem are independent samples (each stream position keeps its own row key)."""

import copy
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.model.policy import TinyPolicy
from sandbox.train.rl import RLConfig, Trainer
from toy_envs import ArithmeticChain, ConfigError, TreePuzzle
from toy_envs.pool import TrainPool, with_train_pool

TASKS = [ArithmeticChain(n_steps=2, seed=3), ArithmeticChain(n_steps_mix="1:1,3:1"), TreePuzzle(depth=2)]


@given(task=st.sampled_from(TASKS), n=st.integers(1, 20), index=st.integers(0, 10_000))
def test_train_problem_i_is_problem_i_mod_n_and_other_splits_are_untouched(task, n, index):
    pool = TrainPool(task, n)
    assert pool.problem(index, "train") == task.problem(index % n, "train")
    assert pool.problem(index) == pool.problem(index % n + n, "train")
    assert pool.problem(index, "eval") == task.problem(index, "eval")
    problem = pool.problem(index)
    assert pool.prompt(problem) == task.prompt(problem) and pool.gold_solution(problem) == task.gold_solution(problem)
    assert pool.size is None and with_train_pool(task, 0) is task and with_train_pool(task, n) == pool


def test_the_pool_copies_and_pickles_and_refuses_a_bad_size():
    pool = TrainPool(TASKS[0], 3)
    assert copy.deepcopy(pool) == pool and pickle.loads(pickle.dumps(pool)) == pool
    for bad in (0, -1, 1.5):
        with pytest.raises(ConfigError, match="^train_problems="):
            TrainPool(TASKS[0], bad)
    with pytest.raises(ConfigError, match="^train_problems="):
        RLConfig(train_problems=-1).validate()


def test_a_one_shot_run_samples_independent_groups_of_its_one_problem(warmstart_tiny):
    model, task, _ = warmstart_tiny
    cfg = RLConfig(variant="outcome-grpo", train_problems=1, problems_per_step=4, group_size=4, steps=2,
                   eval_every=0, eval_problems=8, pass_problems=0, drift_every=0, progress=False)
    trainer = Trainer(cfg, task, TinyPolicy(copy.deepcopy(model)))
    batch = trainer.collect()
    rollouts = batch.rollouts
    assert {p for p in rollouts.problems} == {task.problem(0)}
    assert sorted(set(rollouts.problem_index.tolist())) == [0, 1, 2, 3]  # four stream positions
    texts = [tuple(rollouts.texts[i] for i in range(len(rollouts.texts)) if rollouts.problem_index[i] == g) for g in range(4)]
    assert len(set(texts)) == 4  # not four copies of one group: each position has its own keys
