"""One RL step's batch: draws of problems sampled, rewarded and filtered until P groups are kept.

    draw 1:       the next P problems of the stream (``ProblemStream``)
    later draws:  refilling variants (DAPO's dynamic sampling) only: the missing group count over
                  the keep rate seen so far, at most P (``refill_draw_size``)
    each draw:    this process's problems (``World.shard``) → G rollouts each → with a refinement
                  piece (Critique-GRPO) the failed rows refined after a critique, the picked
                  refinements added to their groups → the auxiliary
                  models observe them (an implicit PRM's update) → r ← Σ_k w_k · source_k →
                  keep ← the filters; of all processes' surviving groups the first ones in
                  problem order are kept, up to P in all
    at most ``max_draws`` draws, else a clear error naming which way the dropped groups collapsed

The first draw's on-policy rows are the sample the ``rollout/*`` metrics describe (``Collected.metrics``);
``rollout/generated_tokens`` counts every token decoded, refinements included.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch

from sandbox.errors import RunError
from sandbox.rewards.base import RewardContext, sequence_rewards
from sandbox.rewards.critique_grpo import on_policy_rows
from sandbox.rewards.registry import (
    Variant,
    apply_filters,
    apply_problem_filter,
    compute_token_rewards,
    sample_rollouts,
)
from sandbox.rng import row_key
from sandbox.rollout.rollouts import Rollouts
from sandbox.train.auxiliary_updates import AuxiliaryUpdates
from sandbox.train.distributed import Placement, World
from sandbox.train.problem_stream import ProblemStream
from toy_envs.gold_prefix import with_gold_prefix


@dataclass
class Draw:
    """One draw's rows on this process, rewarded and filtered."""

    rollouts: Rollouts
    rewards: torch.Tensor
    """[B, T] token rewards."""
    keep: torch.Tensor
    """[B] bool: the rows every filter keeps."""
    collapsed: dict[float, int]
    """Groups the filters dropped, by the value all their rows had (accuracy or reward)."""
    source_metrics: dict
    """What the reward sources logged (e.g. prm/mean_score)."""
    sample_s: float
    reward_s: float
    tokens: int
    """Tokens decoded (a tree sampler shares prefixes between rows and says what it decoded)."""

    def survivors(self) -> list[int]:
        """The groups with kept rows, in order (the sampler keeps a group's rows adjacent)."""
        return self.rollouts.group[self.keep].unique_consecutive().tolist()


@dataclass
class Collected:
    """One step's batch on this process, and what its draws cost and dropped."""

    rollouts: Rollouts | None = None
    """The kept rows (``None`` when this process kept none: it still joins every collective)."""
    rewards: torch.Tensor | None = None
    """Their token rewards [B, T]."""
    kept_groups: int = 0
    """Groups kept over all processes (the same number on each)."""
    draws: int = 0
    first: Draw | None = None
    """The first draw: the on-policy sample the ``rollout/*`` metrics describe."""
    sampled_rows: int = 0
    tokens: int = 0
    sample_s: float = 0.0
    reward_s: float = 0.0
    collapsed: dict[float, int] = field(default_factory=dict)
    """Groups the filters dropped on this process, by the value all their rows had."""

    def add(self, draw: Draw) -> None:
        if self.first is None:
            self.first = draw
        self.sampled_rows += len(draw.rollouts)
        self.tokens += draw.tokens
        self.sample_s += draw.sample_s
        self.reward_s += draw.reward_s
        for value, count in draw.collapsed.items():
            self.collapsed[value] = self.collapsed.get(value, 0) + count

    def metrics(self, world: World, verdicts: bool) -> dict:
        """``rollout/*`` of the first draw, ``filter/collapsed_to_*``, the sources' metrics and the
        times, from every process's rows; ``verdicts=False`` reads no verdict (a variant that
        learns without the verifier runs it for no metric either)."""
        on_policy = on_policy_rows(self.first.rollouts)
        first = self.first.rollouts.select(on_policy)
        rows = world.gather(first_row_values(first, self.first.rewards[on_policy][:, : first.tokens.shape[1]], verdicts))
        seq, truncated, length, *verdict_columns = (torch.tensor(column) for column in zip(*rows))
        kept_rows, sampled_rows, tokens = world.sum([0 if self.rollouts is None else len(self.rollouts), self.sampled_rows, self.tokens])
        metrics = {
            "rollout/reward_mean": seq.mean().item(),
            "rollout/reward_std": seq.std(unbiased=False).item(),
            **verdict_metrics(*verdict_columns),
            "rollout/truncated_fraction": truncated.float().mean().item(),
            "rollout/response_len": length.float().mean().item(),
            "rollout/kept_fraction": kept_rows / sampled_rows,
            "rollout/draws": self.draws,
            "rollout/tokens_per_s": tokens / max(self.sample_s, 1e-9),
            "rollout/generated_tokens": int(tokens),
            "time/sample_s": self.sample_s,
            "time/reward_s": self.reward_s,
            **self.first.source_metrics,
        }
        for value, count in sorted(world.sum_counts(self.collapsed).items()):
            metrics[f"filter/collapsed_to_{value:g}"] = count
        return metrics


class Collector:
    """Collects the batches of one run: holds its sampler's parts and its problem stream."""

    def __init__(self, cfg, variant: Variant, policy, task, sampling, auxiliaries: AuxiliaryUpdates, placement: Placement,
                 refinement=None):
        """``cfg``: the run's ``RLConfig``; ``placement``: where the sampling and scoring forward
        passes run (autocast; full weights under FSDP); ``refinement``: the variant's refinement
        piece (``registry.build_refinement``: Critique-GRPO) or ``None``."""
        self.cfg, self.variant, self.policy, self.task, self.sampling = cfg, variant, policy, task, sampling
        self.auxiliaries, self.world, self.placement = auxiliaries, placement.world, placement
        self.refinement = refinement
        self.stream = ProblemStream(task, bool(variant.problem_filter), variant.problem_filter_every * cfg.problems_per_step)
        """The train problems, less those the variant's problem filter excluded (``sandbox.train.problem_stream``)."""

    def task_at(self, step: int):
        """The task the step samples: with the reverse curriculum, prompts that carry its gold steps
        (``toy_envs.gold_prefix``; ``RLConfig.gold_steps_at``)."""
        return with_gold_prefix(self.task, self.cfg.gold_steps_at(step))

    def inference(self):
        return self.placement.inference(self.policy.module)

    def __call__(self, step: int, ctx: RewardContext) -> Collected:
        """Sample, reward and filter until P groups are kept (refilling variants) or once."""
        cfg, P = self.cfg, self.cfg.problems_per_step
        out = Collected()
        kept_parts, reward_parts, drawn_groups, survived_groups = [], [], 0, 0
        while out.kept_groups < P:
            if out.draws >= cfg.max_draws:
                dropped = self.world.sum_counts(out.collapsed)
                raise RunError(out_of_draws_message(cfg.variant, step, out.kept_groups, P, cfg.max_draws, dropped))
            n = refill_draw_size(P, P - out.kept_groups, drawn_groups, survived_groups)
            local = self.world.shard(self.stream.draw(n, step, lambda window: self.screen(window, step, ctx)))
            drawn_groups += n
            out.draws += 1
            draw = self.draw(local, step, ctx) if local else None  # whole groups per process (all of them with one)
            if draw is not None:
                out.add(draw)
            # every process takes the first groups of all processes' survivors, in problem order
            survivors = sorted(self.world.gather([] if draw is None else draw.survivors()))
            survived_groups += len(survivors)
            groups = survivors[: P - out.kept_groups]
            out.kept_groups += len(groups)
            if draw is not None:
                keep = draw.keep & torch.isin(draw.rollouts.group, torch.tensor(groups, dtype=draw.rollouts.group.dtype))
                if keep.any():
                    kept_parts.append(draw.rollouts.select(keep))
                    reward_parts.append(draw.rewards[keep][:, : kept_parts[-1].tokens.shape[1]])
            if not self.variant.refill:
                break
        if kept_parts:
            out.rollouts = Rollouts.cat(kept_parts, pad_id=self.policy.tokenizer.pad_id)
            width = out.rollouts.tokens.shape[1]
            out.rewards = torch.cat([torch.nn.functional.pad(r, (0, width - r.shape[1])) for r in reward_parts])
        return out

    def draw(self, problems: list[int], step: int, ctx: RewardContext) -> Draw:
        """G rollouts of each of ``problems``, observed by the auxiliary models, rewarded, filtered."""
        t0 = time.perf_counter()
        with self.inference():
            rollouts = sample_rollouts(self.variant, self.policy, self.task_at(step), problems, self.cfg.group_size, self.sampling,
                                       self.cfg.seed, step)
            tokens = int(rollouts.extras.get("generated_tokens", rollouts.response_lens).sum().round())
            if self.refinement is not None:
                rollouts, refined_tokens = self.refine(rollouts, step, ctx)
                tokens += refined_tokens
        t1 = time.perf_counter()
        self.auxiliaries.observe(rollouts, ctx)  # e.g. an implicit PRM learns from this draw before scoring it
        with self.inference():
            rewards = compute_token_rewards(self.variant, rollouts, ctx)
            result = apply_filters(self.variant, rollouts, rewards, ctx)
        reward_s = time.perf_counter() - t1
        collapsed: dict[float, int] = {}
        for info in result.info.values():
            for value, count in info.get("collapsed", {}).items():
                collapsed[value] = collapsed.get(value, 0) + count
        return Draw(rollouts, rewards, result.keep, collapsed, dict(ctx.metrics), t1 - t0, reward_s, tokens)

    def refine(self, rollouts: Rollouts, step: int, ctx: RewardContext) -> tuple[Rollouts, int]:
        """The on-policy rows followed by the refinements the piece picks, and the tokens decoded
        for all refinements; the piece's ``refine/*`` metrics go to ``ctx.metrics``."""
        task, tokenizer, seed = self.task_at(step), self.policy.tokenizer, self.cfg.seed
        requests = self.refinement.requests(rollouts, task, tokenizer, seed, step)
        samples = self.policy.sample(requests.prompts, self.sampling, requests.keys) if requests.rows else None
        merged, metrics = self.refinement.merge(rollouts, requests, samples, task, tokenizer, seed, step)
        ctx.metrics.update(metrics)
        return merged, 0 if samples is None else int(samples.response_lens.sum())

    def screen(self, window: list[int], step: int, ctx: RewardContext):
        """The variant's problem filter on ``window`` (its samples keyed apart from training's)."""
        seed = row_key(self.cfg.seed, "problem_filter")

        def sample(indices: list[int], group_size: int) -> Rollouts:
            return sample_rollouts(self.variant, self.policy, self.task_at(step), indices, group_size, self.sampling, seed, step)

        with self.inference():
            return apply_problem_filter(self.variant, window, sample, ctx)


def refill_draw_size(problems_per_step: int, missing: int, drawn: int, survived: int) -> int:
    """Problems to draw next within one step: all P on the first draw; afterwards the missing
    group count divided by the keep rate seen so far this step (at least one survivor assumed),
    at most P -- DAPO's over-sampling, sized so that one refill usually suffices."""
    if drawn == 0:
        return problems_per_step
    keep_rate = max(survived, 1) / drawn
    return min(problems_per_step, math.ceil(missing / keep_rate))


def out_of_draws_message(variant: str, step: int, kept: int, wanted: int, max_draws: int, collapsed: dict[float, int]) -> str:
    """The refill error: how many groups survived, which way the dropped groups collapsed (the
    filters' ``collapsed`` counts: value -> groups whose rows all had that accuracy or reward)
    and what to change accordingly."""
    head = (f"variant {variant!r}, step {step}: only {kept} of {wanted} groups survived the filters "
            f"after max_draws={max_draws} draws")
    if not collapsed:
        return f"{head}; raise max_draws or change the filters"
    names = {1.0: "all correct", 0.0: "all wrong"}
    parts = [f"{count} to {value:g}" + (f" ({names[value]})" if value in names else "") for value, count in sorted(collapsed.items())]
    top, bottom = max(collapsed), min(collapsed)
    if len(collapsed) > 1 and collapsed[top] == collapsed[bottom]:
        advice = "raise group_size or max_draws"
    elif collapsed[top] >= collapsed[bottom] and top > 0:
        advice = "most groups were all at the top reward: use a harder task, or raise group_size or max_draws"
    else:
        advice = "most groups were all at the bottom reward: use an easier task or a stronger initial model, or raise group_size or max_draws"
    return f"{head}; dropped groups collapsed to {', '.join(parts)}; {advice}"


def first_row_values(rollouts: Rollouts, token_rewards: torch.Tensor, verdicts: bool = True) -> list[tuple]:
    """Per row: (summed reward, truncated, response length, then correct and parsed ok when
    ``verdicts``) -- what the rollout/* metrics average, gathered from every process before
    averaging. ``verdicts=False`` reads no verdict, so the verifier is not run for the metrics."""
    seq = sequence_rewards(token_rewards, rollouts.response_mask).tolist()
    rows = zip(seq, rollouts.truncated.tolist(), rollouts.response_lens.tolist())
    base = [(r, bool(t), int(n)) for r, t, n in rows]
    if not verdicts:
        return base
    return [row + (float(v.correct), v.parse_status == "ok") for row, v in zip(base, rollouts.verdicts)]


def verdict_metrics(correct: torch.Tensor | None = None, parse_ok: torch.Tensor | None = None) -> dict:
    """rollout/accuracy and rollout/parse_ok of the first draw; empty without verdict columns
    (``first_row_values(..., verdicts=False)``)."""
    if correct is None:
        return {}
    return {"rollout/accuracy": correct.mean().item(), "rollout/parse_ok": parse_ok.float().mean().item()}
