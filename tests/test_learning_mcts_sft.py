"""Learning test: expert iteration with MCTS as the expert (variant ``mcts-sft``) teaches the policy.

From the cached 'tiny-noisy-fast' warm start (the fast-mode copy of 'tiny-noisy', continued from
'tiny'; see recipes.FAST_COPIES: it computes its chains well and copies its answer line wrong, a
flaw of the whole task), STEPS steps of ``mcts-sft`` at the learning tests' settings: each
problem's group is the right solutions an MCTS tree of the current policy found (16 simulations),
SFT on them. The quantity is the greedy accuracy on 256 held-out problems (48 new tokens), before
and after in the same run.

Measured on 'tiny-noisy-fast' for seeds 0-4: 0.219 -> 0.367 / 0.395 / 0.391 / 0.395 / 0.426
(+0.148 to +0.207; outcome-grpo from the same start at the same settings reaches 0.387-0.473 in 6
steps, tests/test_learning_one_shot.py). On 'tiny-noisy' it was 0.328 -> 0.547-0.586 (+0.219 to
+0.258). On a second machine (5 Dec 2026, a 2-core AMD EPYC, its own build of the cached models;
``REWARD_SANDBOX_LEARNING_SEEDS=0-4``): +0.164 / +0.133 / +0.176 / +0.172 / +0.199, and on a build
there with ``ATEN_CPU_CAPABILITY=default`` +0.105 / +0.152 / +0.180 / +0.137 / +0.164. Asserted on seed 0: a
rise of at least MARGIN (half the smallest of all, 0.105, rounded down to 0.05). The test
function below, with its seed, reproduces one value.

On the test model (since 6 Dec 2026 the suite loads the fast copies on ``warmstart.TEST_MODEL``, 2
layers x 64, ``recipes.FAST_COPIES``; the figures above are of the copies on the 4 x 128 'tiny'
before), seeds 0-4, on a 2-core AMD EPYC's own build of the cached models / its
``ATEN_CPU_CAPABILITY=default`` build: from 0.270 / 0.219: +0.094 / +0.109 / +0.129 / +0.121 /
+0.094 and +0.168 / +0.176 / +0.184 / +0.176 / +0.191. MARGIN 0.045, under half the smallest
(0.047).
"""

import pytest

from sandbox.eval.accuracy import evaluate_accuracy
from sandbox.model.policy import TinyPolicy
from sandbox.model.tokenizer import CharTokenizer
from sandbox.train import recipes
from sandbox.train.rl import Trainer

from learning_settings import SEEDS, measured_rl_config

pytestmark = pytest.mark.slow

STEPS = 6
MARGIN = 0.045


@pytest.mark.parametrize("seed", SEEDS)  # the suite checks seed 0 (learning_settings.checked_seeds); seeds 0-4 measured above
def test_sft_on_search_found_solutions_raises_held_out_accuracy(seed):
    model, task, _ = recipes.load("tiny-noisy-fast")
    trainer = Trainer(measured_rl_config("mcts-sft", seed=seed, steps=STEPS), task, TinyPolicy(model))
    accuracy = lambda: evaluate_accuracy(trainer.policy.module, task, CharTokenizer(), 256, 48)["eval/accuracy"]  # noqa: E731
    before = accuracy()
    for _ in range(STEPS):
        trainer.train_step()
    assert accuracy() - before >= MARGIN
