"""Outcome reward from a reasoning judge: a trained judge checks the whole solution, then votes.

Reasoning reward models write their check before the verdict and scale with test-time compute
by sampling several judgments ("Reward Reasoning Model", Guo et al. 2025, arXiv 2505.14674;
"RM-R1", Chen et al. 2025, arXiv 2505.02387; "Inference-Time Scaling for Generalist Reward
Modeling" (DeepSeek-GRM), Liu et al. 2025, arXiv 2504.02495). Here the judge is the sandbox's
outcome judge (``sandbox.prm.stepwiser_judge`` with ``unit = "solution"``: it reads prompt +
response, recomputes every step line, then writes Y or N; SFT cold start, then GRPO against the
oracle's verdict on the answer), and the policy's reward is its mean verdict probability over
k sampled checks:

    R_i = (1/k) Σ_j  P(Y) / (P(Y) + P(N))   at the verdict token of check j of response i
    R_i = 0                                  for a response with no step to check (empty)

placed on the row's last response token (an outcome reward: GRPO, RLOO, ... turn it into
advantages). Check j of row (problem p, rollout r) is keyed by (seed, step, p, r, j), so a row's
reward does not depend on its batch. The mean probability, not the majority of the k verdicts,
is the reward: it is the vote's expectation made smooth (a majority flips between 0 and 1 on
one check); the vote itself is measured on held-out chunks as ``vote@k``
(``stepwiser_judge.verdict_accuracy``).

The judge is ``ctx.stepwiser``, the model the variant declares (``Variant.models["stepwiser"]``:
a StepWiser recipe of ``sandbox.train.recipes`` -- ``tiny-orm``, ``edge-orm`` -- or a checkpoint
directory; ``RLConfig.prm`` overrides it), loaded once by the trainer: this source loads and trains
nothing. It reads only the prompt and the response text; the oracle is consulted only for the
logged ``prm/oracle_correct`` and ``prm/oracle_step_valid`` next to ``prm/mean_score`` (the
judge's mean score): a policy that climbs its judge and not the task shows as the score rising
while the oracle's numbers stay flat or fall.

Cut down from the papers: the judge is the tiny model's own size, its "reasoning" is one line of
recomputed steps in a fixed grammar, and it judges one response at a time (RRM also compares
pairs).
"""

from __future__ import annotations

import torch

from sandbox.prm.stepwiser_judge import judge_solution_scores
from sandbox.rewards.base import RewardContext, on_last_token
from sandbox.rewards.prm_reward import log_metrics, oracle_step_metrics
from sandbox.rollout.rollouts import Rollouts
from toy_envs.base import check, is_int


def judge_outcome(rollouts: Rollouts, ctx: RewardContext, n_chains: int = 4, temperature: float = 1.0) -> torch.Tensor:
    """The outcome judge's (``ctx.stepwiser``) mean verdict probability over ``n_chains`` checks, on the last token."""
    check(is_int(n_chains) and n_chains >= 1, "n_chains", "an integer >= 1 (checks per response)", n_chains)
    check(isinstance(temperature, (int, float)) and temperature > 0, "temperature", "a number > 0", temperature)
    if ctx.stepwiser is None:
        raise ValueError("judge_outcome samples checks of RewardContext.stepwiser, which is None: declare the judge in the "
                         "variant's models (Variant.models['stepwiser']) so that the trainer loads it")
    scores = judge_solution_scores(ctx.stepwiser, ctx.task, rollouts, n_chains, key=(ctx.seed, ctx.step), temperature=temperature)
    log_metrics(ctx, {"prm/mean_score": sum(scores) / max(len(scores), 1), **oracle_step_metrics(rollouts)})
    return on_last_token(rollouts, torch.tensor(scores, dtype=torch.float32))
