"""Learning test: expert iteration with MCTS as the expert (variant ``mcts-sft``) teaches the policy.

From the cached 'tiny-noisy' warm start (it computes its chains well and copies its answer line
wrong: a flaw of the whole task), STEPS steps of ``mcts-sft`` at the learning tests' settings: each
problem's group is the right solutions an MCTS tree of the current policy found (16 simulations),
SFT on them. The quantity is the greedy accuracy on 256 held-out problems, before and after in the
same run.

Measured for seeds 0-4 (this machine, under load): 0.328 -> 0.578 / 0.586 / 0.547 / 0.559 / 0.570
(+0.219 to +0.258; outcome-grpo from the same start reaches 0.586-0.660 in 6 steps, the one-shot
table in tutorials/guides/results.md). Asserted on seed 0: a rise of at least MARGIN (half the
smallest).
"""

import pytest

from sandbox.eval.accuracy import evaluate_accuracy
from sandbox.model.policy import TinyPolicy
from sandbox.model.tokenizer import CharTokenizer
from sandbox.train import recipes
from sandbox.train.rl import Trainer

from learning_settings import measured_rl_config

pytestmark = pytest.mark.slow

STEPS = 6
MARGIN = 0.11


@pytest.mark.parametrize("seed", [0])  # the suite checks one seed; seeds 1-4 measured above
def test_sft_on_search_found_solutions_raises_held_out_accuracy(seed):
    model, task, _ = recipes.load("tiny-noisy")
    trainer = Trainer(measured_rl_config("mcts-sft", seed=seed, steps=STEPS), task, TinyPolicy(model))
    accuracy = lambda: evaluate_accuracy(trainer.policy.module, task, CharTokenizer(), 256, 48)["eval/accuracy"]  # noqa: E731
    before = accuracy()
    for _ in range(STEPS):
        trainer.train_step()
    assert accuracy() - before >= MARGIN
