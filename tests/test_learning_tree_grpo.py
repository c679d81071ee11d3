"""Learning test: tree-grpo, from the noisy-demonstration warm start, removes the copied-wrong
answer line as outcome-grpo does (tests/test_learning.py), with fewer generated tokens.

The 'tiny-noisy' warm start computes its chains well but writes its answer line wrong (last result +
1) most of the time. Trees branch mostly at step boundaries inside the chain, so siblings that share
the whole computation and differ only in the answer line are compared directly by the intra-tree
term. Setting: the variant's tree (2 trees, 2 rounds x 2 branches), group_size 8 (4 of 5 leaves kept
per tree), 16 problems per step, 10 steps, the other RL settings pinned (``learning_settings``).
Measured gain of greedy accuracy on 256 held-out problems, seeds 0-4, on two builds of the cached
models (this machine's AVX512 kernels / ``ATEN_CPU_CAPABILITY=default``, whose 'tiny-noisy' starts
at 0.254 / 0.316): +0.520 / +0.516 / +0.508 / +0.504 / +0.520 and +0.305 / +0.320 / +0.297 / +0.312
/ +0.316; MARGIN is under half the smallest. Kept leaves' tokens over generated tokens (what
sampling the leaves independently would cost, relative to the tree): 1.200 / 1.205 / 1.210 / 1.196 /
1.212 and 1.199 / 1.204 / 1.211 / 1.196 / 1.213, asserted >= TOKEN_RATIO. Earlier (seeds 0-2, older
build): generated tokens over the 10 steps 21.5k-21.7k against 26.0k for outcome-grpo's 128
independent rows per step. Time: ~11 s of CPU per seed on one thread (19-33 s wall-clock measured
while other jobs shared the machine's two cores).
"""

import pytest

from sandbox.eval.accuracy import evaluate_accuracy
from sandbox.model.policy import TinyPolicy
from sandbox.train import recipes
from sandbox.train.rl import Trainer

from learning_settings import measured_rl_config

pytestmark = pytest.mark.slow

MARGIN = 0.14
TOKEN_RATIO = 1.1


@pytest.mark.parametrize("seed", [0])  # the suite checks one seed; seeds 1-4 measured above
def test_tree_grpo_raises_greedy_held_out_accuracy_by_fourteen_points(seed):
    model, task, _ = recipes.load("tiny-noisy")
    policy = TinyPolicy(model)
    before = evaluate_accuracy(policy, task, policy.tokenizer, 256)["eval/accuracy"]
    cfg = measured_rl_config("tree-grpo", seed=seed, steps=10, group_size=8, eval_problems=256)
    history = Trainer(cfg, task, policy).train()
    after = history[-1]["eval/accuracy"]
    assert after - before >= MARGIN, f"seed {seed}: {before:.3f} -> {after:.3f}"
    generated = sum(m["rollout/generated_tokens"] for m in history)
    leaf_tokens = sum(m["rollout/response_len"] * cfg.problems_per_step * cfg.group_size for m in history)
    assert leaf_tokens / generated >= TOKEN_RATIO, f"seed {seed}: {leaf_tokens:.0f} leaf tokens, {generated} generated"
