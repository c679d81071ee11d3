"""The generative judge: keyed, batch-independent scoring with N chains and passes, and it
never consults the task's oracle."""

import copy
from collections.abc import Sequence
from dataclasses import replace

import pytest
import torch

from sandbox.eval.accuracy import default_max_new_tokens
from sandbox.model.policy import TinyPolicy
from sandbox.model.sampler import SamplingConfig
from sandbox.prm.generative import JudgeConfig, end_of_pass, judge_rollouts, step_counts
from sandbox.prm.verification import AGAIN, parse_passes
from sandbox.rollout.group_sampler import sample_groups
from sandbox.train import recipes
from toy_envs import ConfigError


class Unreadable(Sequence):
    """Stands in for ``rollouts.verdicts``: reading any verdict fails the test."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        raise AssertionError("the judge read an oracle verdict")


@pytest.fixture(scope="module")
def solutions(warmstart_tiny):
    model, task, _ = warmstart_tiny
    sampling = SamplingConfig(max_new_tokens=default_max_new_tokens(task))
    rollouts = sample_groups(TinyPolicy(model), task, list(range(4)), 2, sampling, seed=0, step=0, split="eval")
    [v.correct for v in rollouts.verdicts]  # computed now (verdicts may be lazy), before the oracle is disabled
    return rollouts, task


@pytest.fixture(scope="module")
def judge():
    return recipes.load("tiny-thinkprm")


def test_a_trained_judge_scores_without_the_oracle(solutions, judge, monkeypatch):
    rollouts, task = solutions

    def raise_(*args, **kwargs):
        raise AssertionError("the judge consulted the task's oracle")

    monkeypatch.setattr(type(task), "score", raise_)  # the task is a frozen dataclass
    hidden = replace(rollouts, verdicts=Unreadable(len(rollouts)))
    scores = judge_rollouts(judge, hidden, task, JudgeConfig(n_chains=2, passes=2))
    assert [len(s) for s in scores.steps] == step_counts(rollouts)
    assert all(0.0 <= s <= 1.0 for row in scores.steps for s in row)
    assert all(0.0 <= s <= 1.0 for s in scores.solution)
    assert all(len(c) == 2 for c in scores.chains)
    with pytest.raises(AssertionError, match="oracle"):
        task.score(rollouts.problems[0], rollouts.texts[0])


def test_scores_are_keyed_and_batch_independent(solutions, judge):
    rollouts, task = solutions
    cfg = JudgeConfig(n_chains=2)
    full = judge_rollouts(judge, rollouts, task, cfg, seed=3)
    again = judge_rollouts(judge, rollouts, task, cfg, seed=3)
    assert full.chains == again.chains and full.steps == again.steps
    order = torch.arange(len(rollouts)).flip(0)
    part = judge_rollouts(judge, rollouts.select(order), task, cfg, seed=3)
    assert part.chains == [full.chains[i] for i in order.tolist()]
    for mine, theirs in zip(part.steps, [full.steps[i] for i in order.tolist()]):
        assert mine == pytest.approx(theirs, abs=1e-5)
    other = judge_rollouts(judge, rollouts, task, cfg, seed=4)
    assert other.chains != full.chains


def test_parallel_and_sequential_chains(solutions, judge):
    rollouts, task = solutions
    scores = judge_rollouts(judge, rollouts, task, JudgeConfig(n_chains=3, passes=2), seed=1)
    for row in scores.chains:
        assert len(row) == 3
        for chain in row:
            first = end_of_pass(chain)
            if first is not None and first < len(chain):  # the first pass ended: "again" was forced after it
                assert chain[first:].startswith(AGAIN) and chain.count(AGAIN) == 1
            assert len(parse_passes(chain)) == chain.count(AGAIN) + 1
    one = judge_rollouts(judge, rollouts, task, JudgeConfig(n_chains=3, passes=1), seed=1)
    # one pass: cut just after its first final line, nothing forced after it (an "again" the judge
    # writes itself before any final line stays: its own text, which a retrained judge may write)
    assert all(end_of_pass(chain) in (None, len(chain)) for row in one.chains for chain in row)
    # the first pass of the 2-pass chains is the 1-pass chain (same keys)
    assert all(c2.startswith(c1) for r1, r2 in zip(one.chains, scores.chains) for c1, c2 in zip(r1, r2))


def test_bad_configs_are_rejected():
    with pytest.raises(ConfigError, match="n_chains"):
        JudgeConfig(n_chains=0).validate()
    with pytest.raises(ConfigError, match="passes"):
        JudgeConfig(passes=0).validate()
    with pytest.raises(ConfigError, match="judge"):
        recipes.load("no-such-judge", "judge")
    with pytest.raises(ConfigError, match="role"):
        recipes.load("tiny-thinkprm:critic")


def test_rl_with_thinkprm_logs_the_judge_score_beside_the_oracle(warmstart_tiny, judge):
    from sandbox.train.rl import RLConfig, Trainer

    model, task, _ = warmstart_tiny
    cfg = RLConfig(variant="thinkprm", steps=1, problems_per_step=2, group_size=2, eval_every=0, eval_problems=4,
                   pass_problems=0, progress=False)
    metrics = Trainer(cfg, task, TinyPolicy(copy.deepcopy(model))).train()[-1]  # the fixture is shared
    assert 0 < metrics["prm/mean_score"] < 1
    assert 0 <= metrics["prm/oracle_step_valid"] <= 1


def test_prm_judge_command_rejects_bad_values_naming_the_field(capsys):
    from sandbox.cli import main

    assert main(["prm", "judge", "--chains", "0"]) == 2
    assert "chains=" in capsys.readouterr().err
    assert main(["prm", "judge", "--recipe", "nope"]) == 2
    assert "recipe=" in capsys.readouterr().err


class Clairvoyant(torch.nn.Module):
    """A stand-in judge whose logits at position t put Y above N exactly when token t+1 is Y: the
    P(Y) share read at a verdict is ~1 for a written Y and ~0 for a written N iff the offsets align."""

    def __init__(self):
        super().__init__()
        from sandbox.model.model import ModelConfig

        self.cfg = ModelConfig(max_seq_len=192)
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def forward(self, tokens):
        from sandbox.model.tokenizer import CharTokenizer

        yes = CharTokenizer().encode("Y")[0]
        nxt = torch.nn.functional.pad(tokens[:, 1:], (0, 1))
        logits = torch.zeros(*tokens.shape, 100)
        logits[..., yes] = torch.where(nxt == yes, 10.0, -10.0)
        return logits


def test_verdict_probabilities_are_read_at_the_verdict_tokens():
    import random

    from sandbox.prm.generative import verdict_probs
    from sandbox.prm.verification import template_chain
    from toy_envs import make_task

    task = make_task("arithmetic", n_steps=3)
    steps = task.segment("3+4=7\n7*2=15\n15-5=10\n#10\n")
    inputs, chains = [], []
    for seed in range(6):
        rng = random.Random(seed)
        labels = [rng.random() < 0.5 for _ in steps]
        inputs.append(judge_input_for(seed))
        chains.append(template_chain(steps, labels, None, 0.3, rng, 1 + seed % 2))
    for chain, (step_p, final_p) in zip(chains, verdict_probs(Clairvoyant(), inputs, chains)):
        verdicts, final = parse_passes(chain)[-1]
        assert [p > 0.99 for p in step_p] == verdicts and [p < 0.01 for p in step_p] == [not v for v in verdicts]
        assert (final_p > 0.99) == final and (final_p < 0.01) == (not final)


def judge_input_for(seed: int) -> str:
    from sandbox.prm.generative import judge_input

    return judge_input("3 *2 -5" + " " * seed + "\n", "3+4=7\n7*2=15\n15-5=10\n#10")


@pytest.mark.parametrize("command", [["prm", "judge"], ["prm", "recipe"], ["prm", "bench"]], ids=" ".join)
def test_judge_commands_print_their_help(command, capsys):
    from sandbox.cli import main

    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    assert done.value.code == 0 and "usage:" in capsys.readouterr().out


@pytest.mark.parametrize("field, value", [("length_buckets", 0), ("length_buckets", 33), ("batch_size", 0), ("lr", 0.0),
                                          ("error_rate", 1.5), ("labels", "nope")])
def test_judge_training_rejects_bad_values_naming_the_field(field, value):
    from sandbox.train.judge_sft import JudgeTrainConfig

    with pytest.raises(ConfigError, match=field):
        replace(JudgeTrainConfig(batch_size=32), **{field: value}).validate()
