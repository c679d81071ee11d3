"""DRO's query filter: what it drops (hypothesis), and the trainer's problem-filter hook --
excluded problems are never trained on, the drop is logged, and resume stays exact (with a
lagged reference scorer, whose weights the checkpoint must carry)."""

import copy

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from sandbox.model.policy import TinyPolicy
from sandbox.rewards.base import RewardContext
from sandbox.rewards.dro_query_filter import choose_dropped, dro_query_filter, max_sigma_per_problem
from sandbox.rewards.dro_r3 import token_sigma
from sandbox.rewards.registry import VARIANTS, Variant
from sandbox.rollout.rollouts import Rollouts
from sandbox.testing.strategies import group_layouts
from sandbox.train.rl import RLConfig, Trainer, deterministic
from sandbox.train.run_dir import RunDir
from sandbox.testing.models import small_random_policy
from toy_envs import ConfigError, make_task

TASK = make_task("arithmetic", n_steps=2, operators="+-", start_max=50, long_answer=True)


POLICY = small_random_policy()


@st.composite
def sigma_batches(draw):
    """(σ [B, J], group [B]) from ℓ where some groups' ℓ are made equal across their rollouts."""
    group = torch.tensor(draw(group_layouts(max_groups=6, max_group_size=5)))
    width = draw(st.integers(1, 5))
    ell = torch.tensor(draw(st.lists(st.floats(-10, 0, allow_nan=False), min_size=len(group) * width, max_size=len(group) * width))).reshape(len(group), width)
    flat = [g for g in group.unique().tolist() if draw(st.booleans())]
    for g in flat:
        ell[group == g] = ell[group == g][0]
    mask = torch.ones_like(ell, dtype=torch.bool)
    return token_sigma(ell, mask, group), group, flat


@given(sigma_batches(), st.floats(0, 0.9))
def test_every_query_whose_sigma_are_all_zero_is_dropped(batch, fraction):
    sigma, group, flat = batch
    problems, signal = max_sigma_per_problem(sigma, group)
    dropped = choose_dropped(problems, signal, threshold=0.0, drop_fraction=fraction)
    assert set(flat) <= set(dropped)
    assert all(signal[problems.index(p)] == 0 for p in flat)


@given(sigma_batches(), st.floats(0, 0.9), st.floats(0, 2))
def test_the_lowest_fraction_and_everything_below_the_threshold_are_dropped_and_nothing_else(batch, fraction, threshold):
    sigma, group, _ = batch
    problems, signal = max_sigma_per_problem(sigma, group)
    dropped = set(choose_dropped(problems, signal, threshold, fraction))
    ranked = sorted(zip(signal.tolist(), problems))
    lowest = {p for _, p in ranked[: int(fraction * len(problems))]}
    assert dropped == lowest | {p for s, p in ranked if s <= threshold}


def test_screening_drops_the_problem_whose_rollouts_all_reason_alike():
    same, varied = TASK.problem(0), TASK.problem(1)
    texts = {0: ["17+2=19\n19+3=22\n#19,22\n"] * 4, 1: ["3+1=4\n4-2=2\n#4,2\n", "3+1=5\n5-2=3\n#5,3\n", "3+1=4\n4-2=1\n#4,1\n", "9\n#0\n"]}

    def sample(indices, group_size):
        problems = [TASK.problem(i) for i in indices for _ in range(group_size)]
        return Rollouts.from_texts(TASK, problems, [t for i in indices for t in texts[i][:group_size]])

    result = dro_query_filter([same.index, varied.index], sample, RewardContext(task=TASK, policy=POLICY), group_size=4)
    assert result.excluded == [0]
    assert result.info["screened"] == 2 and result.info["dropped"] == 1 and result.info["dropped_problems"] == [0]
    assert result.info["max_sigma_min"] == 0.0
    with pytest.raises(ConfigError, match="drop_fraction"):
        dro_query_filter([0], sample, RewardContext(task=TASK, policy=POLICY), drop_fraction=1.0)


SCREENED = Variant(
    name="dro-screened-test",
    description="R3 scored by the (lagged) reference, a query filter that drops a quarter of each window",
    sources=(("dro_r3", 1.0, {"scorer": "reference"}),),
    estimator="grpo",
    problem_filter=("dro_query_filter", {"group_size": 4, "drop_fraction": 0.25, "scorer": "reference"}),
    problem_filter_every=2,
)


def make(warmstart_long_answer, run=None, **fields):
    model, task, _ = warmstart_long_answer
    cfg = RLConfig(
        variant=SCREENED.name, problems_per_step=4, group_size=4, eval_every=0, eval_problems=0, pass_problems=0,
        progress=False, warmup_steps=0, lr=1e-4, reference_sync_every=2, **fields,
    )
    return Trainer(cfg, task, TinyPolicy(copy.deepcopy(model)), run, TinyPolicy(copy.deepcopy(model)))


@pytest.fixture
def screened_variant(monkeypatch):
    monkeypatch.setitem(VARIANTS, SCREENED.name, SCREENED)


def test_the_trainer_skips_excluded_problems_and_logs_the_drop(warmstart_long_answer, screened_variant):
    trainer = make(warmstart_long_answer, steps=3)
    trained: list[int] = []
    collect = trainer.collect

    def recording_collect():
        batch = collect()
        trained.extend(batch.rollouts.group.unique().tolist())
        return batch

    trainer.collect = recording_collect
    history = trainer.train()
    screens = [m for m in history if "problem_filter/screened" in m]
    # windows of 2 steps' worth (8 problems) lose 2 to the filter, so step 1 already reaches the end of the first
    assert [m["step"] for m in screens] == [0, 1], "screened before training, then when the draw reached the window's end"
    dropped = [p for m in screens for p in m["problem_filter/dropped_problems"]]
    assert all(m["problem_filter/screened"] == 8 and m["problem_filter/dropped"] == 2 for m in screens)
    assert set(dropped) == trainer.stream.excluded and not set(dropped) & set(trained)
    assert len(trained) == 12 and trained == sorted(set(range(trainer.stream.next_problem)) - set(dropped))[:12]
    assert trainer.state()["excluded_problems"] == sorted(dropped)


@pytest.mark.slow
def test_resume_with_the_problem_filter_and_a_lagged_reference_continues_exactly(warmstart_long_answer, screened_variant, tmp_path):
    config = {"test": "dro"}
    straight = make(warmstart_long_answer, steps=5, run=RunDir(tmp_path / "a", config, tensorboard=False))
    straight.train()
    first = make(warmstart_long_answer, steps=3, run=RunDir(tmp_path / "b", config, tensorboard=False))
    first.train()
    resumed = make(warmstart_long_answer, steps=5, run=RunDir(tmp_path / "b", config, resume=True, tensorboard=False))
    assert resumed.run.resume(resumed) == 3
    assert resumed.stream.excluded == first.stream.excluded and resumed.stream.screened_until == first.stream.screened_until
    assert all(torch.equal(p, q) for p, q in zip(resumed.reference.module.parameters(), first.reference.module.parameters()))
    resumed.train()
    a, b = straight.run.metrics(), resumed.run.metrics()

    def training_metrics(history):  # drift is measured at each run's own end, so leave it out
        return [{k: v for k, v in deterministic(m).items() if not k.startswith("drift/")} for m in history]

    assert training_metrics(a) == training_metrics(b)
    for p, q in zip(straight.policy.module.parameters(), resumed.policy.module.parameters()):
        assert torch.equal(p, q)
    for p, q in zip(straight.reference.module.parameters(), resumed.reference.module.parameters()):
        assert torch.equal(p, q)
