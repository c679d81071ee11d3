"""The settings of an RL run (``RLConfig``) and the checks made of them before anything runs: every
field's range, the variant's options, the task's size against the problems the run can draw, and
an initial model that holds the SFT optimizer state ``init_optimizer_state`` asks for (and the
loading of that state into RL's AdamW).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from sandbox.config import check_finite_fields, check_tuple_fields
from sandbox.model.checkpoint import has_named_optimizer_state, load_named_optimizer_state
from sandbox.rewards.pieces import SEQUENCE_LEVEL_SOURCES
from sandbox.rewards.registry import ESTIMATOR_EXTRAS, check_variant_options, check_variant_task, get_variant
from sandbox.train import accel
from sandbox.train.policy_loss import LossConfig
from sandbox.train.reward_models import check_reward_models
from sandbox.train.toolkit import learning_rate
from toy_envs.base import check

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
    """RL steps (the most steps with ``max_generated_tokens``)."""
    max_generated_tokens: int = 0
    """Stop after the first step at which the run's cumulative generated tokens
    (``cost/generated_tokens``, ``sandbox.train.cost``) reach this many, evaluating there as at the
    last step; 0 = no token budget. Compares variants that sample different amounts (refills,
    trees) at equal generated tokens."""
    problems_per_step: int = 32
    """Problems (groups) per step, P."""
    group_size: int = 8
    """Rollouts per problem, G."""
    train_problems: int = 0
    """Distinct train problems the stream cycles over (``toy_envs.pool``): position i samples train
    problem i mod N, so 1 is one-shot RL; 0: every position its own problem."""
    gold_prefix_steps: int = 0
    """Reverse curriculum (R3, arXiv 2402.05808; ``toy_envs.gold_prefix``): the training prompts of
    step s carry the first max(0, K − ⌊s / gold_prefix_stage⌋) steps of the gold solution (at most
    all but one of a problem's steps), K this value, so RL starts near the end of the demonstration
    and slides back to the bare problem; 0: off. Held-out evaluation always uses bare problems.
    Sequence-level variants only (their sources reward the whole solution)."""
    gold_prefix_stage: int = 10
    """RL steps per stage of the reverse curriculum (with ``gold_prefix_steps``)."""
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
    adam_betas: tuple[float, float] = (0.9, 0.99)
    """AdamW (β1, β2); the flag takes them comma-separated, ``--adam-betas 0.9,0.999``."""
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
    update_buckets: int = 1
    """Forward passes per minibatch over its rows sorted by length, each cut to its longest row: the
    same loss and gradient up to summation order, without most of the compute on padding
    (``toolkit.length_groups``; 1: the minibatch in one pass)."""
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
    effective_rank: bool = True
    """Log ``diag/effective_rank`` and its first and second differences over steps: the mean effective
    rank of the kept rows' response-token hidden states (arXiv 2509.23808), read off the update's own
    forward with one minibatch, else from one extra no-grad forward per step
    (``sandbox.train.rank_diagnostics``); it changes no other metric. Off under FSDP."""
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
        check(type(self.train_problems) is int and self.train_problems >= 0, "train_problems",
              "an integer >= 0 (0: every stream position its own problem)", self.train_problems)
        check(type(self.gold_prefix_steps) is int and self.gold_prefix_steps >= 0, "gold_prefix_steps",
              "an integer >= 0 (0: no reverse curriculum)", self.gold_prefix_steps)
        check(type(self.gold_prefix_stage) is int and self.gold_prefix_stage >= 1, "gold_prefix_stage",
              "an integer >= 1 (RL steps per stage)", self.gold_prefix_stage)
        token_level = [name for name, _, _ in get_variant(self.variant).sources if name not in SEQUENCE_LEVEL_SOURCES]
        check(not self.gold_prefix_steps or not token_level, "gold_prefix_steps",
              f"0 for variant {self.variant!r}, whose sources {token_level} score steps: the given gold steps would be "
              f"missing from their step indices (use a variant whose sources are among {sorted(SEQUENCE_LEVEL_SOURCES)})",
              self.gold_prefix_steps)
        check_variant_options(get_variant(self.variant), self.group_size)
        check_reward_models(get_variant(self.variant), self.prm)
        for name in ("steps", "problems_per_step", "group_size", "ppo_epochs", "minibatches", "update_buckets", "max_draws", "pass_k"):
            check(getattr(self, name) >= 1, name, "an integer >= 1", getattr(self, name))
        check_tuple_fields(self)
        check(all(0 <= b < 1 for b in self.adam_betas), "adam_betas", "two numbers in [0, 1), e.g. (0.9, 0.99)", self.adam_betas)
        for name in ("max_generated_tokens", "warmup_steps", "max_new_tokens", "eval_every", "eval_problems", "pass_problems", "drift_every", "drift_problems", "checkpoint_every", "reference_sync_every"):
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
        if self.fsdp:
            estimator = get_variant(self.variant).estimator
            check("hidden_states" not in ESTIMATOR_EXTRAS.get(estimator, ()), "fsdp",
                  f"False for a variant whose estimator ({estimator!r}) reads the rollouts' hidden states", self.fsdp)
        self.loss_config(64).validate()
        accel.check_device(self.device)
        accel.check_precision(self.precision)

    def gold_steps_at(self, step: int) -> int:
        """The gold steps the reverse curriculum gives at RL step ``step`` (0 when off or done)."""
        return max(0, self.gold_prefix_steps - step // self.gold_prefix_stage)

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


def check_trainer_setup(cfg: RLConfig, loss_cfg: LossConfig, has_reference: bool, world) -> None:
    """The checks that need more than the config, made before the trainer touches a model: a
    reference policy wherever one is read (a KL penalty, reference sync), FSDP only over several
    processes (``world``: ``sandbox.train.distributed.World``), at least one problem per process,
    and no auxiliary models under data parallelism."""
    if loss_cfg.kl_coef > 0 and not has_reference:
        raise ValueError(f"variant {cfg.variant!r} with kl_coef > 0 needs a reference policy")
    if cfg.reference_sync_every and not has_reference:
        raise ValueError(f"reference_sync_every={cfg.reference_sync_every} needs a reference policy to keep in sync")
    check(not cfg.fsdp or world.active, "fsdp", "False in a single process (FSDP shards over torchrun's processes)", cfg.fsdp)
    check(cfg.problems_per_step >= world.size, "problems_per_step", f">= the number of processes ({world.size})", cfg.problems_per_step)
    check(not (get_variant(cfg.variant).auxiliaries and world.active), "variant", "a variant without auxiliary models under data parallelism", cfg.variant)


def check_init_optimizer_state(init: str) -> None:
    """``ConfigError`` unless ``init`` names a warm start that holds an SFT optimizer state keyed by
    parameter name: a preset (every preset build saves it) or a checkpoint directory saved with it
    (``reward-sandbox sft``); reads ``state.json`` only. A path that is no directory is left to the
    init's own error."""
    from sandbox.train.recipes import warmstart_names

    allowed = "True only with an init that saved its SFT optimizer state (a warm-start preset or a `reward-sandbox sft` checkpoint); "
    if init.startswith("hf:"):
        check(False, "init_optimizer_state", allowed + f"init={init!r} is a Hugging Face model directory, which holds none", True)
    if init not in warmstart_names() and Path(init).is_dir():
        check(has_named_optimizer_state(init), "init_optimizer_state", allowed + f"init={init!r} holds none keyed by parameter "
              "name (an RL checkpoint, or a warm start written before SFT checkpoints kept their optimizer state)", True)


def init_optimizer_path(init: str) -> Path:
    """The checkpoint directory whose saved SFT optimizer state ``init_optimizer_state`` loads."""
    from sandbox.train import recipes

    return recipes.build(init) if init in recipes.warmstart_names() else Path(init)


def load_sft_optimizer_state(optimizer: torch.optim.Optimizer, model: torch.nn.Module, path: Path) -> None:
    """Fill ``optimizer`` (an AdamW over ``model``'s parameters, no state yet) with the moments and
    step counts saved by name at ``path``; its own hyper-parameters are kept. A parameter the saved
    state lacks or holds with another shape is a ``ConfigError``."""
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
    """``ConfigError`` naming ``variant`` when its sources cannot score ``task``'s responses
    (``check_variant_task``: brier without a confidence line), or naming ``task_size`` when a task with a finite problem set (a ``size``, as
    reasoning-gym's) has fewer train problems than the run can draw, or fewer held-out problems
    than it evaluates on; called before anything is written or computed."""
    check_variant_task(get_variant(cfg.variant), task)
    size = getattr(task, "size", None)
    if size is None:
        return
    check(cfg.train_problems <= size, "train_problems", f"at most the task's {size} train problems", cfg.train_problems)
    needed = cfg.train_problems or train_problems_needed(cfg)
    refill = f" x max_draws {cfg.max_draws} (variant {cfg.variant!r} refills)" if get_variant(cfg.variant).refill else ""
    check(size >= needed, "task_size",
          f"at least the {needed} train problems the run can draw (steps {cfg.steps} x problems_per_step "
          f"{cfg.problems_per_step}{refill}); raise task_size or lower those", size)
    held_out = max(cfg.eval_problems, cfg.pass_problems)
    check(size >= held_out, "task_size",
          f"at least the {held_out} held-out problems the run evaluates on (eval_problems {cfg.eval_problems}, "
          f"pass_problems {cfg.pass_problems}); raise task_size or lower those", size)
