"""Critique-GRPO: refinements written after a critique join the group, learned through a shaping function.

"Critique-GRPO: Advancing LLM Reasoning with Natural Language and Numerical Feedback" (Zhang et
al. 2025, arXiv 2506.03106). A scalar reward says nothing about *what* went wrong, so a problem
whose G samples all fail gives GRPO no signal at all (every advantage is 0). Critique-GRPO asks
the policy to refine its failed attempts given a critique, and learns from those refinements as
if they were answers to the bare question:

    y_1..y_G ~ π_old(· | q)                                   on-policy group, rewards R_i
    for each failed y_i:  c_i ← critique(q, y_i)               (the oracle's words, ``toy_envs.feedback``)
                          z_i ~ π_old(· | q, c_i)              a refinement
    pick k of the z_i per group, correct ones first (the rest in keyed random order)
    group  = {y_1..y_G} ∪ {z_1..z_k},   A_j = R_j − mean_group(R)         (Dr.GRPO's advantage)

    J(θ) = 1/Z [ Σ_i Σ_t min(ρ_{i,t} A_i, clip(ρ_{i,t}) A_i)              on-policy tokens (PPO-clip)
               + Σ_j Σ_t f(π_θ(z_{j,t} | q, z_{j,<t})) · A_j ]          refinement tokens
    f(p) = p / (p + γ),  γ = 0.1,     Z = all response tokens (token-mean)

The refinement tokens are scored under the policy *without* the critique in its context: the
policy is taught to produce the refined answer from the question alone. They are off-policy
(sampled from another context), so they carry no importance ratio and no clip; the shaping
function f (LUFFY's policy shaping, Yan et al. 2025, arXiv 2504.14945) reweights their gradient:
∇f(π) = γ π / (π + γ)² · ∇log π, which is largest where π ≈ γ, so a correct but unfamiliar token
(low π) is learned more strongly than plain log-likelihood would for high π, and the loss of an
incorrect refinement (A < 0) pushes down tokens the policy already finds likely.

Here: the critique is ``toy_envs.feedback`` at ``level`` (indicative / located / corrective, or
``solution``: a correct sibling's text, ``""`` when the group has none -- the refinement is then a
resample); only rows whose final answer is wrong are refined, one refinement each; the refinement
prompt is the SDPO teacher's context (``sdpo.teacher_prompt``: the prompt, then the critique
quoted by ``"> "``), the format the ``tiny-feedback`` warm start has read (300 SFT steps with
feedback in half of the prompts; ``sandbox.train.feedback_warmstart``).

Cut down from the paper: the critiques are the oracle's templated feedback, not a critic model's
chain-of-thought critique; the refinement's context holds the critique but not the failed
attempt's text (no warm start has read a quoted attempt; the located and corrective levels name
the attempt's wrong step and its stated value); the on-policy tokens keep the trainer's PPO-clip
(the paper keeps clipping there too) and no KL term is added unless the run sets one.

The piece builds the refinement prompts and, from the samples the trainer draws for them, the
rows it adds; the trainer samples (``sandbox.train.collect``) and adds the shaped term to the
policy loss (``sandbox.train.policy_loss``); the piece loads, runs and trains no model.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sandbox.rewards.sdpo import group_feedback, teacher_prompt
from sandbox.rng import row_key, row_keys
from sandbox.rollout.rollouts import Rollouts
from toy_envs.base import check
from toy_envs.feedback import check_level

OFF_POLICY = "off_policy"
"""``Rollouts.extras`` key: [B] bool, True on the refinement rows the piece added."""


def shaping(p: torch.Tensor, gamma: float) -> torch.Tensor:
    """f(p) = p / (p + γ): increasing, in [0, 1) for p in [0, 1]."""
    return p / (p + gamma)


def shaped_token_loss(new_logp: torch.Tensor, advantages: torch.Tensor, gamma: float) -> torch.Tensor:
    """[B, T] −A_t · f(π_θ(y_t)) with π_θ(y_t) = exp(new_logp): the refinement tokens' loss (no
    ratio, no clip); its gradient in log π is −A · γπ / (π + γ)²."""
    return -advantages * shaping(new_logp.exp(), gamma)


def on_policy_rows(rollouts: Rollouts) -> torch.Tensor:
    """[B] bool: rows sampled on-policy from the bare prompt (every row unless the piece added some)."""
    off = rollouts.extras.get(OFF_POLICY)
    return torch.ones(len(rollouts), dtype=torch.bool) if off is None else ~off


@dataclass
class RefinementRequests:
    """The failed rows to refine and what the trainer samples for each."""

    rows: list[int]
    """Indices (into the on-policy rollouts) of the rows refined, in batch order."""
    prompts: list[list[int]]
    """Token ids of each refinement prompt (``<bos>`` + the prompt with the critique quoted)."""
    keys: torch.Tensor
    """[R] sampling keys, by (seed, "refine", step, problem, rollout)."""
    critiques: list[str]


class CritiqueRefinement:
    """The Critique-GRPO piece a variant declares: the critique ``level``, how many refinements
    join each group (``per_group``, the paper's k) and the shaping constant ``gamma`` (γ)."""

    def __init__(self, level: str = "corrective", per_group: int = 1, gamma: float = 0.1):
        check_level(level)
        check(level != "none", "level", "a level that gives a critique (not 'none': a refinement would be a resample)", level)
        check(type(per_group) is int and per_group >= 1, "per_group", "an integer >= 1", per_group)
        check(isinstance(gamma, (int, float)) and gamma > 0, "gamma", "a number > 0", gamma)
        self.level, self.per_group, self.gamma = level, per_group, float(gamma)

    def token_loss(self, new_logp: torch.Tensor, advantages: torch.Tensor) -> torch.Tensor:
        """[B, T] the refinement rows' token loss, −A · f(π_θ) (``shaped_token_loss``)."""
        return shaped_token_loss(new_logp, advantages, self.gamma)

    def requests(self, rollouts: Rollouts, task, tokenizer, seed: int, step: int) -> RefinementRequests:
        """A refinement request for every row whose final answer is wrong, with its critique (the
        row's feedback at ``level``, its siblings being the other rows of its group: ``sdpo.group_feedback``)."""
        every = group_feedback(rollouts, task, self.level)
        rows = [b for b, verdict in enumerate(rollouts.verdicts) if not verdict.correct]
        critiques = [every[b] for b in rows]
        prompts = [tokenizer.encode(teacher_prompt(task.prompt(rollouts.problems[b]), every[b]), bos=True) for b in rows]
        keys = row_keys(seed, [("refine", step, int(rollouts.problem_index[b]), int(rollouts.rollout_index[b])) for b in rows])
        return RefinementRequests(rows, prompts, keys, critiques)

    def merge(self, rollouts: Rollouts, requests: RefinementRequests, samples, task, tokenizer, seed: int, step: int
              ) -> tuple[Rollouts, dict]:
        """``rollouts`` followed by the chosen refinements (``samples``: the trainer's draw for
        ``requests``, a ``Samples``), each re-read as a response to the bare prompt, marked in
        ``extras[OFF_POLICY]``; and the ``refine/*`` metrics."""
        rollouts.extras[OFF_POLICY] = torch.zeros(len(rollouts), dtype=torch.bool)
        if not requests.rows:
            return rollouts, refine_metrics(rollouts, [], [], [])
        responses, texts = [], []
        for r in range(len(requests.rows)):
            start, length = int(samples.prompt_lens[r]), int(samples.response_lens[r])
            responses.append(samples.tokens[r, start : start + length].tolist())
            texts.append(tokenizer.decode(responses[-1]))
        problems = [rollouts.problems[b] for b in requests.rows]
        candidates = Rollouts.from_texts(task, problems, texts, samples.truncated.tolist(), tokenizer=tokenizer,
                                         responses=responses)
        correct = [v.correct for v in candidates.verdicts]
        chosen = choose_refinements([int(rollouts.group[b]) for b in requests.rows], correct, self.per_group,
                                    [row_key(seed, "refine-pick", step, int(rollouts.problem_index[b]), int(rollouts.rollout_index[b]))
                                     for b in requests.rows])
        metrics = refine_metrics(rollouts, requests.rows, correct, chosen)
        if not chosen:
            return rollouts, metrics
        added = candidates.select(chosen)
        parents = torch.tensor([requests.rows[c] for c in chosen])
        added.group, added.problem_index = rollouts.group[parents].clone(), rollouts.problem_index[parents].clone()
        added.rollout_index = refinement_indices(rollouts, parents)
        added.extras = {OFF_POLICY: torch.ones(len(added), dtype=torch.bool)}
        merged = Rollouts.cat([rollouts, added], pad_id=tokenizer.pad_id)
        return merged.select(group_order(merged.group)), metrics


def choose_refinements(groups: list[int], correct: list[bool], per_group: int, keys: list[int]) -> list[int]:
    """Indices of the chosen candidates, in candidate order: per group at most ``per_group``,
    correct ones first, ties broken by the keyed order ``keys`` (the paper's random pick)."""
    chosen = []
    for group in dict.fromkeys(groups):
        members = [c for c, g in enumerate(groups) if g == group]
        members.sort(key=lambda c: (not correct[c], keys[c], c))
        chosen += members[:per_group]
    return sorted(chosen)


def group_order(group: torch.Tensor) -> torch.Tensor:
    """Row order keeping each group's rows adjacent, groups in order of first appearance and rows
    in their order within a group (the samplers' contract: a group's rows are adjacent)."""
    first = {}
    for b, g in enumerate(group.tolist()):
        first.setdefault(g, b)
    return torch.tensor(sorted(range(len(group)), key=lambda b: (first[int(group[b])], b)), dtype=torch.long)


def refinement_indices(rollouts: Rollouts, parents: torch.Tensor) -> torch.Tensor:
    """[k] rollout indices for the added rows: after each group's on-policy rows (G, G+1, ...)."""
    out, seen = [], {}
    for b in parents.tolist():
        group = int(rollouts.group[b])
        base = int(rollouts.rollout_index[rollouts.group == group].max()) + 1
        out.append(base + seen.get(group, 0))
        seen[group] = seen.get(group, 0) + 1
    return torch.tensor(out, dtype=torch.long)


def refine_metrics(rollouts: Rollouts, rows: list[int], correct: list[bool], chosen: list[int]) -> dict:
    """``refine/requested`` (failed rows refined), ``refine/accuracy`` (refinements with the right
    answer), ``refine/added`` (rows added to the groups), ``refine/rescued_groups`` (groups whose
    on-policy rows all failed and that gained a correct refinement)."""
    groups = rollouts.group.tolist()
    failed_groups = set(groups) - {g for g, verdict in zip(groups, rollouts.verdicts) if verdict.correct}
    rescued = {groups[rows[c]] for c in chosen if correct[c]} & failed_groups
    return {
        "refine/requested": float(len(rows)),
        "refine/accuracy": sum(correct) / len(correct) if correct else 0.0,
        "refine/added": float(len(chosen)),
        "refine/rescued_groups": float(len(rescued)),
        "refine/failed_groups": float(len(failed_groups)),
    }
