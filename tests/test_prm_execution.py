"""Verification by execution (sandbox.prm.execution): the calculation against Python's integer
arithmetic as an independent oracle, lines that are not calculations left alone, and a trained
judge's executed chains (every completed calculation followed by the sandbox's exact result, keyed
and batch independent, nothing evaluated)."""

import builtins
import re

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from sandbox.eval.accuracy import default_max_new_tokens
from sandbox.model.policy import TinyPolicy
from sandbox.model.sampler import SamplingConfig
from sandbox.prm.execution import calculation_result, first_calculation
from sandbox.prm.generative import JudgeConfig, judge_rollouts
from sandbox.rollout.group_sampler import sample_groups
from sandbox.train import recipes
from toy_envs import ConfigError

PYTHON = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}


@given(st.integers(-999, 999), st.sampled_from("+-*"), st.integers(0, 999), st.sampled_from([None, 7, 97]))
def test_a_calculation_line_gets_python_s_result(a, symbol, b, modulus):
    expected = PYTHON[symbol](a, b)
    if modulus is not None:
        expected %= modulus
    assert calculation_result(f"{a}{symbol}{b}=", modulus) == str(expected)


@given(st.text(alphabet="0123456789+-*= Y#?al", max_size=12))
def test_only_exact_calculation_lines_are_executed(line):
    result = calculation_result(line)
    exact = re.fullmatch(r"(-?\d+)([+\-*])(\d+)=", line)
    canonical = exact is not None and f"{int(exact[1])}{exact[2]}{int(exact[3])}=" == line
    if not canonical:
        assert result is None
    else:
        assert result == str(PYTHON[exact[2]](int(exact[1]), int(exact[3])))


def test_first_calculation_finds_the_first_completed_line_after_start():
    chain = "17+2=19 Y\n19+3="
    assert first_calculation(chain, 0) == (len("17+2="), "19")
    assert first_calculation(chain, len("17+2=19 Y\n")) == (len(chain), "22")
    assert first_calculation("#22 Y\nall Y\n", 0) is None
    assert first_calculation("a17+2=", 0) is None  # not the whole line
    assert first_calculation("5*3=", 0, modulus=7) == (4, "1")


@pytest.fixture(scope="module")
def solutions(warmstart_tiny):
    model, task, _ = warmstart_tiny
    sampling = SamplingConfig(max_new_tokens=default_max_new_tokens(task))
    return sample_groups(TinyPolicy(model), task, list(range(6)), 2, sampling, seed=0, step=0, split="eval"), task


def test_an_executed_chain_holds_the_exact_result_after_every_calculation(solutions, monkeypatch):
    rollouts, task = solutions
    judge = recipes.load("tiny-thinkprm")

    def refuse(*args, **kwargs):
        raise AssertionError("model text was evaluated")

    monkeypatch.setattr(builtins, "eval", refuse)
    monkeypatch.setattr(builtins, "exec", refuse)
    cfg = JudgeConfig(n_chains=2, execute=True)
    executed = judge_rollouts(judge, rollouts, task, cfg, seed=1)
    plain = judge_rollouts(judge, rollouts, task, JudgeConfig(n_chains=2), seed=1)
    checked = 0
    for chain in (c for row in executed.chains for c in row):
        for match in re.finditer(r"(?m)^(-?\d+)([+\-*])(\d+)=", chain):
            a, symbol, b = int(match[1]), match[2], int(match[3])
            assert chain[match.end():].startswith(str(PYTHON[symbol](a, b))), chain
            checked += 1
    assert checked >= len(rollouts)  # the judge writes calculations, and each got the sandbox's result
    assert executed.chains != plain.chains
    order = torch.arange(len(rollouts)).flip(0)
    part = judge_rollouts(judge, rollouts.select(order), task, cfg, seed=1)
    assert part.chains == [executed.chains[i] for i in order.tolist()]


def test_execute_must_be_a_bool():
    with pytest.raises(ConfigError, match="execute"):
        JudgeConfig(execute=1).validate()
