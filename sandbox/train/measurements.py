"""What an RL run measures besides its batches: held-out evaluation and the drift probe, on their schedules.

    evaluate   greedy and process-verified accuracy on ``eval_problems`` held-out problems (per
               length too) and the pass@k curve up to ``pass_k`` on ``pass_problems`` (``sandbox.eval``)
    drift      greedy answers flipped since step 0 and the gold log-likelihood (``sandbox.train.drift``);
               its step-0 reference is measured before the first update
    after step s: evaluation when s is a multiple of ``eval_every``, the drift probe when s is a
               multiple of ``drift_every``; both after the last step (``steps`` done, or the
               generated-token budget reached)

Rank 0 measures and the other processes get ``{}`` (``World.on_rank0``); under FSDP every process
gathers the weights first, so every process calls these.
"""

from __future__ import annotations

import time

from sandbox.eval.accuracy import evaluate_accuracy
from sandbox.eval.pass_at_k import evaluate_pass_curve
from sandbox.train.distributed import Placement
from sandbox.train.drift import DriftProbe


class Measurements:
    """The held-out evaluation and the drift probe of one run (``cfg``: its ``RLConfig``)."""

    def __init__(self, cfg, policy, task, sampling, max_new_tokens: int, placement: Placement):
        self.cfg, self.policy, self.task, self.sampling, self.max_new_tokens = cfg, policy, task, sampling, max_new_tokens
        self.placement = placement
        self.drift = DriftProbe(task, cfg.drift_problems, max_new_tokens) if cfg.drift_every and cfg.drift_problems else None
        """The drift diagnostic; its step-0 answers and gold log-likelihood are measured before the first update."""
        self.drift_started = False

    def evaluate(self) -> dict:
        """Held-out accuracy and the pass@k curve of the policy now, and the seconds they took."""
        t0 = time.perf_counter()
        out = {}
        if self.cfg.eval_problems:
            out.update(evaluate_accuracy(self.policy, self.task, self.policy.tokenizer, self.cfg.eval_problems, self.max_new_tokens))
        if self.cfg.pass_problems:
            out.update(evaluate_pass_curve(self.policy, self.task, self.cfg.pass_k, self.cfg.pass_problems, self.sampling, self.cfg.seed))
        out["time/eval_s"] = time.perf_counter() - t0
        return out

    def on_rank0(self, measure) -> dict:
        return self.placement.world.on_rank0(measure, lambda: self.placement.inference(self.policy.module))

    def evaluate_on_rank0(self) -> dict:
        """``evaluate`` on rank 0, ``{}`` elsewhere; every process calls it."""
        return self.on_rank0(self.evaluate)

    def before_step(self) -> None:
        """Before the first update: the drift probe's step-0 reference (a resumed run restores it)."""
        if self.drift is not None and not self.drift_started:
            self.measure_drift()

    def after_step(self, step: int, last: bool) -> dict:
        """After ``step`` steps (``last``: the run ends here): what is scheduled now (see the module docstring)."""
        metrics = {}
        if last or (self.cfg.eval_every and step % self.cfg.eval_every == 0):
            metrics.update(self.evaluate_on_rank0())
        if self.drift is not None and (last or step % self.cfg.drift_every == 0):
            metrics.update(self.measure_drift())
        return metrics

    def measure_drift(self) -> dict:
        """``drift/*`` on rank 0 ({} elsewhere); the first call fixes the reference answers."""
        self.drift_started = True
        return self.on_rank0(lambda: self.drift.measure(self.policy))

    def state(self) -> dict:
        """What a checkpoint keeps: the drift probe's step-0 reference, once measured."""
        if self.drift is None or self.drift.reference is None:
            return {}
        return {"drift_reference": self.drift.reference_state()}

    def load_state(self, state: dict) -> None:
        if self.drift is not None and "drift_reference" in state:
            self.drift.load_reference_state(state["drift_reference"])
            self.drift_started = True
