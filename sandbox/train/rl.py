"""The RL trainer: one loop for every reward variant.

    for step s:                                                       (``Trainer.train_step``)
        every reference_sync_every steps the lagged reference becomes a copy of the policy
        batch     ← collect: the next P problems of the stream (``problem_stream``: the variant's
                    problem filter screens it and excludes some), G rollouts of each keyed by
                    (seed, s, problem, rollout), r [B,T] ← Σ_k w_k · source_k(rollouts), keep [B]
                    ← ∧ filters(rollouts, r) (a refinement piece first adds critique-guided
                    refinements of the failed rows to their groups: Critique-GRPO); refilling
                    variants draw again until P groups are
                    kept (``collect``). A row's verdict (the task's verifier) is computed only
                    if a piece or a metric reads it
        H         ← the kept rows' response-token hidden states (one no-grad forward), when the
                    effective-rank diagnostic is on or the estimator reads them (``rank_diagnostics``)
        A [B,T]   ← estimator(r, mask, group, step_ids, **inputs of the auxiliary models)
        PPO-clip epochs over keyed minibatches of the kept rows (``ppo``, ``policy_loss``)
        auxiliary models learn (a critic's value loss); they also observe each draw before its
        rewards (an implicit PRM's update) -- ``Variant.auxiliaries``, ``sandbox.rewards.auxiliary``;
        the trainer takes their updates (``auxiliary_updates``)
        log (diag/effective_rank* beside loss/entropy); every N steps: greedy and process-verified accuracy (per length too), the pass@k
        curve on held-out problems and the drift probe (``measurements``)

The variant (``sandbox.rewards.registry``) is the only place a reward scheme appears: the loop
never special-cases one. Metrics go to ``metrics.jsonl`` and TensorBoard under fixed names.
Several processes (``torchrun``) and FSDP change nothing here: their collectives sit behind
``World`` (``distributed``), whose methods are no-ops for one process.
"""

from __future__ import annotations

import time
from dataclasses import asdict

import torch

from sandbox.errors import require_finite
from sandbox.eval.accuracy import default_max_new_tokens
from sandbox.model.sampler import SamplingConfig
from sandbox.rewards.base import RewardContext
from sandbox.rewards.registry import (
    ESTIMATOR_EXTRAS,
    build_auxiliaries,
    build_distillation,
    build_refinement,
    compute_advantages,
    get_variant,
)
from sandbox.rollout.rollouts import Rollouts
from sandbox.train import accel
from sandbox.train.auxiliary_updates import AuxiliaryUpdates
from sandbox.train.collect import Collected, Collector
from sandbox.train.cost import CostMeter
from sandbox.train.distributed import Placement, current_world
from sandbox.train.interrupts import graceful_stop
from sandbox.train.measurements import Measurements
from sandbox.train.ppo import PPOUpdate
from sandbox.train.progress import progress_bar
from sandbox.train.rank_diagnostics import HIDDEN_STATES, EffectiveRankLog, hidden_states_of_parts, response_hidden_states
from sandbox.train.reward_models import load_reward_models
from sandbox.train.rl_config import LARGE_UPDATE, RLConfig, check_task_size, check_trainer_setup
from sandbox.train.run_dir import ModuleCompanion, RunDir
from toy_envs.pool import with_train_pool

__all__ = ["LARGE_UPDATE", "RLConfig", "TIMING_METRICS", "Trainer", "check_task_size", "deterministic"]
"""The RL trainer's public names; the settings live in ``sandbox.train.rl_config``."""

TIMING_METRICS = ("rollout/tokens_per_s", "time/")
"""Metric names (prefixes) that measure wall-clock time; everything else is deterministic."""


def deterministic(metrics: dict) -> dict:
    """The metrics that must repeat exactly for the same seed and thread count."""
    return {k: v for k, v in metrics.items() if not k.startswith(TIMING_METRICS)}


class Trainer:
    """Holds the policy, optimizer and stream position of one run; ``train()`` runs it."""

    def __init__(self, cfg: RLConfig, task, policy, run_dir: RunDir | None = None, reference=None):
        cfg.validate()
        check_task_size(cfg, task)
        self.cfg, self.task, self.policy, self.run, self.reference = cfg, task, policy, run_dir, reference
        self.variant = get_variant(cfg.variant)
        self.max_new_tokens = cfg.max_new_tokens or default_max_new_tokens(task)
        self.loss_cfg = self.cfg.loss_config(self.max_new_tokens)
        self.loss_cfg.validate()
        self.sampling = SamplingConfig(max_new_tokens=self.max_new_tokens, temperature=cfg.temperature, top_p=cfg.top_p)
        self.world = current_world(cfg.fsdp)
        """This process among the data-parallel ones, and their collectives (``sandbox.train.distributed``); one by default."""
        check_trainer_setup(cfg, self.loss_cfg, reference is not None, self.world)
        self.placement = Placement(self.world, accel.resolve_device(cfg.device), cfg.precision)
        """Where the models live and compute (``sandbox.train.accel``)."""
        for p in (policy, reference):
            if p is not None:
                p.module.to(self.placement.device)
        self.cost = CostMeter(sum(p.numel() for p in policy.module.parameters()), cfg.ppo_epochs)
        """The run's cumulative ``cost/*`` metrics (``sandbox.train.cost``), counted before FSDP shards the policy."""
        if cfg.gradient_checkpointing:
            accel.enable_gradient_checkpointing(policy.module)
        self.world.shard_policy(policy.module, self.placement.device)
        self.distillation = build_distillation(self.variant)
        """The variant's distillation term (``Variant.distillation``: SDPO's self-teacher), or ``None``."""
        self.refinement = build_refinement(self.variant)
        """The variant's refinement piece (``Variant.refinement``: Critique-GRPO's refinements), or ``None``:
        the collector adds its rows, the update gives them its loss."""
        self.ppo = PPOUpdate(cfg, self.loss_cfg, policy, reference, self.placement, self.distillation, self.refinement)
        """The PPO update (with the distillation term) and the policy's optimizer (``sandbox.train.ppo``)."""
        self.optimizer, self.scaler = self.ppo.optimizer, self.ppo.scaler
        self.auxiliaries = build_auxiliaries(self.variant, policy, task, cfg.seed)
        for model in self.auxiliaries.values():
            if hasattr(model, "to"):
                model.to(self.placement.device)
        """The variant's auxiliary models (``Variant.auxiliaries``: a critic, an implicit PRM) by name."""
        self.auxiliary_updates = AuxiliaryUpdates(self.auxiliaries)
        """Their optimizers; takes the updates they ask for (``sandbox.train.auxiliary_updates``)."""
        self.reward_models = load_reward_models(self.variant, cfg.prm)
        """The trained models the variant's sources score with (``Variant.models``), by RewardContext field."""
        self.step = 0
        self.history: list[dict] = []
        self.collector = Collector(cfg, self.variant, policy, with_train_pool(task, cfg.train_problems), self.sampling,
                                   self.auxiliary_updates, self.placement, self.refinement)
        """Samples, rewards and filters the step's batch from its problem stream (``sandbox.train.collect``)."""
        self.stream = self.collector.stream
        self.measurements = Measurements(cfg, policy, task, self.sampling, self.max_new_tokens, self.placement)
        """Held-out evaluation and the drift probe on their schedules (``sandbox.train.measurements``)."""
        self.estimator_reads_hidden_states = HIDDEN_STATES in ESTIMATOR_EXTRAS.get(self.variant.estimator, ())
        """The variant's estimator reads the kept rows' hidden states (``Rollouts.extras["hidden_states"]``)."""
        self.rank_log = EffectiveRankLog() if cfg.effective_rank and not cfg.fsdp else None
        """The ``diag/effective_rank*`` metrics (``sandbox.train.rank_diagnostics``); off under FSDP."""

    # ---- one step -------------------------------------------------------------------------
    def train_step(self) -> dict:
        """One step; returns its metrics. The lagged reference catches up (every
        ``reference_sync_every`` steps); the step's batch is collected; if any group was kept, its
        advantages drive the PPO update and the auxiliary models learn; evaluation and the drift
        probe run on their schedules."""
        t_start = time.perf_counter()
        self.sync_reference()
        self.measurements.before_step()  # the drift probe's step-0 reference
        batch = self.collect()
        metrics = {"step": self.step, **batch.metrics(self.world, self.variant.uses_verifier), **self.stream.take_log()}
        if self.cfg.gold_prefix_steps:
            metrics["curriculum/gold_steps"] = self.cfg.gold_steps_at(self.step)
        if batch.kept_groups:
            metrics.update(self.learn(batch))
        kept_tokens, *watched = self.world.sum([self.kept_tokens(batch), *self.cost.take_pending()])
        metrics.update(self.cost.add(metrics["rollout/generated_tokens"], kept_tokens, watched))
        self.step += 1
        metrics.update(self.measurements.after_step(self.step, last=self.finished()))
        metrics["time/step_s"] = time.perf_counter() - t_start
        return metrics

    def kept_tokens(self, batch: Collected) -> int:
        """Prompt + response tokens of the rows the update trains on (this process's)."""
        return 0 if batch.rollouts is None or not batch.kept_groups else int((batch.rollouts.prompt_lens + batch.rollouts.response_lens).sum())

    def other_models(self) -> list:
        """Every model besides the policy that a step may run (``cost/aux_forward_tokens``): the
        reference, the trained models the sources score with, the auxiliary models' modules."""
        modules = [getattr(self.reference, "module", None), *self.reward_models.values()]
        for auxiliary in self.auxiliaries.values():
            modules += [v for v in vars(auxiliary).values() if isinstance(v, torch.nn.Module)]
        return [m for m in modules if isinstance(m, torch.nn.Module) and m is not self.policy.module]

    def finished(self) -> bool:
        """``steps`` done, or the generated-token budget (``max_generated_tokens``) reached."""
        budget = self.cfg.max_generated_tokens
        return self.step >= self.cfg.steps or (budget > 0 and self.cost.totals["generated_tokens"] >= budget)

    def sync_reference(self) -> None:
        """The reference becomes a copy of the policy every ``reference_sync_every`` steps (not at step 0)."""
        if self.cfg.reference_sync_every and self.step and self.step % self.cfg.reference_sync_every == 0:
            self.reference.module.load_state_dict(self.world.full_state_dict(self.policy.module))

    def reward_context(self) -> RewardContext:
        """What the variant's reward pieces may consult this step besides the rollouts: the models
        the trainer loaded for them (``Variant.models``) and the auxiliary models among them."""
        return RewardContext(task=self.task, seed=self.cfg.seed, step=self.step, max_new_tokens=self.max_new_tokens, policy=self.policy,
                             reference=self.reference, auxiliaries=self.auxiliaries, **self.reward_models)

    def collect(self) -> Collected:
        """Sample, reward and filter until P groups are kept (refilling variants) or once."""
        with self.cost.watching([self.policy.module], "policy_collect_tokens"):
            return self.collector(self.step, self.reward_context())

    def learn(self, batch: Collected) -> dict:
        """The kept rows' advantages, the PPO update on them, the auxiliary models' own update.
        A process that kept no rows (``batch.rollouts`` is ``None``) still joins every collective."""
        t0 = time.perf_counter()
        rollouts, rewards, inputs, advantages, teacher = batch.rollouts, batch.rewards, {}, None, None
        hidden = None
        # the diagnostic reads the update's own forward where that sees every row before stepping
        from_update = self.rank_log is not None and not self.estimator_reads_hidden_states and self.ppo.first_pass_sees_every_row
        if rollouts is not None and (self.estimator_reads_hidden_states or (self.rank_log is not None and not from_update)):
            hidden = response_hidden_states(self.policy, rollouts, self.placement.device, self.cfg.precision)
            if self.estimator_reads_hidden_states:
                rollouts.extras[HIDDEN_STATES] = hidden
        if rollouts is not None:
            for model in self.auxiliaries.values():  # e.g. a critic's values for GAE
                inputs.update(model.estimator_inputs(rollouts))
            advantages = compute_advantages(self.variant, rollouts, rewards, inputs)
            if self.distillation is not None:  # the teacher's rows: feedback from the whole group
                teacher = self.distillation.teacher_inputs(rollouts, self.task, self.policy.tokenizer)
        metrics = {"rollout/advantage_abs_mean": self.advantage_abs_mean(rollouts, advantages)}
        parts = [] if from_update and rollouts is not None else None
        update = self.ppo(rollouts, advantages, self.step, self.where(), teacher, parts)
        if parts:
            hidden = hidden_states_of_parts(parts, rollouts)
        if self.rank_log is not None:
            metrics.update(self.rank_log.metrics(hidden, None if rollouts is None else rollouts.response_mask, self.world))
        metrics.update(update)
        if rollouts is not None:  # e.g. the critic's value loss
            metrics.update(self.auxiliary_updates.learn(rollouts, rewards, advantages, inputs, self.step))
        metrics["time/update_s"] = time.perf_counter() - t0
        return metrics

    def advantage_abs_mean(self, rollouts: Rollouts | None, advantages: torch.Tensor | None) -> float:
        """Mean |A| over every process's response tokens; a NaN or inf anywhere in any process's
        advantages makes the sum non-finite on all of them, and each stops with the same error."""
        abs_sum, token_count = 0.0, 0.0
        if rollouts is not None:
            abs_sum, token_count = float((advantages.abs() * rollouts.response_mask).sum()), float(rollouts.response_mask.sum())
        abs_sum, token_count = self.world.sum([abs_sum, token_count])
        require_finite(abs_sum, self.where(), f"the absolute sum of the advantages of estimator {self.variant.estimator!r}")
        return abs_sum / token_count

    def evaluate(self) -> dict:
        """Held-out accuracy and the pass@k curve now (``Measurements.evaluate``)."""
        return self.measurements.evaluate()

    def evaluate_on_rank0(self) -> dict:
        """``evaluate`` on rank 0, ``{}`` on the other processes; every process calls it."""
        return self.measurements.evaluate_on_rank0()

    # ---- the run --------------------------------------------------------------------------
    def state(self) -> dict:
        ranks = {} if self.rank_log is None else self.rank_log.state()
        return {"step": self.step, **self.stream.state(), **self.cost.state(), "config": asdict(self.cfg), **self.measurements.state(), **ranks}

    def companions(self) -> dict:
        """What a checkpoint must hold besides the policy to resume exactly, by directory name:
        the lagged reference and the variant's auxiliary models (each with ``save``/``load``)."""
        out = {"reference": ModuleCompanion(self.reference.module)} if self.cfg.reference_sync_every else {}
        return out | self.auxiliary_updates.companions()

    def save_checkpoint(self) -> None:
        """Rank 0 writes a checkpoint into the run directory. Every process calls it: under FSDP
        gathering the full weights is a collective, and the checkpoint holds the weights and the
        stream position but not the sharded AdamW state (such a run is not resumable)."""
        module, optimizer = self.world.checkpoint_parts(self.policy.module, self.optimizer)
        if self.run is not None:
            self.run.save_checkpoint(self.step, module, self.state(), optimizer, self.companions())

    def load_state(self, state: dict) -> None:
        self.step = state["step"]
        self.stream.load_state(state)
        self.cost.load_state(state)
        self.measurements.load_state(state)
        if self.rank_log is not None:
            self.rank_log.load_state(state)

    def where(self) -> str:
        """The variant and step, as the finite checks name them."""
        return f"variant {self.cfg.variant!r}, step {self.step}"

    def record(self, metrics: dict, bar) -> None:
        """Keep a step's metrics, log them to the run directory, show the main ones on the bar."""
        self.history.append(metrics)
        if self.run is not None:
            self.run.log(metrics)
        bar.update(1)
        shown = {"acc": metrics.get("rollout/accuracy"), "reward": metrics["rollout/reward_mean"], "kept": metrics["rollout/kept_fraction"]}
        bar.set_postfix({k: f"{v:.2f}" for k, v in shown.items() if v is not None})

    def train(self) -> list[dict]:
        """Run to ``cfg.steps`` (or the generated-token budget); returns this call's metrics. Ctrl-C
        or SIGTERM let the step under way finish, write its checkpoint and raise ``KeyboardInterrupt``; a second one stops at
        once without a checkpoint of the unfinished step (``sandbox.train.interrupts``)."""
        bar = progress_bar(self.cfg.progress, total=self.cfg.steps, initial=self.step, desc=f"rl {self.cfg.variant}")
        last_saved = self.step
        with graceful_stop("rl run") as stop, self.cost.watching(self.other_models(), "aux_forward_tokens"):
            try:  # a stop on any process stops all of them at the same step boundary
                while not self.finished() and not self.world.any(stop.requested is not None):
                    self.record(self.train_step(), bar)
                    if self.cfg.checkpoint_every and self.step % self.cfg.checkpoint_every == 0:
                        self.save_checkpoint()
                        last_saved = self.step
            except KeyboardInterrupt:
                if self.run is not None:
                    self.run.note_stop(f"stopped during step {self.step}: no checkpoint of an unfinished step is written")
                raise
            finally:
                bar.close()
            if self.step != last_saved:
                self.save_checkpoint()
            if not self.finished():
                if self.run is not None:
                    self.run.note_stop(f"{stop.requested or 'stop requested'}: stopped before step {self.step}")
                raise KeyboardInterrupt(f"stopped at step {self.step} of {self.cfg.steps}")
        return self.history
