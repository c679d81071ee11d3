"""The PPO update: epochs over keyed minibatches of the kept rows, one optimizer step each.

    lr ← the warm-up schedule at this step
    log π_ref ← the reference's log-probs of the batch                     (only when β > 0)
    for epoch e in 1..E:
        order ← a permutation of the rows keyed by (seed, "minibatch", step, e), cut into M chunks
        for each chunk:
            loss ← policy_loss(log π_θ, log π_old, A, mask, log π_ref)   (``sandbox.train.policy_loss``;
                   with ``update_buckets`` > 1, summed over the chunk's rows sorted by length in
                   that many groups, each cut to its longest row and normalised by the chunk's
                   token and row counts: the same loss without the compute on padding;
                   refinement rows, when the variant adds some, take the refinement piece's
                   shaped off-policy term instead of PPO-clip: Critique-GRPO)
                   + aggregate(distillation term) when the variant declares one (SDPO: KL to the
                     policy's logits on the teacher rows, taken without gradient,
                     ``sandbox.train.self_distillation``)
            backward; gradients summed over processes; clipped to grad_clip; AdamW step
    logged: each diagnostic's mean over the minibatches (loss/policy, loss/entropy, loss/grad_norm,
    the loss's clip fractions and KLs); with several processes, the mean of their means

With several processes each one computes the loss on its own rows of a chunk, normalised by the
chunk's global token and row counts, and their gradients are summed, which is the single
process's gradient (``sandbox.train.distributed``).
"""

from __future__ import annotations

import torch

from sandbox.errors import require_finite
from sandbox.model.model import token_logprobs
from sandbox.model.policy import logits_and_hidden_states
from sandbox.rewards.critique_grpo import OFF_POLICY
from sandbox.rollout.rollouts import Rollouts
from sandbox.train import accel
from sandbox.train.distributed import Placement, World
from sandbox.train.policy_loss import LossConfig, aggregate, policy_loss
from sandbox.train.rl_config import init_optimizer_path, load_sft_optimizer_state
from sandbox.train.self_distillation import teacher_logits
from sandbox.train.toolkit import keyed_minibatches, length_groups, optimizer_step, set_learning_rate


class PPOUpdate:
    """The update of one RL run: holds the policy, its AdamW and fp16 loss scaler and the settings
    of the run (``RLConfig``: epochs, minibatches, temperature, gradient clip, precision, seed)."""

    def __init__(self, cfg, loss_cfg: LossConfig, policy, reference, placement: Placement, distillation=None, refinement=None):
        """``policy`` already placed (and sharded under FSDP): its AdamW is made here, from the SFT
        optimizer state when ``cfg.init_optimizer_state`` (a resumed run replaces it with its checkpoint's).
        ``distillation``: the variant's distillation term (``registry.build_distillation``) or ``None``;
        ``refinement``: its refinement piece (``registry.build_refinement``), which gives the loss of
        the rows it added, or ``None``."""
        self.cfg, self.loss_cfg, self.policy, self.reference = cfg, loss_cfg, policy, reference
        self.distillation, self.refinement = distillation, refinement
        self.world, self.device = placement.world, placement.device
        self.optimizer = torch.optim.AdamW(
            policy.module.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=cfg.adam_betas, eps=cfg.adam_eps
        )
        if cfg.init_optimizer_state:  # before any compute
            load_sft_optimizer_state(self.optimizer, policy.module, init_optimizer_path(cfg.init))
        self.scaler = accel.grad_scaler(self.device, cfg.precision)
        """fp16 loss scaling (a pass-through otherwise)."""

    @property
    def first_pass_sees_every_row(self) -> bool:
        """Every kept row's forward of the first epoch runs before its first optimizer step (one
        minibatch, the RL defaults): its hidden states are those of the weights that sampled the rows."""
        return self.cfg.minibatches == 1

    def __call__(self, rollouts: Rollouts | None, advantages: torch.Tensor | None, step: int, where: str,
                 teacher=None, hidden_parts: list | None = None) -> dict:
        """PPO epochs over minibatches of the kept rows; returns the mean loss diagnostics
        (averaged over processes). ``rollouts`` is ``None`` on a process that kept no rows this
        step (it still joins every collective); ``where`` names the run and step in errors;
        ``teacher``: the distillation term's teacher rows of the kept rows (``TeacherInputs``);
        ``hidden_parts``: a list that the first epoch's forward passes append (rows, their final
        hidden states, detached, float32) to -- what ``rank_diagnostics`` would
        otherwise take from a forward of its own; only where ``first_pass_sees_every_row``."""
        cfg = self.cfg
        self.policy.module.train()
        ref_logp = self.reference_logprobs(rollouts)
        set_learning_rate(self.optimizer, cfg.lr_at(step))
        diagnostics = []
        for epoch in range(cfg.ppo_epochs):
            key = (cfg.seed, "minibatch", step, epoch)
            parts = hidden_parts if epoch == 0 else None
            for rows, denominators in minibatch_plan(rollouts, cfg.minibatches, key, self.world):
                if len(rows) and cfg.update_buckets > 1:
                    loss, metrics = self.bucketed_loss(rollouts, rows, advantages, ref_logp, denominators, where, teacher, parts)
                elif len(rows):
                    loss, metrics = self.loss(rollouts.select(rows), advantages[rows], self.rows_of(ref_logp, rows), denominators, where,
                                              None if teacher is None else teacher.select(rows), parts, rows)
                else:  # no rows of this minibatch here
                    loss, metrics = self.world.idle_loss(self.policy, self.device, cfg.precision), {}
                metrics["loss/grad_norm"] = self.optimizer_step(loss, where)
                diagnostics.append(metrics)
        return mean_diagnostics(diagnostics, self.world)

    def reference_logprobs(self, rollouts: Rollouts | None) -> torch.Tensor | None:
        """log π_ref of every row, for the KL penalty (``None`` when β = 0 or without rows)."""
        if self.loss_cfg.kl_coef <= 0 or rollouts is None:
            return None
        with torch.no_grad(), accel.autocast(self.device, self.cfg.precision):
            tokens = rollouts.tokens.to(self.device)
            return token_logprobs(self.reference.logits(tokens), tokens, self.cfg.temperature)

    def rows_of(self, ref_logp: torch.Tensor | None, rows: torch.Tensor) -> torch.Tensor | None:
        return None if ref_logp is None else ref_logp[rows.to(self.device)]

    def loss(self, mb: Rollouts, advantages: torch.Tensor, ref_logp: torch.Tensor | None,
             denominators: tuple[float, float] | None, where: str, teacher=None, hidden_parts: list | None = None,
             rows: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
        """The policy loss of one minibatch's rows (this process's share of it), as this process
        backpropagates it, and its diagnostics, ``loss/policy`` and ``loss/entropy`` among them;
        with ``teacher`` rows, plus the distillation term (``loss/distill``), aggregated as the policy
        loss; with ``hidden_parts``, appends (``rows``, the forward's final hidden states)."""
        cfg, device = self.cfg, self.device
        width = mb.tokens.shape[1]
        tokens = mb.tokens.to(device)
        with accel.autocast(device, cfg.precision):
            if hidden_parts is None:
                logits = self.policy.logits(tokens)
            else:
                logits, hidden = logits_and_hidden_states(self.policy.module, tokens)
                hidden_parts.append((rows, hidden.detach().float()))
        new_logp = token_logprobs(logits, tokens, cfg.temperature)
        mask = mb.response_mask.float().to(device)
        advantages = advantages[:, :width].to(device)
        off_rows = mb.extras.get(OFF_POLICY)
        off_policy = None
        if self.refinement is not None and off_rows is not None and bool(off_rows.any()):
            off_policy = (off_rows, self.refinement.token_loss(new_logp, advantages))
        loss, metrics = policy_loss(
            new_logp, mb.logprobs.to(device), advantages, mask, self.loss_cfg,
            None if ref_logp is None else ref_logp[:, :width], denominators, off_policy,
        )
        if teacher is not None:
            aligned = teacher_logits(self.policy, teacher, width, device, cfg.precision)
            term = aggregate(self.distillation.token_loss(logits, aligned, cfg.temperature), mask, self.loss_cfg.aggregation,
                             self.loss_cfg.length_norm, denominators)
            loss = loss + term
            metrics["loss/distill"] = term.item()
        if not self.world.active:  # with several processes the gradient norm (a global one) stops all
            require_finite(loss, where, f"the policy loss ({self.loss_cfg.aggregation})")
        metrics["loss/entropy"] = mean_entropy(logits, mask, cfg.temperature)
        metrics["loss/policy"] = loss.item()
        return self.world.gradient_share(loss), metrics

    def bucketed_loss(self, rollouts: Rollouts, rows: torch.Tensor, advantages: torch.Tensor, ref_logp: torch.Tensor | None,
                      denominators: tuple[float, float] | None, where: str, teacher=None,
                      hidden_parts: list | None = None) -> tuple[torch.Tensor, dict]:
        """``loss`` of the minibatch ``rows`` as the sum of its length buckets' losses, each bucket
        normalised by the minibatch's (tokens, rows) -- the ``denominators`` several processes use
        -- so the sum is the minibatch's loss; diagnostics: the policy and distillation losses
        summed, the others averaged over the buckets weighted by their response tokens."""
        if denominators is None:
            denominators = (float(rollouts.response_mask[rows].sum()), float(len(rows)))
        total, sums, weights = None, {}, {}
        summed = ("loss/policy", "loss/distill")
        for part in length_groups(rollouts.prompt_lens[rows] + rollouts.response_lens[rows], self.cfg.update_buckets):
            bucket = rows[part]  # ``Rollouts.select`` cuts it to its longest row
            loss, metrics = self.loss(rollouts.select(bucket), advantages[bucket], self.rows_of(ref_logp, bucket), denominators, where,
                                      None if teacher is None else teacher.select(bucket), hidden_parts, bucket)
            total = loss if total is None else total + loss
            tokens = float(rollouts.response_mask[bucket].sum())
            for k, v in metrics.items():
                sums[k] = sums.get(k, 0.0) + (v if k in summed else v * tokens)
                weights[k] = weights.get(k, 0.0) + tokens
        return total, {k: v if k in summed else v / max(weights[k], 1.0) for k, v in sums.items()}

    def optimizer_step(self, loss: torch.Tensor | None, where: str) -> float:
        """Backward, sum the gradients over processes, clip their global norm, step AdamW (through
        the fp16 loss scaler, which skips an overflowing step itself): ``toolkit.optimizer_step``;
        returns the norm before clipping."""
        module = self.policy.module
        return optimizer_step(self.optimizer, loss, module.parameters(), self.cfg.grad_clip, self.scaler,
                              lambda: self.world.sync_gradients(module), where,
                              "the policy's gradient norm")


def mean_entropy(logits: torch.Tensor, mask: torch.Tensor, temperature: float) -> float:
    """Mean entropy of the temperature-scaled next-token distribution over the response tokens."""
    with torch.no_grad():
        logp_all = (logits[:, :-1].float() / temperature).log_softmax(-1)
        entropy = -(logp_all.exp() * logp_all).sum(-1)
        return ((entropy * mask[:, 1:]).sum() / mask[:, 1:].sum().clamp(min=1)).item()


def minibatch_plan(rollouts: Rollouts | None, minibatches: int, key: tuple, world: World) -> list[tuple[torch.Tensor, tuple | None]]:
    """Per minibatch: this process's rows of it, and the minibatch's (tokens, rows) when several
    processes share it (``None`` with one process: plain local aggregation).

    The permutation keyed by ``key`` (``toolkit.keyed_minibatches``) runs over all kept rows; with
    several processes those are ordered by (problem, rollout), which is the single process's order
    for samplers that emit rows so (the group sampler does)."""
    if not world.active:
        return [(rows, None) for rows in keyed_minibatches(len(rollouts), minibatches, key)]
    local = {} if rollouts is None else {
        key: i for i, key in enumerate(zip(rollouts.problem_index.tolist(), rollouts.rollout_index.tolist()))
    }
    lengths = [] if rollouts is None else rollouts.response_mask.sum(-1).tolist()
    table = sorted(world.gather(list(zip(local, lengths))))
    plan = []
    for chunk in keyed_minibatches(len(table), minibatches, key):
        chunk = chunk.tolist()
        mine = [local[table[i][0]] for i in chunk if table[i][0] in local]
        plan.append((torch.tensor(mine, dtype=torch.long), (float(sum(table[i][1] for i in chunk)), float(len(chunk)))))
    return plan


def mean_diagnostics(diagnostics: list[dict[str, float]], world: World) -> dict[str, float]:
    """Each diagnostic's mean over the minibatches that logged it; ``loss/policy`` over all of them
    (a process's share of the loss counts as 0 in a minibatch where it had no rows). With several
    processes: each process's means averaged over the processes that had rows, the policy loss of
    the shared minibatches summed over them."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for metrics in diagnostics:
        for k, v in metrics.items():
            sums[k] = sums.get(k, 0.0) + v
            counts[k] = counts.get(k, 0) + 1
    local = {k: v / (len(diagnostics) if k == "loss/policy" else counts[k]) for k, v in sums.items()}
    if not world.active:
        return local
    merged: dict[str, list[float]] = {}
    for k, v in world.gather(sorted(local.items())):
        merged.setdefault(k, []).append(v)
    return {k: sum(v) if k == "loss/policy" else sum(v) / len(v) for k, v in merged.items()}
