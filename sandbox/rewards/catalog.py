"""The variant catalog: every named reward scheme as one ``Variant`` entry.

A variant composes pieces by name (``sandbox.rewards.pieces``); ``reward-sandbox variants`` lists
them and ``reward-sandbox variants --explain NAME`` prints each piece with its file and equation.
Adding a variant is adding one entry to ``VARIANTS``.
"""

from __future__ import annotations

import difflib
from contextlib import contextmanager

from sandbox.rewards.pieces import Variant
from toy_envs.base import check

OUTCOME = (("outcome", 1.0, {}),)
"""The plain verifier reward: 1[correct] on the last response token."""

GROUP_GATE = {"mode": "group", "min_pass": 0.5}
"""DRO's rubric gate over groups, shared by ``dro+gate``'s filter and its R3 (σ, w over kept rows)."""
ROW_GATE = {"mode": "row"}
"""The rubric gate over single rows (``dro+rowgate``)."""

GAE_OPTIONS = {"gamma": 1.0, "lam": 0.95}
"""γ, λ of ppo-gae, shared by its estimator and its critic's λ-return targets."""

VARIANTS = {
    variant.name: variant
    for variant in (
        Variant(
            name="outcome-grpo",
            description="1[correct] on the last token, GRPO z-scored group advantage",
            sources=OUTCOME,
            estimator="grpo",
        ),
        Variant(
            name="dr-grpo",
            description="1[correct], group-centred advantage without std, constant length normaliser",
            sources=OUTCOME,
            estimator="dr_grpo",
            loss={"aggregation": "seq-mean-token-sum-norm"},
        ),
        Variant(
            name="rloo",
            description="1[correct], leave-one-out baseline",
            sources=OUTCOME,
            estimator="rloo",
            loss={"aggregation": "token-mean"},
        ),
        Variant(
            name="rpp-baseline",
            description="1[correct], group-centred then whitened over the batch (REINFORCE++-baseline)",
            sources=OUTCOME,
            estimator="rpp_baseline",
            loss={"aggregation": "token-mean"},
        ),
        Variant(
            name="dapo",
            description="1[correct] + soft overlong penalty (cache L_max/5, weight 0.5: DAPO's proportions to a ±1 outcome), "
            "dynamic sampling + refill, clip-higher, token-mean",
            sources=(("outcome", 1.0, {}), ("overlong", 0.5, {})),
            filters=(("variance_filter", {"metric": "accuracy"}),),
            estimator="grpo",
            loss={"clip_low": 0.2, "clip_high": 0.28, "aggregation": "token-mean"},
            refill=True,
        ),
        Variant(
            name="grpo-mean-range",
            description="1[correct], GRPO on groups with 0 < accuracy < 1 only, no refill",
            sources=OUTCOME,
            filters=(("mean_range_filter", {"lo": 0.0, "hi": 1.0}),),
            estimator="grpo",
        ),
        Variant(
            name="random",
            description="spurious control: Bernoulli(0.5) reward, GRPO",
            sources=(("random_reward", 1.0, {"p": 0.5}),),
            estimator="grpo",
        ),
        Variant(
            name="gold-sft",
            description="control: the gold solutions (G copies) with reward 1 and advantage +1 on every token, "
            "token-mean: continued SFT through the policy loss",
            sources=OUTCOME,
            estimator="return_to_go",
            loss={"aggregation": "token-mean"},
            sampler="gold",
        ),
        Variant(
            name="format-only",
            description="spurious control: 1 iff every format check passes, GRPO",
            sources=(("format_rubric", 1.0, {"binary": True}),),
            estimator="grpo",
        ),
        Variant(
            name="incorrect-label",
            description="spurious control: 1 iff the answer is a fixed wrong label, GRPO",
            sources=(("incorrect_label", 1.0, {}),),
            estimator="grpo",
        ),
        Variant(
            name="brier",
            description="RLCR: 1[correct] − (q − 1[correct])² for the stated confidence q, GRPO (confidence-line tasks)",
            sources=(("brier", 1.0, {}),),
            estimator="grpo",
        ),
        Variant(
            name="pcl",
            description="Post-Completion Learning's white-box RL (arXiv 2507.20252): 1[correct] + 0.5 (1 − |r̂ − 1[correct]|) "
            "for the reward r̂ the response predicts in its evaluation after the answer (0 without one), GRPO "
            "(post-completion tasks; inference stops at the marker)",
            sources=(("outcome", 1.0, {}), ("self_evaluation", 0.5, {})),
            estimator="grpo",
        ),
        Variant(
            name="dro",
            description="DRO R3: σ-weighted log-likelihood of the reference answer given each reasoning, GRPO, query filter; no verifier",
            sources=(("dro_r3", 1.0, {}),),
            estimator="grpo",
            problem_filter=("dro_query_filter", {"group_size": 4}),
            uses_verifier=False,
        ),
        Variant(
            name="dro-uniform",
            description="DRO R3 ablation: uniform weights over the reference tokens (mean log-likelihood of the "
            "reference answer, no σ weighting), GRPO, query filter; no verifier",
            sources=(("dro_r3", 1.0, {"weighting": "uniform"}),),
            estimator="grpo",
            problem_filter=("dro_query_filter", {"group_size": 4}),
            uses_verifier=False,
        ),
        Variant(
            name="dro+gate",
            description="DRO R3 with the rubric as a group gate (groups under half valid leave the batch, and the "
            "invalid rows of the rest), σ and w over the kept rows, GRPO; no verifier",
            sources=(("dro_r3", 1.0, {"gate": GROUP_GATE}),),
            filters=(("rubric_gate", GROUP_GATE),),
            estimator="grpo",
            uses_verifier=False,
        ),
        Variant(
            name="dro+rowgate",
            description="DRO R3 with the rubric as a row gate (every invalid row leaves the batch), σ and w over the "
            "kept rows, GRPO; no verifier",
            sources=(("dro_r3", 1.0, {"gate": ROW_GATE}),),
            filters=(("rubric_gate", ROW_GATE),),
            estimator="grpo",
            uses_verifier=False,
        ),
        Variant(
            name="rubric-dense",
            description="DRO R3 + the hackable format rubric as a dense reward term, GRPO; no verifier",
            sources=(("dro_r3", 1.0, {}), ("rubric_dense", 1.0, {})),
            estimator="grpo",
            uses_verifier=False,
        ),
        Variant(
            name="prm-oracle",
            description="oracle step validity on each step's last token, process-supervised GRPO (no model)",
            sources=(("prm_oracle", 1.0, {"target": "valid"}),),
            estimator="process_grpo",
        ),
        Variant(
            name="prm-mc",
            description="learned PRM (Math-Shepherd MC hard labels, recipe tiny-mc) step scores, process-supervised GRPO",
            sources=(("prm_learned", 1.0, {}),),
            models={"prm": "tiny-mc"},
            estimator="process_grpo",
        ),
        Variant(
            name="prm-rpe",
            description="learned PRM (GenPRM relative-progress labels, recipe tiny-rpe) step scores, process-supervised GRPO",
            sources=(("prm_learned", 1.0, {}),),
            models={"prm": "tiny-rpe"},
            estimator="process_grpo",
        ),
        Variant(
            name="sprm",
            description="self-supervised PRM (MetaStone SPR loss on outcome pseudo-labels, recipe tiny-sprm) step scores, "
            "process-supervised GRPO",
            sources=(("prm_learned", 1.0, {}),),
            models={"prm": "tiny-sprm"},
            estimator="process_grpo",
        ),
        Variant(
            name="thinkprm",
            description="generative PRM (ThinkPRM-style judge, recipe tiny-thinkprm: mean step-verdict P(Y) over 2 "
            "sampled verification chains) step scores, process-supervised GRPO",
            sources=(("prm_generative", 1.0, {"n_chains": 2}),),
            models={"judge": "tiny-thinkprm"},
            estimator="process_grpo",
        ),
        Variant(
            name="orm-judge",
            description="outcome reward from a reasoning judge (StepWiser outcome judge, recipe tiny-orm: mean verdict "
            "P(Y) over 4 sampled checks of the whole solution), GRPO",
            sources=(("judge_outcome", 1.0, {"n_chains": 4}),),
            models={"stepwiser": "tiny-orm"},
            estimator="grpo",
        ),
        Variant(
            name="outcome-rtg",
            description="1[correct], return-to-go minus the group-mean return",
            sources=OUTCOME,
            estimator="return_to_go",
            estimator_options={"baseline": "group_mean"},
            loss={"aggregation": "token-mean"},
        ),
        Variant(
            name="ppo-gae",
            description="1[correct], PPO critic: GAE (γ=1, λ=0.95, whitened over the batch) on a learned value head "
            "trained with a value loss on the λ-returns",
            sources=OUTCOME,
            estimator="gae",
            estimator_options=GAE_OPTIONS,
            loss={"aggregation": "token-mean"},
            auxiliaries=(("value_head", GAE_OPTIONS),),
        ),
        Variant(
            name="prime",
            description="PRIME: 1[correct] + implicit PRM token rewards β·log πψ/πref (ψ trained online on outcomes), "
            "leave-one-out baselines per kind (outcome: other rows' outcomes; process: other rows' mean token reward, per token), "
            "return-to-go, whitened over the batch",
            sources=(("outcome", 1.0, {}), ("prime_implicit", 1.0, {})),
            estimator="prime_rloo",
            estimator_options={"whiten": True},
            loss={"aggregation": "token-mean"},
            auxiliaries=(("implicit_prm", {"beta": 0.05, "lr": 1e-3}),),
        ),
        Variant(
            name="tree-grpo",
            description="1[correct], tree rollouts sharing prefixes (2 trees, 2 rounds x 2 branches; "
            "group_size = 2K, K <= 5 leaves kept per tree), intra-tree + intra-prompt z-scores",
            sources=OUTCOME,
            estimator="tree_grpo",
            sampler="tree",
            sampler_options={"trees": 2, "rounds": 2, "branches": 2},
        ),
        Variant(
            name="tree-inner",
            description="1[correct], tree rollouts as tree-grpo, intra-tree z-score only",
            sources=OUTCOME,
            estimator="tree_grpo",
            estimator_options={"prompt_term": False},
            sampler="tree",
            sampler_options={"trees": 2, "rounds": 2, "branches": 2},
        ),
        Variant(
            name="effective-rank-grpo",
            description="VERL (arXiv 2509.23808): 1[correct], GRPO advantage plus a bonus min(relu(b), |A|/2) from the "
            "effective rank of each response's hidden states and its within-response velocity / acceleration "
            "(baselines: the batch means)",
            sources=OUTCOME,
            estimator="effective_rank_grpo",
        ),
        Variant(
            name="sdpo",
            description="SDPO self-distillation alone: per-token KL(π(·|x,y<t) ‖ sg π(·|x,f,y<t)) over the vocabulary, "
            "f = a correct sibling rollout (none when the group has none); no reward, so every advantage is 0",
            sources=(),
            estimator="grpo",
            distillation=("sdpo", {"level": "solution", "coef": 1.0}),
        ),
        Variant(
            name="sdpo+grpo",
            description="outcome GRPO plus the SDPO self-distillation loss (f = a correct sibling rollout)",
            sources=OUTCOME,
            estimator="grpo",
            distillation=("sdpo", {"level": "solution", "coef": 1.0}),
        ),
        Variant(
            name="critique-grpo",
            description="Critique-GRPO (arXiv 2506.03106): each failed row refined after the oracle's corrective critique; "
            "one refinement per group (correct first) joins it as an answer to the bare prompt, learned through "
            "f(π) = π/(π+0.1) without ratio or clip; 1[correct], group-centred advantage over both, token-mean",
            sources=OUTCOME,
            estimator="dr_grpo",
            loss={"aggregation": "token-mean"},
            refinement=("critique", {"level": "corrective", "per_group": 1, "gamma": 0.1}),
        ),
        Variant(
            name="srl",
            description="SRL (arXiv 2510.25992): from a state of the gold demonstration (problem + its first k-1 steps), "
            "one line (a step or the answer) rewarded by its difflib similarity to the expert's k-th line, -1 if malformed; "
            "GRPO on groups whose rewards differ, refilled (dynamic sampling)",
            sources=(("expert_similarity", 1.0, {}),),
            filters=(("variance_filter", {"metric": "reward"}),),
            estimator="grpo",
            sampler="expert-step",
            refill=True,
        ),
        Variant(
            name="l2t",
            description="L2T (arXiv 2505.10425): 1[correct] + 0.1 Σ_k r_k over the step lines, r_k = the gain in the "
            "reference answer's log-likelihood from line k minus β=1 x its Fisher compression penalty "
            "½η²g_kᵀF̂g_k (η=0.05, LM-head gradients, rank-64 batch Fisher); GRPO on the total",
            sources=(("outcome", 1.0, {}), ("info_gain", 0.1, {"beta": 1.0, "eta": 0.05, "rank": 64})),
            estimator="grpo",
        ),
        Variant(
            name="mcts-sft",
            description="expert iteration with MCTS as the expert (AlphaLLM, arXiv 2404.12253): per problem an MCTS tree "
            "of the current policy (16 simulations), its right solutions first as the group's rows; 1[correct], "
            "return-to-go (advantage 1 on right rows, 0 on wrong), token-mean: SFT on search-found solutions",
            sources=OUTCOME,
            estimator="return_to_go",
            loss={"aggregation": "token-mean"},
            sampler="mcts",
            sampler_options={"simulations": 16, "branches": 3},
        ),
    )
}
"""Variant name -> ``Variant``."""


RENAMED_VARIANTS = {"genprm": "thinkprm"}
"""Old variant name -> its new name: ``get_variant`` refuses the old one and names the new one
(``genprm`` was the ThinkPRM judge; GenPRM is another paper, whose labels ``prm-rpe`` uses)."""


def get_variant(name: str) -> Variant:
    """The variant called ``name``; ``ConfigError`` naming ``variant``, the closest name and the allowed names."""
    if name in RENAMED_VARIANTS:
        check(False, "variant", f"renamed {RENAMED_VARIANTS[name]!r} (one of {sorted(VARIANTS)})", name)
    if name not in VARIANTS:  # the closest name is looked up only for the error (it costs more than the lookup)
        close = difflib.get_close_matches(name, VARIANTS, n=1) if isinstance(name, str) else []
        check(False, "variant", (f"did you mean {close[0]!r}? " if close else "") + f"one of {sorted(VARIANTS)}", name)
    return VARIANTS[name]


@contextmanager
def registered(variants):
    """Within the block, ``get_variant`` also knows ``variants`` (derived copies of catalog
    entries, e.g. an experiment's variant with other piece parameters); a name already in the
    catalog is refused unless it is the same definition. The catalog is restored on exit."""
    added = []
    try:
        for variant in variants:
            existing = VARIANTS.get(variant.name)
            check(existing is None or existing == variant, "variant", "a name not in the catalog for a derived variant", variant.name)
            if existing is None:
                VARIANTS[variant.name] = variant
                added.append(variant.name)
        yield
    finally:
        for name in added:
            del VARIANTS[name]
