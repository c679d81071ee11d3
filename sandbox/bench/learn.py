"""Benchmark: wall-clock time for SFT + RL to reach a greedy accuracy target.

Task (fixed, the hard setting): 4-step arithmetic chains, start 1–99, operands 1–9, operators
+ − ×, no modulus. One SFT phase of a model trained from scratch (time-budgeted, evaluated as it
goes, its cosine schedule following the clock; the model's shape, learning rate, warm-up, batch
size and a curriculum of shorter chains first are settings) is run once and its time is counted
in every variant's total; then each variant trains from that SFT model until greedy
accuracy on ``eval_problems`` held-out problems reaches ``target`` or the total time reaches
``time_limit_s``. Evaluation time is included. Reported: the SFT phase's own time to target (the
first evaluation at or above it, if any), and per variant: time to target (or "not reached"),
accuracy at 3 and 6 minutes (the last evaluation before that time), and each phase's share of
the time (SFT, sampling, scoring, update, evaluation).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import torch

import toy_envs
from sandbox.config import check_tuple_fields
from sandbox.eval.accuracy import evaluate_accuracy
from sandbox.model.model import ModelConfig, TinyLlama
from sandbox.model.policy import TinyPolicy
from sandbox.model.tokenizer import CharTokenizer
from sandbox.train.rl import LARGE_UPDATE, RLConfig, Trainer
from sandbox.train.sft import SFTConfig, sft_batch, sft_loss
from sandbox.train.toolkit import cosine_decay, optimizer_step, set_learning_rate

TASK_FIELDS = {"n_steps": 4, "start_min": 1, "start_max": 99, "operand_min": 1, "operand_max": 9, "operators": "+-*"}


@dataclass
class LearnBenchConfig:
    variants: tuple[str, ...] = ("outcome-grpo", "dapo")
    """RL variants to time (empty: the SFT phase only)."""
    target: float = 0.95
    """Greedy held-out accuracy to reach."""
    time_limit_s: float = 360.0
    """Stop a variant when SFT + RL time reaches this."""
    sft_time_s: float = 180.0
    """Time budget of the SFT phase (then RL takes over)."""
    sft_lr: float = 2e-3
    """SFT peak learning rate: linear warm-up over ``sft_warmup_steps`` steps, then a cosine to 10%
    over the rest of the time budget ``sft_time_s`` (the schedule follows the clock, so it anneals
    fully on a machine of any speed and a model of any size; ``sft_steps_per_s``); 2e-3 was the best of a
    learning-rate x batch x curriculum sweep (tutorials/guides/results.md, "Benchmark: learning speed")."""
    sft_batch_size: int = 64
    """SFT problems per step."""
    sft_curriculum: tuple[int, ...] = ()
    """Chain lengths SFT trains on in turn, each for an equal share of sft_time_s, the last 4
    (empty: 4-step chains throughout)."""
    sft_length_buckets: int = 4
    """Forward passes per SFT step over the rows sorted by length, each cut to its longest row (the
    same loss, without most of the compute on padding: ``SFTConfig.length_buckets``); 4 took
    946-996 steps in 180 s where 1 took 902 and 8 took 827 (results.md, "Benchmark: learning speed")."""
    sft_steps_per_s: float = 0.0
    """0: the cosine follows the clock (below). Above 0: the cosine runs over the steps this many
    steps per second would take in ``sft_time_s`` (scaled by 64 / sft_batch_size), as the sweeps
    before the clock schedule were run; on a slower machine or a larger model it does not finish."""
    sft_warmup_steps: int = 20
    """Linear learning-rate warm-up steps before the cosine decay (``SFTConfig.warmup_steps``)."""
    d_model: int = 64
    """Residual stream width of the model trained from scratch (``ModelConfig``). 2 layers of width
    64 (0.12M parameters) reached 0.807-0.924 at 180 s over seeds 0-2 where the sandbox's 'tiny'
    shape (4 x 128, 0.9M) reached 0.615: a model this small takes 3-4 times the steps in the
    budget and learns more per second (results.md, "Benchmark: learning speed", the shape sweep)."""
    n_layers: int = 2
    """Transformer blocks of the model."""
    n_heads: int = 4
    """Attention heads (key/value heads the same)."""
    d_ff: int = 192
    """SwiGLU hidden width."""
    eval_every_s: float = 30.0
    """Evaluate about this often (evaluation time counts)."""
    eval_problems: int = 512
    """Held-out problems per evaluation."""
    threads: int = 2
    """torch threads."""
    seed: int = 0
    """Seed of model init and RL."""

    def validate(self) -> None:
        from sandbox.rewards.registry import get_variant
        from toy_envs.base import check

        check_tuple_fields(self)
        for name in self.variants:
            get_variant(name)
        check(0 < self.target <= 1, "target", "in (0, 1]", self.target)
        check(self.time_limit_s > self.sft_time_s > 0, "sft_time_s", "> 0 and < time_limit_s", self.sft_time_s)
        check(self.eval_every_s > 0, "eval_every_s", "> 0", self.eval_every_s)
        check(self.sft_lr > 0, "sft_lr", "> 0", self.sft_lr)
        check(self.sft_batch_size >= 1, "sft_batch_size", "an integer >= 1", self.sft_batch_size)
        check(1 <= self.sft_length_buckets <= self.sft_batch_size, "sft_length_buckets", "an integer in [1, sft_batch_size]",
              self.sft_length_buckets)
        check(all(1 <= n <= TASK_FIELDS["n_steps"] for n in self.sft_curriculum)
              and (not self.sft_curriculum or self.sft_curriculum[-1] == TASK_FIELDS["n_steps"]),
              "sft_curriculum", f"chain lengths in 1..{TASK_FIELDS['n_steps']} ending on {TASK_FIELDS['n_steps']} (or empty)",
              self.sft_curriculum)
        check(self.eval_problems >= 1, "eval_problems", ">= 1", self.eval_problems)
        check(self.sft_steps_per_s >= 0, "sft_steps_per_s", ">= 0 (0: the schedule follows the clock)", self.sft_steps_per_s)
        check(self.sft_warmup_steps >= 0, "sft_warmup_steps", "an integer >= 0", self.sft_warmup_steps)
        self.model_config().validate()

    def model_config(self) -> ModelConfig:
        """The model SFT trains from scratch: the sandbox's ``ModelConfig`` with this bench's shape."""
        return ModelConfig(vocab_size=CharTokenizer().vocab_size, d_model=self.d_model, n_layers=self.n_layers,
                           n_heads=self.n_heads, n_kv_heads=self.n_heads, d_ff=self.d_ff, max_seq_len=160)


def run_learn_bench(cfg: LearnBenchConfig, log=print) -> dict:
    cfg.validate()
    torch.set_num_threads(cfg.threads)
    task = toy_envs.make_task("arithmetic", **TASK_FIELDS)
    tok = CharTokenizer()
    torch.manual_seed(cfg.seed)
    model = TinyLlama(cfg.model_config())
    planned = max(1, int(cfg.sft_time_s * cfg.sft_steps_per_s * 64 / cfg.sft_batch_size))  # only where sft_steps_per_s > 0
    sft = SFTConfig(steps=planned, lr=cfg.sft_lr, batch_size=cfg.sft_batch_size, warmup_steps=cfg.sft_warmup_steps, eval_problems=0)
    lengths = cfg.sft_curriculum or (TASK_FIELDS["n_steps"],)
    stages = [toy_envs.make_task("arithmetic", **{**TASK_FIELDS, "n_steps": n}) for n in lengths]
    opt = torch.optim.AdamW(model.parameters(), lr=sft.lr, weight_decay=sft.weight_decay, betas=(0.9, 0.98))
    curve, phases = [], {"sft": 0.0, "evaluation": 0.0}
    start = time.perf_counter()
    last_eval, step = start, 0
    warmed_at = 0.0  # seconds into SFT when the warm-up ended

    def evaluate(elapsed_policy) -> float:
        t0 = time.perf_counter()
        acc = evaluate_accuracy(elapsed_policy, task, tok, cfg.eval_problems)["eval/accuracy"]
        phases["evaluation"] += time.perf_counter() - t0
        return acc

    while time.perf_counter() - start < cfg.sft_time_s:
        t0 = time.perf_counter()
        stage = stages[min(int((t0 - start) / cfg.sft_time_s * len(stages)), len(stages) - 1)]
        tokens, mask = sft_batch(stage, tok, range(step * sft.batch_size, (step + 1) * sft.batch_size))
        loss = sft_loss(model, tokens, mask, tok.pad_id, cfg.sft_length_buckets)
        set_learning_rate(opt, sft.lr_at(min(step, planned - 1)) if cfg.sft_steps_per_s
                          else sft_learning_rate(sft, step, t0 - start, warmed_at, cfg.sft_time_s))
        optimizer_step(opt, loss, model.parameters(), sft.grad_clip)
        step += 1
        if step == sft.warmup_steps:
            warmed_at = time.perf_counter() - start
        phases["sft"] += time.perf_counter() - t0
        if time.perf_counter() - last_eval >= cfg.eval_every_s:
            curve.append((time.perf_counter() - start, "sft", evaluate(model)))
            last_eval = time.perf_counter()
            log(f"sft step {step}: {curve[-1][0]:.0f} s, greedy accuracy {curve[-1][2]:.3f}", flush=True)
    curve.append((time.perf_counter() - start, "sft", evaluate(model)))  # where RL starts from
    log(f"sft done, step {step}: {curve[-1][0]:.0f} s, greedy accuracy {curve[-1][2]:.3f}", flush=True)
    sft_elapsed = time.perf_counter() - start
    sft_curve = list(curve)
    sft_phases = dict(phases)
    results = {"sft_steps": step, "sft_seconds": sft_elapsed, "sft_curve": sft_curve,
               "sft_seconds_to_target": next((t for t, _, a in sft_curve if a >= cfg.target), None), "variants": {}}
    for variant in cfg.variants:
        policy = TinyPolicy(copy.deepcopy(model))
        rl = RLConfig(variant=variant, seed=cfg.seed, steps=10**9, eval_every=0, eval_problems=0, pass_problems=0, max_draws=32,
                      progress=False, **LARGE_UPDATE)  # the update its figures in tutorials/guides/results.md were measured with
        trainer = Trainer(rl, task, policy)
        curve, phases = list(sft_curve), {**sft_phases, "sampling": 0.0, "scoring": 0.0, "update": 0.0}
        clock = sft_elapsed
        reached = next((t for t, _, a in curve if a >= cfg.target), None)
        since_eval = 0.0
        while reached is None and clock < cfg.time_limit_s:
            t0 = time.perf_counter()
            m = trainer.train_step()
            clock += time.perf_counter() - t0
            phases["sampling"] += m["time/sample_s"]
            phases["scoring"] += m["time/reward_s"]
            phases["update"] += m.get("time/update_s", 0.0)
            since_eval += time.perf_counter() - t0
            if since_eval >= cfg.eval_every_s:
                t0 = time.perf_counter()
                acc = evaluate(policy)
                clock += time.perf_counter() - t0
                since_eval = 0.0
                curve.append((clock, variant, acc))
                log(f"{variant} step {trainer.step}: {clock:.0f} s, greedy accuracy {acc:.3f}", flush=True)
                if acc >= cfg.target:
                    reached = clock
        total = sum(phases.values())
        results["variants"][variant] = {
            "seconds_to_target": reached,
            "accuracy_at_180s": _accuracy_at(curve, 180.0),
            "accuracy_at_360s": _accuracy_at(curve, 360.0),
            "final_accuracy": curve[-1][2] if curve else None,
            "rl_steps": trainer.step,
            "phase_share": {k: v / total for k, v in phases.items()},
            "curve": curve,
        }
    return results


def sft_learning_rate(sft: SFTConfig, step: int, elapsed_s: float, warmed_at_s: float, budget_s: float) -> float:
    """SFT's learning rate at ``step``, ``elapsed_s`` into a time budget of ``budget_s``: the linear
    warm-up over ``sft.warmup_steps`` steps (``SFTConfig.lr_at``), then the cosine decay to
    ``sft.lr · sft.min_lr_ratio`` over the time left after the warm-up ended (at ``warmed_at_s``)."""
    if step < sft.warmup_steps:
        return sft.lr_at(step)
    return cosine_decay((elapsed_s - warmed_at_s) / max(budget_s - warmed_at_s, 1e-9), sft.lr, sft.min_lr_ratio)


def _accuracy_at(curve, seconds: float):
    before = [a for t, _, a in curve if t <= seconds]
    return before[-1] if before else None


def format_learn_bench(results: dict, cfg: LearnBenchConfig) -> str:
    lines = [
        f"learning benchmark: 4-step chains (+-*, start 1-99), target greedy accuracy {cfg.target} on "
        f"{cfg.eval_problems} held-out problems, SFT {results['sft_steps']} steps in {results['sft_seconds']:.0f} s",
        f"{'variant':<14} {'time to target':>15} {'acc@3min':>9} {'acc@6min':>9} {'final':>7}  phase shares",
    ]
    lines.append("SFT: " + ", ".join(f"{a:.3f} at {t:.0f} s" for t, _, a in results["sft_curve"]))
    reached = results["sft_seconds_to_target"]
    lines.append(f"SFT alone reached {cfg.target} at the evaluation at {reached:.0f} s" if reached is not None
                 else f"SFT alone did not reach {cfg.target} in {results['sft_seconds']:.0f} s")
    times = {}
    for name, r in results["variants"].items():
        reached = f"{r['seconds_to_target']:.0f} s" if r["seconds_to_target"] is not None else "not reached"
        times[name] = r["seconds_to_target"]
        shares = ", ".join(f"{k} {v:.0%}" for k, v in r["phase_share"].items())
        fmt = lambda x: "-" if x is None else f"{x:.3f}"  # noqa: E731
        lines.append(
            f"{name:<14} {reached:>15} {fmt(r['accuracy_at_180s']):>9} {fmt(r['accuracy_at_360s']):>9} "
            f"{fmt(r['final_accuracy']):>7}  {shares}"
        )
    names = list(times)
    if len(names) == 2 and all(times[n] is not None for n in names):
        lines.append(f"ratio {names[0]} / {names[1]}: {times[names[0]] / times[names[1]]:.2f}")
    return "\n".join(lines)
