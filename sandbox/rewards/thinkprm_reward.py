"""Generative process reward: a verification judge's step scores on each step's last token.

For row i with steps t = 1..n, the judge (``sandbox.prm.generative``) samples N verification
chains of ``passes`` passes and scores

    s_{i,t} = mean over chains of P(Y) / (P(Y) + P(N)) at step t's verdict token (last pass)

which is placed like every PRM score (``sandbox.rewards.prm_reward.step_rewards``):

    mode="score":       r_{i, e_t} = s_{i,t}
    mode="difference":  r_{i, e_t} = s_{i,t} − s_{i,t−1}      (s_{i,0} = 0)

with e_t the last token of step t and 0 elsewhere; the process-supervised estimators
(``process_grpo``, ``return_to_go``) turn these into advantages. "Process Reward Models That
Think" (ThinkPRM; Khalifa et al. 2025, arXiv 2504.16828) for the judge; the placement and
estimators are those of the discriminative PRM sources ("Let's Verify Step by Step", Lightman
et al. 2023, arXiv 2305.20050; "DeepSeekMath", Shao et al. 2024, arXiv 2402.03300, 4.1.3).

The judge is ``ctx.judge``, the model the variant declares (``Variant.models["judge"]``: a judge
recipe of ``sandbox.train.recipes``, ``name:teacher`` for the teacher, or a checkpoint
directory; ``RLConfig.prm`` overrides it), which the trainer loads once
(``sandbox.train.reward_models``): this source loads and trains nothing. Chain sampling is keyed
by (ctx.seed, ctx.step, problem, rollout, chain), so a row's reward does not depend on its batch. The judge reads only the
prompt and response text; the oracle is consulted only for the logged
``prm/oracle_step_valid`` / ``prm/oracle_correct`` next to ``prm/mean_score`` (reward hacking
of the judge shows as score up, validity flat or down).
"""

from __future__ import annotations

import torch

from sandbox.prm.generative import JudgeConfig, judge_rollouts
from sandbox.rewards.base import RewardContext
from sandbox.rewards.prm_reward import logged_step_rewards
from sandbox.rollout.rollouts import Rollouts


def prm_generative(
    rollouts: Rollouts, ctx: RewardContext, n_chains: int = 2, passes: int = 1, temperature: float = 1.0, mode: str = "score",
) -> torch.Tensor:
    """A generative judge's (``ctx.judge``) mean step verdict probability as the step reward."""
    if ctx.judge is None:
        raise ValueError("prm_generative samples chains of RewardContext.judge, which is None: declare the judge in the "
                         "variant's models (Variant.models['judge']) so that the trainer loads it")
    cfg = JudgeConfig(n_chains=n_chains, passes=passes, temperature=temperature)
    scores = judge_rollouts(ctx.judge, rollouts, ctx.task, cfg, seed=ctx.seed, step=ctx.step).steps
    return logged_step_rewards(rollouts, ctx, scores, mode)
