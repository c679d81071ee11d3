"""What a run has spent so far: cumulative cost metrics under fixed names, logged every step.

    cost/generated_tokens      Σ tokens the policy decoded for training batches (every draw: refills
                               included; a tree sampler counts its shared prefixes once)
    cost/trained_tokens        Σ ppo_epochs · (prompt + response tokens of the kept rows): the tokens
                               the policy's forward and backward passes ran on
    cost/reference_tokens      Σ tokens the trainer's reference model scored for the KL penalty
                               (the kept rows once per step when β > 0; else 0)
    cost/train_flops           6 · N · trained_tokens + 2 · N · (generated_tokens + reference_tokens)
                               with N the policy's parameter count (embeddings included)

The FLOPs are the usual dense-transformer estimate (Kaplan et al. 2020, arXiv 2001.08361: about
2N per token forward, 6N forward and backward), without attention's sequence-length term, the
prompts' prefill before decoding, or the passes made inside reward pieces and auxiliary models
(a PRM's or judge's scoring, DRO's teacher-forced R3 pass, an implicit PRM's or critic's own
update): those are not recorded here. Nothing else in the run reads these metrics, except that
``RLConfig.max_generated_tokens`` stops a run on ``cost/generated_tokens``.
"""

from __future__ import annotations

COST_KEYS = ("generated_tokens", "trained_tokens", "reference_tokens")


class CostMeter:
    """The cumulative counts of one run (restored with the checkpoint's state on resume)."""

    def __init__(self, parameters: int, ppo_epochs: int, reference_scores: bool):
        self.parameters = parameters
        self.ppo_epochs = ppo_epochs
        self.reference_scores = reference_scores
        self.totals = dict.fromkeys(COST_KEYS, 0)

    def add(self, generated_tokens: int, kept_tokens: int) -> dict:
        """Count one step (its decoded tokens; the prompt + response tokens of its kept rows, summed
        over every process) and return the ``cost/*`` metrics after it."""
        self.totals["generated_tokens"] += int(generated_tokens)
        self.totals["trained_tokens"] += self.ppo_epochs * int(kept_tokens)
        self.totals["reference_tokens"] += int(kept_tokens) if self.reference_scores else 0
        return self.metrics()

    def metrics(self) -> dict:
        t, n = self.totals, self.parameters
        flops = 6 * n * t["trained_tokens"] + 2 * n * (t["generated_tokens"] + t["reference_tokens"])
        return {**{f"cost/{k}": v for k, v in t.items()}, "cost/train_flops": float(flops)}

    def state(self) -> dict:
        return {"cost": dict(self.totals)}

    def load_state(self, state: dict) -> None:
        """Restore the totals; a checkpoint written before these metrics existed restarts them at 0."""
        self.totals = {k: int(state.get("cost", {}).get(k, 0)) for k in COST_KEYS}
