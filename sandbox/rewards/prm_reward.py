"""Process rewards: a step scorer's score of each step, placed on that step's last token.

For row i with steps t = 1..n and step scores s_{i,t} ∈ [0, 1],

    mode="score":       r_{i, e_t} = s_{i,t}
    mode="difference":  r_{i, e_t} = s_{i,t} − s_{i,t−1}      (s_{i,0} = 0, so Σ_t r = s_{i,n})

where e_t is the last token of step t (the answer line is the last step; ``<eos>`` joins it);
every other token gets 0.

A response without a parseable answer step scores as that step failing (s = 0), whatever the
scorer says: an unparseable answer line (``#abc``) gets 0, and a response that stops before its
answer line -- empty, ended after a reasoning line, or truncated -- ends in a failed answer step
on its last token. That token also ends the response's last line (one token holds one step
reward), so that line's own score is replaced by the failure; an empty response's only token
carries it (``process_grpo`` counts a row's last response token as a step end). Without this a
policy could stop before the answer: a response of valid steps and no answer line kept full
credit for its steps, an empty one got advantage 0, and both beat a wrong answer. With it,
truncating any response before its answer line never raises its summed reward for a scorer
that reads each step causally (the oracle, a discriminative PRM: the shared steps keep their
scores, the last is 0); in ``difference`` mode the sum telescopes to that failed step's 0 for
any scorer, a generative judge included. The estimators that read step rewards (``return_to_go``,
``process_grpo``) turn these into advantages. "Let's Verify Step by Step" (Lightman et al. 2023,
arXiv 2305.20050) and "Math-Shepherd" (Wang et al. 2023, arXiv 2312.08935) use PRM scores as
step rewards; "DeepSeekMath" (Shao et al. 2024, arXiv 2402.03300) section 4.1.3 gives the
process-supervised GRPO advantage. The score difference is the "progress" reward of
"Rewarding Progress" (Setlur et al. 2024, arXiv 2410.08146) with the PRM as the value.

Scorers:
    prm_oracle    s = the task's oracle step validity (``target="valid"``) or value (``"value"``);
                  needs no model: the ceiling a learned PRM can reach
    prm_learned   s = σ(head) of a trained discriminative PRM (``sandbox.prm``): ``ctx.prm``, the
                  model the variant declares (``Variant.models["prm"]``: a PRM recipe of
                  ``sandbox.train.recipes`` or a checkpoint directory; ``RLConfig.prm``
                  overrides it), which the trainer loads once (``sandbox.train.reward_models``):
                  this source loads and trains nothing. Logs ``prm/mean_score`` next to the
                  oracle's ``prm/oracle_step_valid`` and ``prm/oracle_correct`` so that reward
                  hacking of the judge (score up, validity flat or down) is visible.
"""

from __future__ import annotations

import torch

from sandbox.prm.discriminative import step_end_mask, step_scores
from sandbox.prm.oracle_labels import oracle_labels
from sandbox.rewards.base import RewardContext
from sandbox.rollout.rollouts import Rollouts
from toy_envs.base import check

MODES = ("score", "difference")


def has_parsed_answer(task, text: str) -> bool:
    """The response's segmentation ends in an answer step that parses (``task.segment``; not the
    verifier: a parsed answer may still be wrong)."""
    steps = task.segment(text)
    return bool(steps) and steps[-1].kind == "answer" and steps[-1].parsed


def failed_answers(rollouts: Rollouts, scores: list[list[float]], task) -> list[list[float]]:
    """``scores`` with the last step of each response that lacks a parseable answer step set to 0."""
    out = []
    for text, row_scores in zip(rollouts.texts, scores):
        row_scores = list(row_scores)
        if row_scores and not has_parsed_answer(task, text):
            row_scores[-1] = 0.0
        out.append(row_scores)
    return out


def step_rewards(rollouts: Rollouts, scores: list[list[float]], task, mode: str = "score") -> torch.Tensor:
    """[B, T] float32: each step's score (or score difference) on its last token, 0 elsewhere; a
    response without a parseable answer step ends in a failed one (see the module docstring)."""
    check(mode in MODES, "mode", f"one of {MODES}", mode)
    ends = step_end_mask(rollouts)
    out = torch.zeros(rollouts.tokens.shape, dtype=torch.float32, device=rollouts.device)
    for row, row_scores in enumerate(failed_answers(rollouts, scores, task)):
        values = torch.tensor(row_scores, dtype=torch.float32)
        if mode == "difference":
            values = values - torch.cat([torch.zeros(1), values[:-1]])
        out[row, ends[row].nonzero().flatten()] = values.to(out.device)
    return out


def log_metrics(ctx: RewardContext, metrics: dict[str, float]) -> None:
    """Hand metrics to the trainer (it logs ``ctx.metrics`` of the step's first draw)."""
    ctx.metrics.update(metrics)


def oracle_step_metrics(rollouts: Rollouts) -> dict[str, float]:
    """Oracle correctness and the fraction of valid steps over the batch."""
    valid = [x for v in rollouts.verdicts for x in v.step_valid]
    return {
        "prm/oracle_correct": float(rollouts.correct.mean()),
        "prm/oracle_step_valid": sum(valid) / max(len(valid), 1),
    }


def logged_step_rewards(rollouts: Rollouts, ctx: RewardContext, scores: list[list[float]], mode: str) -> torch.Tensor:
    """A learned scorer's ``step_rewards``, logging its mean score next to the oracle's metrics."""
    flat = [s for row in scores for s in row]
    log_metrics(ctx, {"prm/mean_score": sum(flat) / max(len(flat), 1), **oracle_step_metrics(rollouts)})
    return step_rewards(rollouts, scores, ctx.task, mode)


def prm_oracle(rollouts: Rollouts, ctx: RewardContext, target: str = "valid", mode: str = "score") -> torch.Tensor:
    """Oracle step validity (or value) as the step reward."""
    return step_rewards(rollouts, oracle_labels(rollouts.verdicts, target), ctx.task, mode)


def prm_learned(rollouts: Rollouts, ctx: RewardContext, mode: str = "score") -> torch.Tensor:
    """A trained PRM's step scores (``ctx.prm``) as the step reward."""
    if ctx.prm is None:
        raise ValueError("prm_learned scores with RewardContext.prm, which is None: declare the PRM in the variant's "
                         "models (Variant.models['prm']) so that the trainer loads it")
    scores = step_scores(ctx.prm, rollouts)
    return logged_step_rewards(rollouts, ctx, scores, mode)
