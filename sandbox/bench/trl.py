"""Benchmark: RL steps of the sandbox's trainer against TRL's ``GRPOTrainer``.

Both train the same weights (a warm-start preset; TRL gets them exported to a local Hugging Face
directory, ``sandbox.model.hf.export_hf``, loaded as ``LlamaForCausalLM`` in float32) on the same
task reward (``outcome-grpo``: 1 for a correct answer; TRL calls it through the project's adapter,
``sandbox.interop.trl.trl_reward``), on the same problems (train problems 0, 1, 2, ... in order:
the sandbox's problem stream, TRL's dataset with shuffling off), with

    problems per step P, group size G        TRL: per-device batch = generation batch = P·G rows,
                                             num_generations = G, one process
    response budget                          TRL: max_completion_length
    one optimizer step per batch             sandbox: ppo_epochs 1, minibatches 1;
                                             TRL: num_iterations 1, steps_per_generation 1,
                                             gradient_accumulation_steps 1
    AdamW lr, betas, eps, weight decay       the sandbox's RLConfig defaults for all but lr;
                                             TRL: optim adamw_torch (the same torch.optim.AdamW)
    constant learning rate                   sandbox: warmup_steps 0; TRL: lr_scheduler constant
    gradient clip 1.0                        TRL: max_grad_norm
    no KL, no reference forward              sandbox: kl_coef 0 (the variant's); TRL: beta 0
    temperature 1, top-p 1, no top-k         TRL: top_k 0
    group z-scored advantages, seq-mean-token-mean loss
                                             TRL: scale_rewards group, loss_type grpo
    ε = 0.2 ratio clip on both sides
    float32 on the CPU, no gradient checkpointing, no compilation
                                             TRL: use_cpu, bf16/fp16 off, gradient_checkpointing off
    ``threads`` torch threads                one process runs both (torch.set_num_threads)
    no evaluation, checkpoints or progress bars
                                             sandbox: eval/pass@k/drift/effective-rank off, no run
                                             directory; TRL: eval and save strategy no, logging
                                             strategy no, report_to none, tqdm off

Timing. Each repeat builds a fresh trainer of each kind from the same weights (the setup seconds:
loading the preset, building the trainer; for TRL also loading the exported directory), runs one
warm-up step (reported, not timed into the rate) and then ``steps`` timed steps: the sandbox's
``Trainer.train_step`` calls back to back; TRL's ``trainer.train()`` with ``max_steps = steps + 1``,
timed from the end of its first step to the end of its last (``on_step_end`` of a callback), so the
Hugging Face Trainer loop's own overhead between steps counts. Repeats alternate which trainer goes
first (sandbox, TRL; TRL, sandbox; ...), so a loaded machine's state hits both alike; each rate is
the median over repeats. Importing TRL and exporting the weights happen once, before the first
repeat, and are reported separately. Generated tokens are what each sampled, ``<eos>`` included:
the sandbox's ``rollout/generated_tokens`` per step, and for TRL the lengths of the completion ids
handed to the reward function (its completions are cut after the first ``<eos>``, ``<eos>`` kept).
Both sides also count the rows of every step, so a test can check that they trained alike.

Settings that cannot be matched (also printed with the results, ``UNMATCHED``):

- Generation: the sandbox samples with its own decode loop (a preallocated KV cache written in
  slices, inference mode, per-row keyed noise); TRL calls ``transformers`` ``generate()`` (its
  cache classes, logits processors, stopping criteria). Both left-align the prompts and keep
  computing a finished row until every row of the batch has ended or the budget is reached; only
  the sampled tokens count as generated. The two draw different random samples, so their
  completion lengths (and tokens per step) differ; tokens/s is printed beside steps/s for that.
- The model code: the sandbox's ``TinyLlama`` against ``transformers``' ``LlamaForCausalLM`` (its
  attention implementation, its cache classes) on the same weights.
- The update's padding: the sandbox right-pads each batch to its longest prompt + response; TRL
  concatenates left-padded prompts and right-padded completions.
- Behaviour log-probs: the sandbox's sampler returns them; TRL with one iteration takes the
  detached log-probs of the update's own forward. Neither makes an extra forward.
- Advantage ε: (R − mean)/(std + 1e-6) in the sandbox, + 1e-4 in TRL.
- Dual clip: the sandbox's loss bounds negative-advantage tokens at −A·3 (dual-clip PPO); TRL has
  no such bound. With one update per batch the ratio is 1, so neither clip is active.
- Reward: the sandbox scores its rollouts in the collector; TRL decodes completions to text and the
  adapter rebuilds the problems, verdicts and a placeholder ``Rollouts`` before the same registry
  call.
- Bookkeeping: each trainer's own per-step metrics (the sandbox's rollout/loss/cost metrics, TRL's
  reward, length, entropy and clip statistics) are part of its step time.
"""

from __future__ import annotations

import copy
import statistics
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from sandbox.model.hf import export_hf
from sandbox.model.tokenizer import CharTokenizer

VARIANT = "outcome-grpo"
"""The reward and advantage both trainers use (TRL: ``scale_rewards='group'``, ``loss_type='grpo'``)."""

UNMATCHED = (
    "generation: the sandbox's own decode loop (preallocated KV cache, keyed per-row noise) vs transformers "
    "generate(); different random samples, so different completion lengths (compare tok/s too)",
    "model code: sandbox TinyLlama vs transformers LlamaForCausalLM (same weights)",
    "update padding: sandbox right-pads prompt+response; TRL left-pads prompts, right-pads completions",
    "behaviour log-probs: from the sandbox sampler; TRL (1 iteration) detaches the update's forward",
    "advantage: (R - mean)/(std + 1e-6) in the sandbox, + 1e-4 in TRL",
    "dual clip (C = 3) in the sandbox loss only; inactive at ratio 1 (one update per batch)",
    "reward: scored in the sandbox collector vs TRL decoding text through the adapter (same registry call)",
    "per-step bookkeeping: each trainer's own metrics count in its step time",
)


@dataclass
class TrlBenchConfig:
    problems_per_step: int = 16
    """Problems per RL step, P (both trainers)."""
    group_size: int = 8
    """Rollouts per problem, G (TRL: num_generations)."""
    max_new_tokens: int = 38
    """Response budget in tokens (TRL: max_completion_length)."""
    lr: float = 5e-5
    """AdamW learning rate of both (constant)."""
    steps: int = 6
    """Timed RL steps per repeat, after one warm-up step."""
    repeats: int = 3
    """Repeats per trainer, alternating (the median is reported)."""
    threads: int = 1
    """torch threads for both."""
    preset: str = "tiny"
    """Warm-start preset whose weights both trainers start from."""
    seed: int = 0
    """Seed of both trainers."""
    update_buckets: int = 1
    """The sandbox trainer's forward passes per minibatch over its rows sorted by length
    (``RLConfig.update_buckets``; TRL pads the whole batch and has no such setting)."""

    def validate(self) -> None:
        from sandbox.config import check_finite_fields
        from sandbox.train.recipes import warmstart_names
        from toy_envs.base import check

        check_finite_fields(self)
        check(self.problems_per_step >= 1, "problems_per_step", "an integer >= 1", self.problems_per_step)
        check(self.group_size >= 2, "group_size", "an integer >= 2 (a group's std needs two rows)", self.group_size)
        check(self.max_new_tokens >= 1, "max_new_tokens", "an integer >= 1", self.max_new_tokens)
        check(self.lr > 0, "lr", "> 0", self.lr)
        check(self.steps >= 1, "steps", "an integer >= 1", self.steps)
        check(self.repeats >= 1, "repeats", "an integer >= 1", self.repeats)
        check(self.threads >= 1, "threads", "an integer >= 1", self.threads)
        check(self.seed >= 0, "seed", "an integer >= 0", self.seed)
        check(self.update_buckets >= 1, "update_buckets", "an integer >= 1", self.update_buckets)
        check(self.preset in warmstart_names(), "preset", f"a warm-start preset {warmstart_names()}", self.preset)

    def rl_config(self):
        """The sandbox trainer's settings: RLConfig's defaults (AdamW betas, eps, weight decay,
        grad clip, clip ε, the variant's loss) with this bench's sizes, a constant lr and every
        measurement off."""
        from sandbox.train.rl_config import RLConfig

        return RLConfig(
            variant=VARIANT, seed=self.seed, steps=self.steps + 1, problems_per_step=self.problems_per_step,
            group_size=self.group_size, temperature=1.0, top_p=1.0, max_new_tokens=self.max_new_tokens, lr=self.lr,
            warmup_steps=0, ppo_epochs=1, minibatches=1, kl_coef=0.0, eval_every=0, eval_problems=0, pass_problems=0,
            drift_every=0, checkpoint_every=0, init=self.preset, progress=False, effective_rank=False,
            device="cpu", precision="fp32", update_buckets=self.update_buckets,
        )

    def grpo_config(self, output_dir: str):
        """TRL's settings, matched to ``rl_config`` field by field (see the module docstring)."""
        from trl import GRPOConfig

        rl = self.rl_config()
        rows = self.problems_per_step * self.group_size
        return GRPOConfig(
            output_dir=output_dir, max_steps=self.steps + 1, per_device_train_batch_size=rows,
            gradient_accumulation_steps=1, steps_per_generation=1, num_generations=self.group_size, num_iterations=1,
            max_completion_length=self.max_new_tokens, temperature=rl.temperature, top_p=rl.top_p, top_k=0,
            learning_rate=self.lr, lr_scheduler_type="constant", warmup_steps=0, optim="adamw_torch",
            adam_beta1=rl.adam_betas[0], adam_beta2=rl.adam_betas[1], adam_epsilon=rl.adam_eps,
            weight_decay=rl.weight_decay, max_grad_norm=rl.grad_clip, beta=0.0, epsilon=0.2,
            scale_rewards="group", loss_type="grpo", shuffle_dataset=False, use_cpu=True, bf16=False, fp16=False,
            gradient_checkpointing=False, eval_strategy="no", save_strategy="no", logging_strategy="no",
            report_to="none", disable_tqdm=True, seed=self.seed, dataloader_num_workers=0,
        )


def run_trl_bench(cfg: TrlBenchConfig, log=print) -> dict:
    """Both trainers, ``repeats`` times each, alternating; see the module docstring."""
    from sandbox.train import recipes
    from sandbox.train.launch import set_threads

    cfg.validate()
    set_threads(cfg.threads)
    start = time.perf_counter()
    import transformers
    import trl

    import_s = time.perf_counter() - start
    runs: dict[str, list[dict]] = {"sandbox": [], "trl": []}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        model, task, _ = recipes.load(cfg.preset)
        hf_dir = Path(tmp) / "hf"
        export_hf(model, CharTokenizer(), hf_dir)
        export_s = time.perf_counter() - start
        parameters = model.num_parameters()
        for repeat in range(cfg.repeats):
            order = ("sandbox", "trl") if repeat % 2 == 0 else ("trl", "sandbox")
            for name in order:
                run = sandbox_repeat(cfg) if name == "sandbox" else trl_repeat(cfg, hf_dir, task, f"{tmp}/out{repeat}")
                runs[name].append(run)
                log(f"repeat {repeat + 1}/{cfg.repeats} {name}: {run['seconds'] / run['steps']:.3f} s/step, "
                    f"{run['generated_tokens'] / run['seconds']:,.0f} tok/s", flush=True)
    results = {name: summary(entries) for name, entries in runs.items()}
    results["trl"]["import_s"] = import_s
    results["trl"]["export_s"] = export_s
    results["ratio"] = {
        "steps_per_s": results["sandbox"]["steps_per_s"] / results["trl"]["steps_per_s"],
        "tokens_per_s": results["sandbox"]["tokens_per_s"] / results["trl"]["tokens_per_s"],
    }
    rl = cfg.rl_config()
    results["setup"] = {
        "preset": cfg.preset, "parameters": parameters, "variant": VARIANT,
        "problems_per_step": cfg.problems_per_step, "group_size": cfg.group_size,
        "rows_per_step": cfg.problems_per_step * cfg.group_size, "max_new_tokens": cfg.max_new_tokens,
        "lr": cfg.lr, "adam_betas": list(rl.adam_betas), "adam_eps": rl.adam_eps, "weight_decay": rl.weight_decay,
        "grad_clip": rl.grad_clip, "steps": cfg.steps, "repeats": cfg.repeats, "threads": cfg.threads,
        "threads_after": torch.get_num_threads(), "torch": torch.__version__,
        "transformers": transformers.__version__, "trl": trl.__version__,
    }
    results["unmatched"] = list(UNMATCHED)
    return results


def sandbox_repeat(cfg: TrlBenchConfig) -> dict:
    """One repeat of the sandbox trainer: policy and frozen reference as ``launch.load_policies``
    makes them for a preset, ``Trainer`` without a run directory, one warm-up step, ``steps`` timed."""
    from sandbox.model.policy import TinyPolicy
    from sandbox.train import recipes
    from sandbox.train.rl import Trainer

    start = time.perf_counter()
    model, task, _ = recipes.load(cfg.preset)
    trainer = Trainer(cfg.rl_config(), task, TinyPolicy(model), None, TinyPolicy(copy.deepcopy(model).eval()))
    setup_s = time.perf_counter() - start
    rows: list[int] = []
    collect = trainer.collect

    def counted():
        batch = collect()
        rows.append(batch.sampled_rows)
        return batch

    trainer.collect = counted
    start = time.perf_counter()
    trainer.train_step()
    warmup_s = time.perf_counter() - start
    start = time.perf_counter()
    metrics = [trainer.train_step() for _ in range(cfg.steps)]
    seconds = time.perf_counter() - start
    return {
        "setup_s": setup_s, "warmup_step_s": warmup_s, "seconds": seconds, "steps": len(metrics),
        "rows_per_step": rows[1:], "generated_tokens": sum(m["rollout/generated_tokens"] for m in metrics),
        "parts_s": {part: sum(m.get(f"time/{part}_s", 0.0) for m in metrics) for part in ("sample", "reward", "update")},
    }


def trl_repeat(cfg: TrlBenchConfig, hf_dir: Path, task, output_dir: str) -> dict:
    """One repeat of TRL: the exported weights loaded afresh, ``GRPOTrainer`` with the sandbox
    reward through the adapter (wrapped to count rows and completion tokens), ``steps + 1`` steps
    of which the first is the warm-up."""
    from transformers import LlamaForCausalLM, PrinterCallback, TrainerCallback
    from transformers.utils import logging as hf_logging
    from trl import GRPOTrainer

    from sandbox.interop.tokenizer import char_tokenizer_fast
    from sandbox.interop.trl import trl_dataset, trl_reward

    class StepClock(TrainerCallback):
        """The time at the end of every optimizer step."""

        def __init__(self):
            self.begins: list[float] = []
            self.ends: list[float] = []

        def on_step_begin(self, args, state, control, **kwargs):
            self.begins.append(time.perf_counter())

        def on_step_end(self, args, state, control, **kwargs):
            self.ends.append(time.perf_counter())

    hf_logging.disable_progress_bar()
    start = time.perf_counter()
    model = LlamaForCausalLM.from_pretrained(hf_dir, dtype=torch.float32)
    reward = trl_reward(VARIANT, task, seed=cfg.seed, max_new_tokens=cfg.max_new_tokens)
    calls: list[tuple[int, int]] = []

    def counted(prompts, completions, completion_ids=None, **kwargs):
        calls.append((len(completions), sum(len(ids) for ids in completion_ids)))
        return reward(prompts=prompts, completions=completions, completion_ids=completion_ids, **kwargs)

    counted.__name__ = reward.__name__
    clock = StepClock()
    with warnings.catch_warnings():  # transformers' rename of gradient_checkpointing, which TRL's config still sets
        warnings.simplefilter("ignore", FutureWarning)
        trainer = GRPOTrainer(
            model=model, reward_funcs=[counted], args=cfg.grpo_config(output_dir),
            train_dataset=trl_dataset(task, cfg.problems_per_step * (cfg.steps + 1)),
            processing_class=char_tokenizer_fast(), callbacks=[clock],
        )
    trainer.remove_callback(PrinterCallback)  # its end-of-training summary line
    setup_s = time.perf_counter() - start
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        trainer.train()
    steps = trainer.state.global_step - 1
    return {
        "setup_s": setup_s, "warmup_step_s": clock.ends[0] - clock.begins[0],
        "seconds": clock.ends[-1] - clock.ends[0], "steps": steps,
        "rows_per_step": [n for n, _ in calls[1:]], "generated_tokens": sum(tokens for _, tokens in calls[1:]),
        "gradient_checkpointing": bool(getattr(trainer.model, "is_activation_checkpointing", False)),
    }


def summary(entries: list[dict]) -> dict:
    """Medians over repeats of one trainer, and every repeat's raw figures."""
    per_step = [e["seconds"] / e["steps"] for e in entries]
    out = {
        "seconds_per_step": statistics.median(per_step),
        "steps_per_s": 1 / statistics.median(per_step),
        "tokens_per_s": statistics.median(e["generated_tokens"] / e["seconds"] for e in entries),
        "tokens_per_step": statistics.median(e["generated_tokens"] / e["steps"] for e in entries),
        "setup_s": statistics.median(e["setup_s"] for e in entries),
        "steps": [e["steps"] for e in entries],
        "rows_per_step": sorted({rows for e in entries for rows in e["rows_per_step"]}),
        "repeats": entries,
    }
    out["warmup_step_s"] = statistics.median(e["warmup_step_s"] for e in entries)
    if all("parts_s" in e for e in entries):
        out["parts_s_per_step"] = {
            part: statistics.median(e["parts_s"][part] / e["steps"] for e in entries) for part in entries[0]["parts_s"]
        }
    return out


def format_trl_bench(results: dict, cfg: TrlBenchConfig) -> str:
    setup, sandbox, trl_ = results["setup"], results["sandbox"], results["trl"]
    lines = [
        f"RL steps, reward-sandbox train vs TRL {setup['trl']} GRPOTrainer: '{setup['preset']}' "
        f"({setup['parameters']:,} parameters), {setup['variant']}, {cfg.problems_per_step} problems x "
        f"{cfg.group_size} rollouts, budget {cfg.max_new_tokens} tokens, lr {cfg.lr:g} (AdamW betas "
        f"{tuple(setup['adam_betas'])}, eps {setup['adam_eps']:g}, wd {setup['weight_decay']:g}, clip {setup['grad_clip']:g}), "
        f"{cfg.threads} thread(s); {cfg.steps} timed steps after 1 warm-up, median of {cfg.repeats} alternating repeats"
        + (f"; sandbox update in {cfg.update_buckets} length buckets" if cfg.update_buckets > 1 else ""),
        f"{'':<24}{'sandbox':>12}{'TRL':>12}{'sandbox/TRL':>13}",
    ]
    rows = [
        ("s/step", "seconds_per_step", "{:.3f}", 1 / results["ratio"]["steps_per_s"]),
        ("steps/s", "steps_per_s", "{:.3f}", results["ratio"]["steps_per_s"]),
        ("generated tok/s", "tokens_per_s", "{:,.0f}", results["ratio"]["tokens_per_s"]),
        ("generated tok/step", "tokens_per_step", "{:,.0f}", None),
        ("setup s (per repeat)", "setup_s", "{:.2f}", None),
        ("warm-up step s", "warmup_step_s", "{:.2f}", None),
    ]
    for label, key, fmt, ratio in rows:
        ours = fmt.format(sandbox[key]) if key in sandbox else "-"
        theirs = fmt.format(trl_[key]) if key in trl_ else "-"
        lines.append(f"{label:<24}{ours:>12}{theirs:>12}{'' if ratio is None else f'{ratio:.2f}x':>13}")
    parts = sandbox.get("parts_s_per_step")
    if parts:
        lines.append("sandbox step parts (s/step): " + ", ".join(f"{k} {v:.3f}" for k, v in parts.items()))
    lines.append(f"once: import TRL {trl_['import_s']:.1f} s, load + export weights {trl_['export_s']:.2f} s")
    lines.append("not matched:")
    lines += [f"  - {item}" for item in results["unmatched"]]
    return "\n".join(lines)
