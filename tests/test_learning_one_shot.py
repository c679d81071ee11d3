"""Learning test: one-shot RL (Wang et al. 2025, arXiv 2504.20571) from 'tiny-noisy'.

'tiny-noisy' computes well but copies its answer line wrong most of the time (its demonstrations
state the last result + 1 in 60% of answers; tests/test_learning.py): a flaw of the whole task, not
of any problem, so RL on one problem can remove it everywhere. A run whose stream is train problem
0 alone (``train_problems = 1``: 16 groups of 8 samples of that problem per step), 6 steps at the
pinned learning settings (tests/learning_settings.py), greedy accuracy on 256 held-out problems.

Measured on this build of the cached models (start 0.328), seeds 0-4:
  one problem, outcome-grpo:   0.500, 0.504, 0.512, 0.512, 0.512   (gains 0.172-0.184; the
                               training rollouts' accuracy on the problem 0.62-0.79 -> 0.94-0.96)
  one problem, random reward:  0.410, 0.465, 0.297, 0.250, 0.309   (the control: -0.078 to +0.137)
  every problem once (the usual stream), outcome-grpo: 0.586, 0.645, 0.625, 0.609, 0.660
So one example carries most of the gain, and the random reward on the same example does not (paired
difference one-shot minus random +0.039 to +0.262, every seed positive). On a build of the cached
models with ``ATEN_CPU_CAPABILITY=default`` (tiny-noisy starts at 0.281) the one-shot run reaches
0.457, 0.449, 0.457, 0.465, 0.449 (gains 0.168-0.184). MARGIN is half the smallest one-shot gain; tutorials/guides/results.md ('One-shot RL') has the longer runs.
Command for one value: reward-sandbox train --variant outcome-grpo --init tiny-noisy --train-problems 1
--steps 6 --seed S --lr 5e-5 --problems-per-step 16 --minibatches 2 --adam-eps 1e-8 --eval-every 0
--eval-problems 256 --pass-problems 0 --threads 1.
"""

import pytest

from learning_settings import measured_rl_config
from sandbox.eval.accuracy import evaluate_accuracy
from sandbox.model.policy import TinyPolicy
from sandbox.train import recipes
from sandbox.train.rl import Trainer

pytestmark = pytest.mark.slow

MARGIN = 0.086


def test_rl_on_one_problem_raises_greedy_held_out_accuracy():
    model, task, _ = recipes.load("tiny-noisy")
    policy = TinyPolicy(model)
    before = evaluate_accuracy(policy, task, policy.tokenizer, 256)["eval/accuracy"]
    history = Trainer(measured_rl_config("outcome-grpo", seed=0, steps=6, eval_problems=256, train_problems=1), task, policy).train()
    after = history[-1]["eval/accuracy"]
    assert after - before >= MARGIN, f"{before:.3f} -> {after:.3f}"
