"""The RL loop: one trainer for every reward variant.

    for step s:
        problems  ← the next P train problems of the stream, skipping those the variant's
                    problem filter excluded (it screens the stream's next window when reached)
        rollouts  ← G samples of each (keyed by seed, s, problem, rollout); each row's verdict
                    (the task's verifier) is computed only if a piece or a metric reads it
        r [B,T]   ← Σ_k w_k · source_k(rollouts)            (the variant's reward sources)
        keep [B]  ← ∧ filters(rollouts, r)                  (rejected rows removed here)
                    refill: draw fresh problems (the missing count over the keep rate) until
                    P groups are kept, at most max_draws draws
        A [B,T]   ← estimator(r, mask, group, step_ids, **inputs of the auxiliary models)
        for epoch in 1..E, for each minibatch: PPO-clip step on A (``sandbox.train.ppo``)
        auxiliary models learn (a critic's value loss); they also observe each draw before its
        rewards (an implicit PRM's update) -- ``Variant.auxiliaries``, ``sandbox.rewards.auxiliary``
        log; every N steps: greedy and process-verified accuracy (per length too) and the
        pass@k curve on held-out problems (``sandbox.eval``)

The variant (``sandbox.rewards.registry``) is the only place a reward scheme appears: the loop
never special-cases one. Metrics go to ``metrics.jsonl`` and TensorBoard under fixed names.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from tqdm import tqdm

from sandbox.config import check_finite_fields
from sandbox.errors import require_finite
from sandbox.eval.accuracy import default_max_new_tokens, evaluate_accuracy
from sandbox.eval.pass_at_k import evaluate_pass_curve
from sandbox.model.sampler import SamplingConfig
from sandbox.rewards.base import RewardContext
from sandbox.rewards.registry import build_auxiliaries, check_variant_options, compute_advantages, get_variant
from sandbox.rollout.rollouts import Rollouts
from sandbox.train import accel
from sandbox.train.collect import Collected, Collector
from sandbox.train.distributed import current_world
from sandbox.train.drift import DriftProbe
from sandbox.train.interrupts import GracefulStop, graceful_stop
from sandbox.train.policy_loss import LossConfig
from sandbox.train.ppo import PPOUpdate
from sandbox.train.problem_stream import ProblemStream
from sandbox.train.reward_models import check_reward_models, load_reward_models
from sandbox.train.run_dir import ModuleCompanion, RunDir
from sandbox.train.toolkit import learning_rate
from toy_envs.base import check

TIMING_METRICS = ("rollout/tokens_per_s", "time/")
"""Metric names (prefixes) that measure wall-clock time; everything else is deterministic."""

LARGE_UPDATE = {"lr": 5e-5, "problems_per_step": 16, "minibatches": 2, "adam_eps": 1e-8}
"""The update of the defaults before the drift sweep (README, 'RL defaults: drift, controls and a
sweep'): Adam-normalised steps of ~lr on two minibatches of 16 problems. From the clean 'tiny' warm
start it moves greedy accuracy about as far under the random reward as under the outcome reward;
short learning tests and tutorials that start from 'tiny-noisy', whose answer-line flaw gives a large
outcome signal, were measured with it and pin it."""


@dataclass
class RLConfig:
    variant: str = "outcome-grpo"
    """Reward variant (``reward-sandbox variants`` lists them)."""
    seed: int = 0
    """Keys every random draw: sampling, spurious rewards, minibatch order."""
    steps: int = 40
    """RL steps."""
    problems_per_step: int = 32
    """Problems (groups) per step, P."""
    group_size: int = 8
    """Rollouts per problem, G."""
    temperature: float = 1.0
    """Sampling temperature of the rollouts."""
    top_p: float = 1.0
    """Nucleus mass of the rollouts."""
    max_new_tokens: int = 0
    """Response budget in tokens; 0 = the task's longest gold solution + 16 (+ the task's
    ``reasoning_room`` where its gold solution has no reasoning lines: reasoning-gym)."""
    lr: float = 1e-5
    """AdamW learning rate (after warm-up)."""
    warmup_steps: int = 10
    """Linear learning-rate warm-up steps: Adam's first steps, before its second-moment estimates
    settle, are sign-like and move every weight by ~lr, which a freshly fine-tuned model does not survive."""
    adam_betas: str = "0.9,0.99"
    """AdamW (β1, β2)."""
    adam_eps: float = 1e-3
    """AdamW ε, added to √v̂. Above the per-weight gradient scale (about 5e-4 here) the update is SGD's,
    lr/ε · m̂, whose undirected part shrinks as the batch grows; at 1e-8 Adam moves every weight by
    ~lr whatever the signal, and the random reward drifts as far as the outcome reward gains (README)."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    init_optimizer_state: bool = False
    """Start AdamW from the SFT optimizer state saved with the warm start (``init``: a preset or a
    ``reward-sandbox sft`` checkpoint): first and second moments and step count per parameter, matched
    by name, under RL's own lr, betas, eps and weight decay. The step count carries on from SFT's
    (300 for 'tiny'), so the bias corrections 1 − β^t start near 1 instead of at a first step's."""
    ppo_epochs: int = 1
    """Passes over each batch."""
    minibatches: int = 1
    """Optimizer steps per epoch (the batch's rows are split evenly)."""
    grad_clip: float = 1.0
    """Max global gradient norm."""
    clip_low: float = -1.0
    """ε_low; negative = the variant's value (default 0.2)."""
    clip_high: float = -1.0
    """ε_high; negative = the variant's value (default 0.2)."""
    aggregation: str = ""
    """Loss aggregation; empty = the variant's (token-mean, seq-mean-token-mean, seq-mean-token-sum-norm)."""
    kl_coef: float = -1.0
    """β of the KL penalty to the initial model; negative = the variant's value (default 0)."""
    max_draws: int = 8
    """Refilling variants: most draws per step (the first of P problems, refills sized by the keep rate) before a clear error."""
    eval_every: int = 10
    """Evaluate every this many steps (and at the end); 0 = only at the end."""
    eval_problems: int = 256
    """Held-out problems for greedy accuracy."""
    pass_k: int = 4
    """Largest k of the logged pass@k curve: pass_k samples per held-out problem at the rollout
    temperature give pass@k and process_pass@k for k = 1, 2, 4, ... and pass_k (up to 64 and beyond)."""
    pass_problems: int = 64
    """Held-out problems for the pass@k curve (0 disables it)."""
    drift_every: int = 10
    """Measure ``drift/*`` (``sandbox.train.drift``: greedy answers flipped since step 0, gold
    log-likelihood) on a fixed probe set every this many steps and at the end; 0 disables it."""
    drift_problems: int = 64
    """Held-out probe problems of the drift diagnostic."""
    reference_sync_every: int = 0
    """Copy the policy into the reference policy every this many steps, making it a lagged copy
    (0: the reference stays frozen). KL penalties and reference-scored rewards (DRO) read it."""
    checkpoint_every: int = 0
    """Write a checkpoint every this many steps (0: only at the end and on Ctrl-C)."""
    init: str = "tiny"
    """Initial policy: a warm-start preset name, a checkpoint directory, or hf:<dir> (a local Hugging Face model directory)."""
    prm: str = ""
    """The trained model for variants whose reward sources score with one (``Variant.models``: a PRM for
    ``prm-mc``, ``prm-rpe``, ``sprm``, a judge for ``thinkprm``): a recipe name (trained once and cached) or a
    checkpoint directory; empty = the variant's default. The trainer loads it once and passes it to the
    sources (``RewardContext.prm`` / ``.judge``; ``sandbox.train.reward_models``)."""
    progress: bool = True
    """Show a progress bar."""
    device: str = "cpu"
    """Where the models compute: cpu, cuda, cuda:<i> or auto (cuda if available); rollout bookkeeping stays on the CPU (``sandbox.train.accel``)."""
    precision: str = "fp32"
    """fp32, bf16 or fp16 autocast for the forward passes (fp32 master weights; fp16 adds loss scaling)."""
    gradient_checkpointing: bool = False
    """Recompute each transformer block's activations in the backward pass (tiny and transformers models)."""
    fsdp: bool = False
    """Shard the policy with FSDP2 per transformer block (under torchrun; sampling runs on gathered weights)."""

    def validate(self) -> None:
        check_finite_fields(self)
        check_variant_options(get_variant(self.variant), self.group_size)
        check_reward_models(get_variant(self.variant), self.prm)
        for name in ("steps", "problems_per_step", "group_size", "ppo_epochs", "minibatches", "max_draws", "pass_k"):
            check(getattr(self, name) >= 1, name, "an integer >= 1", getattr(self, name))
        check(len(self.betas()) == 2 and all(0 <= b < 1 for b in self.betas()), "adam_betas", "two numbers in [0, 1), e.g. 0.9,0.99", self.adam_betas)
        for name in ("warmup_steps", "max_new_tokens", "eval_every", "eval_problems", "pass_problems", "drift_every", "drift_problems", "checkpoint_every", "reference_sync_every"):
            check(getattr(self, name) >= 0, name, "an integer >= 0", getattr(self, name))
        check(self.temperature > 0, "temperature", "> 0 (RL samples)", self.temperature)
        check(0 < self.top_p <= 1, "top_p", "in (0, 1]", self.top_p)
        check(self.lr > 0, "lr", "> 0", self.lr)
        check(self.weight_decay >= 0, "weight_decay", ">= 0", self.weight_decay)
        check(self.adam_eps > 0, "adam_eps", "> 0", self.adam_eps)
        check(self.grad_clip > 0, "grad_clip", "> 0", self.grad_clip)
        check(self.minibatches <= self.problems_per_step * self.group_size, "minibatches", "<= P·G", self.minibatches)
        if self.init_optimizer_state:
            check(not self.fsdp, "init_optimizer_state", "False with fsdp (the saved state is not sharded)", self.init_optimizer_state)
            check_init_optimizer_state(self.init)
        self.loss_config(64).validate()
        accel.check_device(self.device)
        accel.check_precision(self.precision)

    def betas(self) -> tuple[float, ...]:
        try:
            return tuple(float(b) for b in self.adam_betas.split(","))
        except ValueError:
            return ()

    def lr_at(self, step: int) -> float:
        """Linear warm-up over ``warmup_steps``, then constant ``lr`` (``toolkit.learning_rate``)."""
        return learning_rate(step, self.lr, self.warmup_steps)

    def loss_config(self, max_new_tokens: int) -> LossConfig:
        """Defaults ← the variant's loss overrides ← this config's explicit values."""
        cfg = LossConfig(length_norm=max_new_tokens)
        cfg = replace(cfg, **get_variant(self.variant).loss)
        explicit = {
            "clip_low": self.clip_low if self.clip_low >= 0 else None,
            "clip_high": self.clip_high if self.clip_high >= 0 else None,
            "aggregation": self.aggregation or None,
            "kl_coef": self.kl_coef if self.kl_coef >= 0 else None,
        }
        return replace(cfg, **{k: v for k, v in explicit.items() if v is not None})


def check_init_optimizer_state(init: str) -> None:
    """``ConfigError`` unless ``init`` names a warm start that holds an SFT optimizer state keyed by
    parameter name: a preset (every preset build saves it) or a checkpoint directory saved with it
    (``reward-sandbox sft``); reads ``state.json`` only. A path that is no directory is left to the
    init's own error."""
    from sandbox.model.checkpoint import has_named_optimizer_state
    from sandbox.train.warmstart import PRESETS

    allowed = "True only with an init that saved its SFT optimizer state (a warm-start preset or a `reward-sandbox sft` checkpoint); "
    if init.startswith("hf:"):
        check(False, "init_optimizer_state", allowed + f"init={init!r} is a Hugging Face model directory, which holds none", True)
    if init not in PRESETS and Path(init).is_dir():
        check(has_named_optimizer_state(init), "init_optimizer_state", allowed + f"init={init!r} holds none keyed by parameter "
              "name (an RL checkpoint, or a warm start written before SFT checkpoints kept their optimizer state)", True)


def init_optimizer_path(init: str) -> Path:
    """The checkpoint directory whose saved SFT optimizer state ``init_optimizer_state`` loads."""
    from sandbox.train.warmstart import PRESETS, warmstart

    return warmstart(init) if init in PRESETS else Path(init)


def load_sft_optimizer_state(optimizer: torch.optim.Optimizer, model: torch.nn.Module, path: Path) -> None:
    """Fill ``optimizer`` (an AdamW over ``model``'s parameters, no state yet) with the moments and
    step counts saved by name at ``path``; its own hyper-parameters are kept. A parameter the saved
    state lacks or holds with another shape is a ``ConfigError``."""
    from sandbox.model.checkpoint import load_named_optimizer_state

    saved, _ = load_named_optimizer_state(path)
    names = {id(p): n for n, p in model.named_parameters()}
    for group in optimizer.param_groups:
        for param in group["params"]:
            name = names[id(param)]
            entry = saved.get(name, {})
            ok = {"exp_avg", "exp_avg_sq", "step"} <= set(entry) and entry["exp_avg"].shape == param.shape
            check(ok, "init_optimizer_state", f"True only with a saved state that matches the model; {path} lacks "
                  f"parameter {name} {tuple(param.shape)} or holds it with another shape", True)
            optimizer.state[param] = {
                "step": torch.as_tensor(entry["step"], dtype=torch.float32).clone(),  # AdamW keeps it on the CPU
                "exp_avg": entry["exp_avg"].to(param.device, param.dtype).clone(),
                "exp_avg_sq": entry["exp_avg_sq"].to(param.device, param.dtype).clone(),
            }


def train_problems_needed(cfg: RLConfig) -> int:
    """The most train problems a run reads when its problem filter excludes none: P per step, or
    for a refilling variant at most P per draw and ``max_draws`` draws per step; a problem filter
    screens whole windows of ``problem_filter_every``·P problems."""
    variant = get_variant(cfg.variant)
    needed = cfg.steps * cfg.problems_per_step * (cfg.max_draws if variant.refill else 1)
    if variant.problem_filter:
        window = variant.problem_filter_every * cfg.problems_per_step
        needed = math.ceil(needed / window) * window
    return needed


def check_task_size(cfg: RLConfig, task) -> None:
    """``ConfigError`` naming ``task_size`` when a task with a finite problem set (a ``size``, as
    reasoning-gym's) has fewer train problems than the run can draw, or fewer held-out problems
    than it evaluates on; called before anything is written or computed."""
    size = getattr(task, "size", None)
    if size is None:
        return
    needed = train_problems_needed(cfg)
    refill = f" x max_draws {cfg.max_draws} (variant {cfg.variant!r} refills)" if get_variant(cfg.variant).refill else ""
    check(size >= needed, "task_size",
          f"at least the {needed} train problems the run can draw (steps {cfg.steps} x problems_per_step "
          f"{cfg.problems_per_step}{refill}); raise task_size or lower those", size)
    held_out = max(cfg.eval_problems, cfg.pass_problems)
    check(size >= held_out, "task_size",
          f"at least the {held_out} held-out problems the run evaluates on (eval_problems {cfg.eval_problems}, "
          f"pass_problems {cfg.pass_problems}); raise task_size or lower those", size)


def deterministic(metrics: dict) -> dict:
    """The metrics that must repeat exactly for the same seed and thread count."""
    return {k: v for k, v in metrics.items() if not k.startswith(TIMING_METRICS)}


class Trainer:
    """Holds the policy, optimizer and stream position of one run; ``train()`` runs it."""

    def __init__(self, cfg: RLConfig, task, policy, run_dir: RunDir | None = None, reference=None):
        cfg.validate()
        check_task_size(cfg, task)
        self.cfg, self.task, self.policy, self.run = cfg, task, policy, run_dir
        self.variant = get_variant(cfg.variant)
        self.max_new_tokens = cfg.max_new_tokens or default_max_new_tokens(task)
        self.loss_cfg = self.cfg.loss_config(self.max_new_tokens)
        self.loss_cfg.validate()
        self.sampling = SamplingConfig(max_new_tokens=self.max_new_tokens, temperature=cfg.temperature, top_p=cfg.top_p)
        self.reference = reference
        if self.loss_cfg.kl_coef > 0 and reference is None:
            raise ValueError(f"variant {cfg.variant!r} with kl_coef > 0 needs a reference policy")
        if cfg.reference_sync_every and reference is None:
            raise ValueError(f"reference_sync_every={cfg.reference_sync_every} needs a reference policy to keep in sync")
        self.world = current_world(cfg.fsdp)
        """This process among the data-parallel ones, and their collectives (``sandbox.train.distributed``); one by default."""
        check(not cfg.fsdp or self.world.active, "fsdp", "False in a single process (FSDP shards over torchrun's processes)", cfg.fsdp)
        self.device = accel.resolve_device(cfg.device)
        """Where the models live and compute (``sandbox.train.accel``)."""
        for p in (policy, reference):
            if p is not None:
                p.module.to(self.device)
        if cfg.gradient_checkpointing:
            accel.enable_gradient_checkpointing(policy.module)
        self.world.shard_policy(policy.module, self.device)
        self.optimizer = torch.optim.AdamW(
            policy.module.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=cfg.betas(), eps=cfg.adam_eps
        )
        if cfg.init_optimizer_state:  # before any compute; a resumed run replaces it with its checkpoint's
            load_sft_optimizer_state(self.optimizer, policy.module, init_optimizer_path(cfg.init))
        self.scaler = accel.grad_scaler(self.device, cfg.precision)
        """fp16 loss scaling (a pass-through otherwise)."""
        self.ppo = PPOUpdate(cfg, self.loss_cfg, policy, reference, self.optimizer, self.scaler, self.world, self.device)
        """The PPO update (``sandbox.train.ppo``)."""
        check(cfg.problems_per_step >= self.world.size, "problems_per_step", f">= the number of processes ({self.world.size})", cfg.problems_per_step)
        check(not (self.variant.auxiliaries and self.world.active), "variant", "a variant without auxiliary models under data parallelism", cfg.variant)
        self.auxiliaries = build_auxiliaries(self.variant, policy, task, cfg.seed)
        for model in self.auxiliaries.values():
            if hasattr(model, "to"):
                model.to(self.device)
        """The variant's auxiliary models (``Variant.auxiliaries``: a critic, an implicit PRM) by name."""
        self.reward_models = load_reward_models(self.variant, cfg.prm)
        """The trained models the variant's sources score with (``Variant.models``), by RewardContext field."""
        self.step = 0
        self.history: list[dict] = []
        self.stream = ProblemStream(task, bool(self.variant.problem_filter), self.variant.problem_filter_every * cfg.problems_per_step)
        """The train problems, less those the variant's problem filter excluded (``sandbox.train.problem_stream``)."""
        self.collector = Collector(cfg, self.variant, policy, task, self.sampling, self.stream, self.auxiliaries, self.world, self.inference)
        """Samples, rewards and filters the step's batch (``sandbox.train.collect``)."""
        self.drift = DriftProbe(task, cfg.drift_problems, self.max_new_tokens) if cfg.drift_every and cfg.drift_problems else None
        """The drift diagnostic; its step-0 answers and gold log-likelihood are measured before the first update."""
        self.drift_started = False

    # ---- one step -------------------------------------------------------------------------
    def reward_context(self) -> RewardContext:
        """What the variant's reward pieces may consult this step besides the rollouts: the models
        the trainer loaded for them (``Variant.models``) and the auxiliary models among them."""
        return RewardContext(task=self.task, seed=self.cfg.seed, step=self.step, max_new_tokens=self.max_new_tokens, policy=self.policy,
                             reference=self.reference, auxiliaries=self.auxiliaries, **self.reward_models)

    def collect(self) -> Collected:
        """Sample, reward and filter until P groups are kept (refilling variants) or once."""
        return self.collector(self.step, self.reward_context())

    def inference(self):
        """Forward passes outside the loss: autocast at the configured precision; under FSDP on
        weights gathered once per call (``World.full_weights``), so ranks need not run in step."""
        stack = contextlib.ExitStack()
        stack.enter_context(self.world.full_weights(self.policy.module))
        stack.enter_context(accel.autocast(self.device, self.cfg.precision))
        return stack

    def evaluate(self) -> dict:
        t0 = time.perf_counter()
        out = {}
        if self.cfg.eval_problems:
            acc = evaluate_accuracy(self.policy, self.task, self.policy.tokenizer, self.cfg.eval_problems, self.max_new_tokens)
            out.update(acc)
        if self.cfg.pass_problems:
            out.update(evaluate_pass_curve(self.policy, self.task, self.cfg.pass_k, self.cfg.pass_problems, self.sampling, self.cfg.seed))
        out["time/eval_s"] = time.perf_counter() - t0
        return out

    def evaluate_on_rank0(self) -> dict:
        """Every process calls this; rank 0 evaluates and returns the metrics, the others ``{}``
        (under FSDP all of them gather the weights first)."""
        return self.world.on_rank0(self.evaluate, self.inference)

    def train_step(self) -> dict:
        """One step; returns its metrics. The lagged reference catches up (every
        ``reference_sync_every`` steps); the step's batch is collected; if any group was kept, its
        advantages drive the PPO update and the auxiliary models learn; evaluation and the drift
        probe run on their schedules."""
        t_start = time.perf_counter()
        self.sync_reference()
        if self.drift is not None and not self.drift_started:
            self.measure_drift()  # the step-0 reference (a resumed run restores it with the state)
        batch = self.collect()
        metrics = {"step": self.step, **batch.metrics(self.world, self.variant.uses_verifier), **self.stream.take_log()}
        if batch.kept_groups:
            metrics.update(self.learn(batch))
        self.step += 1
        metrics.update(self.scheduled_measurements())
        metrics["time/step_s"] = time.perf_counter() - t_start
        return metrics

    def sync_reference(self) -> None:
        """The reference becomes a copy of the policy every ``reference_sync_every`` steps (not at step 0)."""
        if self.cfg.reference_sync_every and self.step and self.step % self.cfg.reference_sync_every == 0:
            self.reference.module.load_state_dict(self.world.full_state_dict(self.policy.module))

    def learn(self, batch: Collected) -> dict:
        """The kept rows' advantages, the PPO update on them, the auxiliary models' own update.
        A process that kept no rows (``batch.rollouts`` is ``None``) still joins every collective."""
        t0 = time.perf_counter()
        rollouts, rewards, inputs, advantages = batch.rollouts, batch.rewards, {}, None
        if rollouts is not None:
            for model in self.auxiliaries.values():  # e.g. a critic's values for GAE
                inputs.update(model.estimator_inputs(rollouts))
            advantages = compute_advantages(self.variant, rollouts, rewards, inputs)
        metrics = {"rollout/advantage_abs_mean": self.advantage_abs_mean(rollouts, advantages)}
        metrics.update(self.ppo(rollouts, advantages, self.step, self.where()))
        if rollouts is not None:
            for model in self.auxiliaries.values():  # e.g. the critic's value loss
                metrics.update(model.learn(rollouts, rewards, advantages, inputs, self.step))
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

    def scheduled_measurements(self) -> dict:
        """After the step: evaluation every ``eval_every`` steps, the drift probe every
        ``drift_every`` steps, both after the last step."""
        metrics, last = {}, self.step == self.cfg.steps
        if last or (self.cfg.eval_every and self.step % self.cfg.eval_every == 0):
            metrics.update(self.evaluate_on_rank0())
        if self.drift is not None and (last or self.step % self.cfg.drift_every == 0):
            metrics.update(self.measure_drift())
        return metrics

    def measure_drift(self) -> dict:
        """``drift/*`` on rank 0 ({} elsewhere); the first call fixes the reference answers."""
        self.drift_started = True
        return self.world.on_rank0(lambda: self.drift.measure(self.policy), self.inference)

    # ---- the run --------------------------------------------------------------------------
    def state(self) -> dict:
        return {
            "step": self.step,
            **self.stream.state(),
            "config": asdict(self.cfg),
            **({"drift_reference": self.drift.reference_state()} if self.drift is not None and self.drift.reference is not None else {}),
        }

    def companions(self) -> dict:
        """What a checkpoint must hold besides the policy to resume exactly, by directory name:
        the lagged reference and the variant's auxiliary models (each with ``save``/``load``)."""
        out = {"reference": ModuleCompanion(self.reference.module)} if self.cfg.reference_sync_every else {}
        return out | {f"auxiliary-{name}": model for name, model in self.auxiliaries.items()}

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
        if self.drift is not None and "drift_reference" in state:
            self.drift.load_reference_state(state["drift_reference"])
            self.drift_started = True

    def where(self) -> str:
        """The variant and step, as the finite checks name them."""
        return f"variant {self.cfg.variant!r}, step {self.step}"

    def stop_requested(self, stop: GracefulStop) -> bool:
        """Whether any process received a stop signal, so that all stop at the same step boundary."""
        return self.world.any(stop.requested is not None)

    def resume_point(self) -> str:
        """Where ``--resume`` would continue this run from, in words."""
        newest = self.run.checkpoints() if self.run is not None else []
        return f"from {newest[-1]}" if newest else "from the start (no checkpoint yet)"

    def train(self) -> list[dict]:
        """Run to ``cfg.steps``; returns this call's metrics. Ctrl-C or SIGTERM let the step under
        way finish, write its checkpoint and raise ``KeyboardInterrupt``; a second one stops at
        once without a checkpoint of the unfinished step (``sandbox.train.interrupts``)."""
        bar = tqdm(total=self.cfg.steps, initial=self.step, desc=f"rl {self.cfg.variant}", disable=None if self.cfg.progress else True)
        last_saved = self.step
        with graceful_stop("rl run") as stop:
            try:
                while self.step < self.cfg.steps and not self.stop_requested(stop):
                    metrics = self.train_step()
                    self.history.append(metrics)
                    if self.run is not None:
                        self.run.log(metrics)
                    bar.update(1)
                    shown = {"acc": metrics.get("rollout/accuracy"), "reward": metrics["rollout/reward_mean"], "kept": metrics["rollout/kept_fraction"]}
                    bar.set_postfix({k: f"{v:.2f}" for k, v in shown.items() if v is not None})
                    if self.cfg.checkpoint_every and self.step % self.cfg.checkpoint_every == 0:
                        self.save_checkpoint()
                        last_saved = self.step
            except KeyboardInterrupt:
                if self.run is not None:
                    print(f"\nstopped during step {self.step}: no checkpoint of an unfinished step is written; "
                          f"--resume continues {self.resume_point()}", flush=True)
                raise
            finally:
                bar.close()
            if self.step != last_saved:
                self.save_checkpoint()
            if self.step < self.cfg.steps:
                if self.run is not None:
                    print(f"\n{stop.requested or 'stop requested'}: stopped before step {self.step}; --resume continues {self.resume_point()}", flush=True)
                raise KeyboardInterrupt(f"stopped at step {self.step} of {self.cfg.steps}")
        return self.history
