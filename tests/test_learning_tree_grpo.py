"""Learning test: tree-grpo, from the noisy-demonstration warm start, removes the copied-wrong
answer line as outcome-grpo does (tests/test_learning.py), with fewer generated tokens.

The 'tiny-noisy-fast' warm start (the fast-mode copy of 'tiny-noisy', continued from 'tiny'; see
recipes.FAST_COPIES) computes its chains well but writes its answer line wrong (last result + 1)
most of the time. Trees branch mostly at step boundaries inside the chain, so siblings that share
the whole computation and differ only in the answer line are compared directly by the intra-tree
term. Setting: the variant's tree (2 trees, 2 rounds x 2 branches), group_size 8 (4 of 5 leaves kept
per tree), 16 problems per step, 10 steps, the other RL settings pinned (``learning_settings``).
Measured on 'tiny-noisy-fast', gain of greedy accuracy on 256 held-out problems, seeds 0-4, on two
builds of the cached models (this machine's AVX512 kernels / ``ATEN_CPU_CAPABILITY=default``, whose
'tiny-noisy-fast' starts at 0.219 / 0.227): +0.293 / +0.246 / +0.246 / +0.270 / +0.258 and +0.289 /
+0.184 / +0.281 / +0.184 / +0.258. On a second machine (5 Dec 2026, a 2-core AMD EPYC, its own build
of the cached models; ``REWARD_SANDBOX_LEARNING_SEEDS=0-4``): +0.156 / +0.152 / +0.164 / +0.176 /
+0.125, and +0.422 to +0.512 on a build there with ``ATEN_CPU_CAPABILITY=default``. MARGIN is half
the smallest of all (0.0625), rounded down. Kept leaves'
tokens over generated tokens (what sampling the leaves independently would cost, relative to the
tree): 1.201 / 1.205 / 1.211 / 1.196 / 1.212 and 1.202 / 1.204 / 1.211 / 1.197 / 1.211, asserted >=
TOKEN_RATIO; generated tokens over the 10 steps 21.5k-21.8k. On 'tiny-noisy' (starts 0.254 / 0.316)
the gains were +0.504 to +0.520 and +0.297 to +0.320 (asserted at 14 points), the ratios within
0.002 of these; earlier (seeds 0-2, older build) outcome-grpo's 128 independent rows per step generated 26.0k
tokens over the 10 steps against tree-grpo's 21.5k-21.7k. Time: ~6 s of CPU per seed on one thread
(load, both evaluations and the 10 steps). The test function, with its seed, reproduces one value.

On the test model (since 6 Dec 2026 the suite loads the fast copies on ``warmstart.TEST_MODEL``, 2
layers x 64, ``recipes.FAST_COPIES``; the figures above are of the copies on the 4 x 128 'tiny'
before), seeds 0-4, on a 2-core AMD EPYC's own build of the cached models / its
``ATEN_CPU_CAPABILITY=default`` build: from 0.270 / 0.219: +0.093 / +0.148 / +0.132 / +0.128 /
+0.085 and +0.183 / +0.207 / +0.199 / +0.234 / +0.222. MARGIN 0.04, under half the smallest (0.042).
"""

import pytest

from sandbox.eval.accuracy import evaluate_accuracy
from sandbox.model.policy import TinyPolicy
from sandbox.train import recipes
from sandbox.train.rl import Trainer

from learning_settings import SEEDS, measured_rl_config

pytestmark = pytest.mark.slow

MARGIN = 0.04
TOKEN_RATIO = 1.1


@pytest.mark.parametrize("seed", SEEDS)  # the suite checks seed 0 (learning_settings.checked_seeds); seeds 0-4 measured above
def test_tree_grpo_raises_greedy_held_out_accuracy(seed):
    model, task, _ = recipes.load("tiny-noisy-fast")
    policy = TinyPolicy(model)
    before = evaluate_accuracy(policy, task, policy.tokenizer, 256)["eval/accuracy"]
    cfg = measured_rl_config("tree-grpo", seed=seed, steps=10, group_size=8, eval_problems=256)
    history = Trainer(cfg, task, policy).train()
    after = history[-1]["eval/accuracy"]
    assert after - before >= MARGIN, f"seed {seed}: {before:.3f} -> {after:.3f}"
    generated = sum(m["rollout/generated_tokens"] for m in history)
    leaf_tokens = sum(m["rollout/response_len"] * cfg.problems_per_step * cfg.group_size for m in history)
    assert leaf_tokens / generated >= TOKEN_RATIO, f"seed {seed}: {leaf_tokens:.0f} leaf tokens, {generated} generated"
