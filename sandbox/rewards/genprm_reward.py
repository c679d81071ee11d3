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

The judge is a recipe (``sandbox.prm.judge_recipes``, trained once and cached; ``name:teacher``
for the teacher) or a checkpoint directory; ``RewardContext.extras["prm"]`` (``RLConfig.prm``)
overrides the variant's default. Chain sampling is keyed by (ctx.seed, ctx.step, problem,
rollout, chain), so a row's reward does not depend on its batch. The judge reads only the
prompt and response text; the oracle is consulted only for the logged
``prm/oracle_step_valid`` / ``prm/oracle_correct`` next to ``prm/mean_score`` (reward hacking
of the judge shows as score up, validity flat or down).
"""

from __future__ import annotations

from pathlib import Path

import torch

from sandbox.rewards.base import RewardContext
from sandbox.rewards.prm_reward import logged_step_rewards
from sandbox.rollout.rollouts import Rollouts
from toy_envs.base import check


def check_prm_generative(prm_override: str, judge: str = "", **_) -> None:
    """``ConfigError`` unless the judge ``prm_generative`` would load (``RLConfig.prm`` else the
    variant's ``judge``) names a judge recipe (``name`` or ``name:teacher``) or a checkpoint
    directory; loads and trains nothing."""
    from sandbox.prm.judge_recipes import JUDGE_RECIPES, ROLES

    spec = prm_override or judge
    name, _, role = spec.partition(":")
    path = Path(name)
    found = name in JUDGE_RECIPES or (path / (role or "student") / "state.json").is_file() or (not role and (path / "state.json").is_file())
    check(bool(spec) and role in ("", *ROLES) and found, "prm",
          f"a judge recipe {sorted(JUDGE_RECIPES)} (optionally ':teacher') or a judge checkpoint directory (with state.json)", spec)


def prm_generative(
    rollouts: Rollouts, ctx: RewardContext, judge: str = "", n_chains: int = 2, passes: int = 1,
    temperature: float = 1.0, mode: str = "score",
) -> torch.Tensor:
    """A generative judge's mean step verdict probability as the step reward."""
    from sandbox.prm.generative import JudgeConfig, judge_rollouts
    from sandbox.prm.judge_recipes import load_judge

    name = ctx.extras.get("prm") or judge
    check_prm_generative(name)
    cfg = JudgeConfig(n_chains=n_chains, passes=passes, temperature=temperature)
    scores = judge_rollouts(load_judge(name), rollouts, ctx.task, cfg, seed=ctx.seed, step=ctx.step).steps
    return logged_step_rewards(rollouts, ctx, scores, mode)
