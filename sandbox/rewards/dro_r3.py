"""DRO's Reasoning Reflection Reward (R3): how well each rollout's reasoning predicts the
reference answer, weighted toward the answer tokens the reasoning actually moves.

For the G rollouts i of one problem, with reasoning r_i (the response before its answer line,
all of it when there is none) and the reference answer line y = y_1..y_J (the gold solution's
answer line; in a task's long-answer mode it lists every intermediate result):

    ℓ_ij  = log π(y_j | prompt, r_i, y_<j)                       one batched teacher-forced pass
    σ_j   = sqrt( (1/G) Σ_i (ℓ_ij − mean_i ℓ_ij)² )               population std (ddof 0)
    w_j   = exp(σ_j / τ) / Σ_k exp(σ_k / τ)                       softmax over the J tokens
    R3_i  = Σ_j w_j ℓ_ij
    masked:  R3_i = Σ_j w_j (ℓ_ij − ℓ_j(∅)),  ℓ_j(∅) = log π(y_j | prompt, y_<j)

Weighting (``weighting="sigma"``, the default): a softmax of σ/τ is non-negative, sums to 1, grows strictly with σ and leaves a
token whose ℓ is the same in every rollout (σ = 0) the smallest weight. τ (``temperature``,
in nats) sets how peaked it is: τ → ∞ is the plain mean log-likelihood of the reference,
τ → 0 puts all weight on the most reasoning-sensitive token. Default τ = 1 nat: here the ones
digits of the intermediates have σ of several nats and the format tokens (``#``, ``,``, newline)
σ ≈ 0 (tutorial 05), so those digits take nearly all the weight, shared among tokens whose σ are
within a nat of each other. ``weighting="uniform"`` is the ablation without the token variance:
w_j = 1/J over the row's reference tokens (the τ → ∞ limit), so R3_i is the mean log-likelihood
of the reference answer line -- the variant ``dro-uniform`` -- and the difference between ``dro``
and ``dro-uniform`` is what σ-weighting buys.

π is a config choice (``scorer``): ``"policy"`` scores with the policy being trained (the
paper's self-contained setup; the trainer passes it as ``ctx.policy``), ``"reference"`` with
the trainer's reference policy ``ctx.reference`` -- frozen at the initial weights, or a lagged
copy of the policy when the run sets ``RLConfig.reference_sync_every`` (the trainer then copies
the policy into it every N steps). Scoring is a no-grad pass at temperature 1.

Gate: with ``gate`` (the settings of the variant's ``rubric_gate``), σ_j and w_j are computed
over the rows that gate keeps -- the valid answers of the accepted groups -- so a rejected,
malformed rollout cannot make a token look reasoning-sensitive (DRO lets the token statistic
work only within valid answers). Rejected rows still get an R3 (from their group's kept rows'
weights; uniform weights where a group keeps none), which the gate then removes.

Placement: R3_i is one number per rollout -- a judgement of the whole reasoning -- so it sits on
the row's last response token like an outcome reward, and a group-relative estimator (GRPO)
turns it into advantages broadcast to every token. (DESIGN.md lists R3 among the per-token
sources; spreading it over every token would make a row's summed reward grow with its length,
so it is one sequence-level reward instead.) The source never reads the task's verdict: it
needs the gold solution's answer line, the task's segmentation and the scorer -- no verifier.

The masked form (``masked=True``) is the paper's "efficient alternative" against reference
tokens that compensate for poor reasoning (arXiv 2506.13351v1, section 4.1.3): subtract the
log-probabilities under a masked chain of thought, here the empty reasoning. It is kept as an
option, but the registry has no variant for it: ℓ_j(∅) is one number per (problem, reference
token), so σ_j and w_j are unchanged and the masked R3 is R3 minus Σ_j w_j ℓ_j(∅), a constant
per group. A group-relative estimator -- GRPO, which R3 drives in the paper, or Dr.GRPO, whose
loss the paper uses -- subtracts the group mean and cancels it exactly, so a ``dro-masked``
variant trained on the same advantages as ``dro`` (to float rounding;
``tests/test_rewards_variants_distinct.py`` fails on any two variants that agree on every
batch). The baseline only matters under an estimator that compares rows across problems
(e.g. ``return_to_go`` without a baseline), which is not the paper's setting.

Cut down from the paper: the reference is one short answer line, not a long-form outcome, and
the weighting w(σ) is this module's softmax(σ/τ), not a reproduction of the paper's exact form;
the paper's decay-based "controlled self-certainty propagation" is not implemented; R3 drives
GRPO as in the paper. "Direct Reasoning Optimization: LLMs Can Reward And
Refine Their Own Reasoning for Open-Ended Tasks" (Xu, Chakraborty, Sharma, Nunes, Kıcıman, Lu,
Chandra, 2025, arXiv 2506.13351).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sandbox.rewards.answer_line import answer_line_start
from sandbox.rewards.base import RewardContext, on_last_token
from sandbox.rewards.groups import group_index, per_group_sum
from sandbox.rewards.rubric_gate import gate_keep
from sandbox.rollout.batching import evaluating, pad_rows
from sandbox.rollout.rollouts import Rollouts
from toy_envs.base import check

SCORERS = ("policy", "reference")
"""Which model π scores the reference: the policy being trained, or the trainer's reference."""

WEIGHTINGS = ("sigma", "uniform")
"""How the reference tokens are weighted: softmax(σ/τ), or 1/J each (the ablation)."""


def reasoning_of(task, text: str) -> str:
    """The response before its answer line; all of it when there is no answer line."""
    return text[: answer_line_start(task, text)]


def reference_answer(task, problem) -> str:
    """The gold solution's answer line (e.g. ``"#7,5\\n"`` in long-answer mode)."""
    gold = task.gold_solution(problem)
    return gold[answer_line_start(task, gold) :]


def pick_scorer(ctx: RewardContext, scorer: str):
    """The model that plays π: ``ctx.policy`` or ``ctx.reference``; a clear error if missing."""
    check(scorer in SCORERS, "scorer", f"one of {SCORERS}", scorer)
    model = ctx.policy if scorer == "policy" else ctx.reference
    if model is None:
        raise ValueError(f"scorer={scorer!r}: the reward context has no {scorer} model (RewardContext.{scorer})")
    return model


@torch.no_grad()
def reference_logprobs(model, prompts: list[str], reasonings: list[str], references: list[str]):
    """ℓ [N, J] float32 and mask [N, J] bool: log π(y_j | prompt, reasoning, y_<j) for row n's
    reference tokens (J the longest reference; mask False past a row's own), in one forward."""
    tok = model.tokenizer
    contexts = [tok.encode(p + r, bos=True) for p, r in zip(prompts, reasonings)]
    answers = [tok.encode(y) for y in references]
    tokens = pad_rows([c + a for c, a in zip(contexts, answers)], tok.pad_id)
    device = next(model.module.parameters()).device
    with evaluating(model.module):
        logp = model.logits(tokens.to(device)).float().log_softmax(-1)
    longest = max(len(a) for a in answers)
    ell = torch.zeros((len(contexts), longest))
    mask = torch.zeros((len(contexts), longest), dtype=torch.bool)
    for n, (c, a) in enumerate(zip(contexts, answers)):
        positions = torch.arange(len(c) - 1, len(c) + len(a) - 1, device=device)
        ell[n, : len(a)] = logp[n, positions, torch.tensor(a, device=device)].cpu()
        mask[n, : len(a)] = True
    return ell, mask


def token_sigma(ell: torch.Tensor, mask: torch.Tensor, group: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
    """[B, J] σ_j of each row's group: the population std of ℓ_·j over the group's rows (0 off mask);
    with ``rows`` ([B] bool), over the group's rows where ``rows`` holds (0 for a group with none).

    Computed as a mean of squared deviations from the group mean, in float64, so a token whose ℓ
    is equal in every rollout has σ exactly 0."""
    index, n = group_index(group)
    counted = torch.ones(len(group), dtype=torch.float64) if rows is None else rows.double().cpu()
    x = ell.double() * mask
    sizes = per_group_sum(counted, index, n).clamp(min=1)
    mean = per_group_rows(x * counted[:, None], index, n) / sizes[:, None]
    squares = per_group_rows((x - mean[index]) ** 2 * counted[:, None], index, n) / sizes[:, None]
    return (squares.sqrt()[index] * mask).float()


def per_group_rows(x: torch.Tensor, index: torch.Tensor, n_groups: int) -> torch.Tensor:
    """[n_groups, J] Σ of the [B, J] rows of ``x`` over each group."""
    return torch.zeros((n_groups, x.shape[1]), dtype=x.dtype).index_add_(0, index, x)


def sigma_weights(sigma: torch.Tensor, mask: torch.Tensor, temperature: float) -> torch.Tensor:
    """[B, J] w = softmax(σ/τ) over each row's reference tokens (0 off mask); rows sum to 1."""
    logits = (sigma.double() / temperature).masked_fill(~mask, float("-inf"))
    return logits.softmax(-1).float()


def uniform_weights(mask: torch.Tensor) -> torch.Tensor:
    """[B, J] w_j = 1/J_i over row i's reference tokens (0 off mask); rows sum to 1."""
    counts = mask.sum(-1, keepdim=True).clamp(min=1)
    return (mask.double() / counts).float()


def weighted_reflection(ell: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """[B] R3_i = Σ_j w_ij ℓ_ij (weights are 0 off the mask)."""
    return (weights.double() * ell.double()).sum(-1).float()


def first_row_of_each_group(groups: list[int]) -> list[int]:
    """The index of each group's first row, in row order."""
    seen: set[int] = set()
    firsts = []
    for row, g in enumerate(groups):
        if g not in seen:
            seen.add(g)
            firsts.append(row)
    return firsts


@dataclass
class Reflection:
    """Everything R3 computes for one batch of rollouts (the notebook and the query filter read it)."""

    ell: torch.Tensor
    """[B, J] ℓ_ij, baseline-subtracted in the masked variant."""
    mask: torch.Tensor
    """[B, J] the row's reference tokens."""
    sigma: torch.Tensor
    """[B, J] σ_j of the row's group."""
    weights: torch.Tensor
    """[B, J] w_j of the row's group."""
    r3: torch.Tensor
    """[B] R3_i."""
    references: list[str]
    """The reference answer line of each row."""


def reflect(
    rollouts: Rollouts, task, model, temperature: float = 1.0, masked: bool = False, gate: dict | None = None,
    weighting: str = "sigma",
) -> Reflection:
    """ℓ, σ, w and R3 for ``rollouts`` scored by ``model``; the masked form also scores each
    problem once with empty reasoning (in the same forward) and subtracts it; with ``gate``
    (``rubric_gate`` settings), σ and w come from the rows that gate keeps; ``weighting="uniform"``
    replaces w by 1/J (σ is still computed and returned)."""
    check(temperature > 0, "temperature", "> 0 (nats)", temperature)
    check(weighting in WEIGHTINGS, "weighting", f"one of {WEIGHTINGS}", weighting)
    prompts = [task.prompt(p) for p in rollouts.problems]
    references = [reference_answer(task, p) for p in rollouts.problems]
    reasonings = [reasoning_of(task, text) for text in rollouts.texts]
    firsts = first_row_of_each_group(rollouts.group.tolist())
    if masked:
        prompts += [prompts[b] for b in firsts]
        reasonings += [""] * len(firsts)
        references += [references[b] for b in firsts]
    ell, mask = reference_logprobs(model, prompts, reasonings, references)
    references = references[: len(rollouts)]
    if masked:
        index, _ = group_index(rollouts.group)
        order = group_index(rollouts.group[firsts])[0]
        empty = torch.zeros((len(firsts), ell.shape[1]))
        empty[order] = ell[len(rollouts) :]
        ell, mask = (ell[: len(rollouts)] - empty[index]) * mask[: len(rollouts)], mask[: len(rollouts)]
    rows = None
    if gate is not None:
        rows = gate_keep(rollouts, task, **gate)[0]
    sigma = token_sigma(ell, mask, rollouts.group, rows)
    weights = sigma_weights(sigma, mask, temperature) if weighting == "sigma" else uniform_weights(mask)
    return Reflection(ell, mask, sigma, weights, weighted_reflection(ell, weights), references)


def dro_r3(
    rollouts: Rollouts, ctx: RewardContext, scorer: str = "policy", temperature: float = 1.0, masked: bool = False,
    gate: dict | None = None, weighting: str = "sigma",
) -> torch.Tensor:
    """[B, T] float32: R3_i on row i's last response token (``masked``: minus the empty-reasoning
    baseline, a per-group constant; ``weighting="uniform"``: w_j = 1/J; see the module docstring)."""
    model = pick_scorer(ctx, scorer)
    return on_last_token(rollouts, reflect(rollouts, ctx.task, model, temperature, masked, gate, weighting).r3)
