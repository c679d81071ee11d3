"""Hidden-state diagnostics of a step's rollouts: effective rank beside the token entropy.

    H_i            the policy's final-norm hidden states (what the LM head reads) at row i's response
                   tokens with the weights that sampled them: those of the update's own forward
                   when its first epoch has one minibatch (the RL defaults: every row's forward
                   runs before the first optimizer step; ``hidden_states_of_parts``), else one
                   no-grad forward of the kept rows before the update (``response_hidden_states``)
    ER_i           erank of H_i centred over its tokens (``sandbox.rollout.effective_rank``)
    diag/effective_rank      mean_i ER_i over the kept rows with at least two response tokens
    diag/effective_rank_d1   its first difference over the steps that logged one: ER_s − ER_{s−1}
    diag/effective_rank_d2   the second difference: d1_s − d1_{s−1}

"Beyond the Exploration-Exploitation Trade-off: A Hidden State Approach for LLM Reasoning in RLVR"
(Huang et al. 2025, arXiv 2509.23808): ER of the final-norm hidden states of a response's tokens
as the exploration signal, logged beside ``loss/entropy`` (token-level). Taken from the update's
forward it costs nothing but the copy (the logits are the LM head on those hidden states, bit for
bit: ``sandbox.model.policy.logits_and_hidden_states``); that forward runs in train mode, which
for the sandbox's models (no dropout) gives the eval-mode states. A forward of its own is
measurement, not training: eval mode, ``torch.no_grad``, not counted in ``cost/*`` -- about a
sixth of a step's CPU with two minibatches. Either way the diagnostic changes no other number of
the run; ``RLConfig.effective_rank`` turns it off. The same hidden states reach a variant's
estimator that reads them (``ESTIMATOR_EXTRAS``: ``Rollouts.extras["hidden_states"]``), computed
once by the forward of its own (the estimator runs before the update).
"""

from __future__ import annotations

import torch

from sandbox.model.policy import final_hidden_states
from sandbox.rollout.effective_rank import differences, response_effective_ranks
from sandbox.rollout.rollouts import Rollouts
from sandbox.train import accel

HIDDEN_STATES = "hidden_states"
"""The ``Rollouts.extras`` key of the response-token hidden states [B, T, d] (float32, 0 off the response)."""


def response_hidden_states(policy, rollouts: Rollouts, device, precision: str) -> torch.Tensor:
    """[B, T, d] float32 on the rollouts' device: the policy's final-norm hidden states at the
    response tokens, 0 elsewhere. One forward, no gradient, the module in eval mode (then its mode restored)."""
    module = policy.module
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad(), accel.autocast(device, precision):
            hidden = final_hidden_states(module, rollouts.tokens.to(device))
    finally:
        module.train(was_training)
    return hidden.float().to(rollouts.device) * rollouts.response_mask[..., None]


def hidden_states_of_parts(parts: list[tuple[torch.Tensor, torch.Tensor]], rollouts: Rollouts) -> torch.Tensor:
    """``response_hidden_states`` assembled from the update's forward passes: ``parts`` is a list of
    (rows, their hidden states [len(rows), width, d], width up to the batch's) covering every row;
    [B, T, d] float32 on the rollouts' device, 0 off the response."""
    batch, width = rollouts.tokens.shape
    hidden = torch.zeros(batch, width, parts[0][1].shape[-1], device=rollouts.device)
    for rows, states in parts:
        hidden[rows.to(rollouts.device), : states.shape[1]] = states.to(rollouts.device)
    return hidden * rollouts.response_mask[..., None]


class EffectiveRankLog:
    """The ``diag/effective_rank*`` metrics of a run; keeps the last two logged values so that
    the differences continue across a resume (``state`` / ``load_state``)."""

    def __init__(self):
        self.recent: list[float] = []

    def metrics(self, hidden: torch.Tensor | None, mask: torch.Tensor | None, world) -> dict[str, float]:
        """This step's metrics from this process's rows (``None``: no rows here; every process calls it)."""
        total, count = 0.0, 0.0
        if hidden is not None:
            rows = mask.sum(1) >= 2
            total, count = float(response_effective_ranks(hidden[rows], mask[rows]).sum()), float(rows.sum())
        total, count = world.sum([total, count])
        if count == 0:
            return {}
        value = total / count
        self.recent = (self.recent + [value])[-3:]
        d1, d2 = differences(self.recent)
        out = {"diag/effective_rank": value}
        if d1:
            out["diag/effective_rank_d1"] = d1[-1]
        if d2:
            out["diag/effective_rank_d2"] = d2[-1]
        return out

    def state(self) -> dict:
        return {"effective_rank_recent": list(self.recent)}

    def load_state(self, state: dict) -> None:
        self.recent = list(state.get("effective_rank_recent", []))
