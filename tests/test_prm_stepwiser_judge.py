"""The StepWiser chunk judge's task: class-balanced pools, reward = verdict matches label,
deterministic problems; judging never consults the task's oracle."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from sandbox.prm.stepwiser_judge import (
    Chunk,
    ChunkTask,
    balanced_pool,
    chunks_of,
    judge_step_scores,
    majority_votes,
    read_verdict,
    solution_chunks_of,
)
from sandbox.prm.verification import CHECK
from sandbox.train.stepwiser_train import StepWiserConfig, templated_line
from toy_envs import make_task
from toy_envs.base import ConfigError, Task

TASK = make_task("arithmetic", n_steps=2)


def fake_solutions(n: int, seed: int):
    """Gold solutions of train problems, with one stated result made wrong in some of them."""
    rng = random.Random(seed)
    problems = [TASK.problem(i) for i in range(n)]
    texts = []
    for p in problems:
        text = TASK.gold_solution(p)
        if rng.random() < 0.5:
            head, _, tail = text.partition("\n")
            text = head[:-1] + str((int(head[-1]) + 1) % 10) + "\n" + tail
        texts.append(text)
    return SimpleNamespace(problems=problems, texts=texts, verdicts=[TASK.score(p, t) for p, t in zip(problems, texts)],
                           problem_index=torch.arange(n), rollout_index=torch.zeros(n, dtype=torch.long))


def labelled_chunks(flags: list[bool]) -> list[Chunk]:
    """Chunks of gold-solution steps with the given labels."""
    solutions = fake_solutions(len(flags), 0)
    chunks = [c for c in chunks_of(TASK, solutions, [[1.0] * v.n_steps for v in solutions.verdicts]) if c.step.index == 0]
    return [Chunk(c.context, c.step, good, c.line[:-1] + ("Y" if good else "N"), c.source) for c, good in zip(chunks, flags)]


@given(st.lists(st.booleans(), min_size=1, max_size=40), st.integers(0, 5), st.integers(0, 3))
def test_pool_is_exactly_class_balanced_and_deterministic(flags, max_per_class, seed):
    pool = balanced_pool(labelled_chunks(flags), seed, "train", max_per_class)
    n = min(sum(flags), len(flags) - sum(flags))
    if max_per_class:
        n = min(n, max_per_class)
    assert sum(c.good for c in pool) == sum(not c.good for c in pool) == n
    assert pool == balanced_pool(labelled_chunks(flags), seed, "train", max_per_class)


TEXT = st.text(alphabet="0123456789+-=#?YN \nab", max_size=14)


@given(st.lists(st.booleans(), min_size=2, max_size=12), st.integers(0, 50), TEXT, st.sampled_from(["train", "eval"]))
def test_score_is_correct_iff_parsed_verdict_equals_label(flags, index, text, split):
    chunks = balanced_pool(labelled_chunks(flags + [True, False]), 0, "x")
    task = ChunkTask(chunks, chunks[::-1])
    chunk = task.problem(index, split)
    assert chunk == task.problem(index, split) == task.pool(split)[index % len(chunks)]
    verdict = read_verdict(text)
    score = task.score(chunk, text)
    assert score.correct == (verdict is not None and verdict == chunk.good)
    if verdict is None:
        assert not score.correct and score.parse_status != "ok"
    assert "".join(s.text for s in score.steps) == text
    assert task.score(chunk, task.gold_solution(chunk)).correct
    assert isinstance(task, Task)


@given(TEXT)
def test_read_verdict_needs_one_line_ending_in_a_verdict(text):
    verdict = read_verdict(text)
    line = text.removesuffix("\n")
    if verdict is not None:
        assert "\n" not in line and line[-2:] in (" Y", " N") and verdict == (line[-1] == "Y")
    else:
        assert "\n" in line or line[-2:] not in (" Y", " N")


@given(st.booleans(), st.floats(0, 1), st.integers(0, 10**6))
def test_templated_line_is_right_or_a_consistent_flip(good, error_rate, seed):
    chunk = labelled_chunks([good])[0]
    line = templated_line(chunk, None, error_rate, random.Random(seed))
    assert read_verdict(line) is not None
    if read_verdict(line) == good:
        assert line == chunk.line
    if error_rate == 0:
        assert line == chunk.line


def test_problem_rejects_bad_index_and_split():
    chunks = balanced_pool(labelled_chunks([True, False]), 0, "x")
    task = ChunkTask(chunks, chunks)
    with pytest.raises(ConfigError):
        task.problem(-1)
    with pytest.raises(ConfigError):
        task.problem(0, "test")
    with pytest.raises(ConfigError):
        ChunkTask((), chunks).validate()


def independent_solution_line(problem, text: str, good: bool) -> str:
    """An outcome judge's correct line by hand: each step line ``a<op>b=c`` rewritten with the exact
    a<op>b (``?`` for a line of another form), the answer line as stated, then the verdict."""
    parts = []
    for line in text.split("\n"):
        if not line:
            continue
        if line.startswith("#"):
            parts.append(line)
            break
        head, _, _ = line.partition("=")
        a, op, b = (int(head[:-2]) if head[:-2].lstrip("-").isdigit() else None), head[-2:-1], head[-1:]
        if a is None or op not in "+-*" or not b.isdigit():
            parts.append("?")
            continue
        parts.append(f"{head}={a + int(b) if op == '+' else a - int(b) if op == '-' else a * int(b)}")
    return ",".join(parts) + (" Y" if good else " N")


@given(st.integers(0, 200), st.integers(0, 3))
def test_solution_chunks_hold_the_whole_response_its_answer_verdict_and_every_line_recomputed(n, seed):
    solutions = fake_solutions(n, seed)
    chunks = solution_chunks_of(TASK, solutions)
    assert len(chunks) == n
    for i, chunk in enumerate(chunks):
        problem, text, verdict = solutions.problems[i], solutions.texts[i], solutions.verdicts[i]
        assert chunk.context == TASK.prompt(problem) + text and chunk.good == verdict.correct
        assert chunk.line == independent_solution_line(problem, text, verdict.correct)
        assert read_verdict(chunk.line) == verdict.correct and chunk.source == (i, 0, -1)


@given(st.booleans(), st.floats(0, 1), st.integers(0, 10**6), st.integers(0, 50))
def test_solution_templated_line_is_right_or_a_flip_its_recomputation_agrees_with(good, error_rate, seed, index):
    solutions = fake_solutions(index + 1, seed)
    chunk = solution_chunks_of(TASK, solutions)[index]
    chunk = Chunk(chunk.context, chunk.step, good, chunk.line[:-1] + ("Y" if good else "N"), chunk.source, chunk.steps)
    line = templated_line(chunk, None, error_rate, random.Random(seed))
    if read_verdict(line) == good:
        assert line == chunk.line
        return
    assert error_rate > 0 and read_verdict(line) == (not good)
    stated = [step.text.strip() for step in chunk.steps if step.kind == "step"]
    written = line[:-2].split(",")[: len(stated)]
    if good:  # flipped to N: exactly one line's result is off
        assert sum(w != r for w, r in zip(written, chunk.line[:-2].split(","))) == 1
    else:  # flipped to Y: every line states the response's own result
        assert written == stated


@given(st.lists(st.sampled_from([True, False, None]), max_size=12), st.integers(1, 12))
def test_majority_vote_against_a_count(verdicts, k):
    cast = [v for v in verdicts[:k] if v is not None]
    yes, no = cast.count(True), cast.count(False)
    assert majority_votes(verdicts, k) == (None if yes == no else yes > no)


@pytest.mark.parametrize("field,value", [("unit", "chunk"), ("labels", "nope"), ("n_problems", 0), ("error_rate", 1.5), ("rl_lr", 0.0),
                                         ("max_per_class", -1), ("temperature", 0.0), ("n_samples", 0)])
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ConfigError, match=field):
        StepWiserConfig(**{field: value}).validate()


class RaisingOracle:
    """The task, except that its oracle (score) and problem generator raise."""

    def __init__(self, task):
        self.task = task

    def prompt(self, problem):
        return self.task.prompt(problem)

    def segment(self, text):
        return self.task.segment(text)

    def score(self, problem, text):
        raise AssertionError("the judge consulted the oracle")

    def problem(self, index, split="train"):
        raise AssertionError("the judge consulted the problem generator")


def test_trained_judge_never_consults_the_oracle():
    from sandbox.train import recipes

    judge = recipes.load("tiny-stepwiser-fast")
    solutions = fake_solutions(6, 1)
    scores = judge_step_scores(judge, RaisingOracle(TASK), solutions, n_samples=2)
    assert scores == judge_step_scores(judge, TASK, solutions, n_samples=2)
    assert [len(s) for s in scores] == [v.n_steps for v in solutions.verdicts]
    assert all(0 <= x <= 1 for row in scores for x in row)
    assert CHECK == "check\n"


def test_cli_rejects_bad_values_before_compute(capsys):
    from sandbox.cli import main

    assert main(["prm", "stepwiser", "--judge-error-rate", "2"]) == 2
    assert main(["prm", "stepwiser", "--seeds", "a,b"]) == 2
    with pytest.raises(SystemExit):
        main(["prm", "stepwiser", "--help"])
    assert "--judge-labels" in capsys.readouterr().out
