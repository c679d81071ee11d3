"""``reward-sandbox demo``: the warm start, then a short RL run at the defaults.

It prints greedy accuracy, pass@k and the fraction of rows with every step valid before and
after RL on 1024 held-out problems, the answers flipped on the drift probe, a plot of the
accuracy curves, and three greedy samples. The default is the seed-0 run of the defaults spec's
5-seed check (outcome-grpo, 40 steps of 32 problems x 8 rollouts; specs/defaults.toml, tutorials/guides/results.md).
"""

from __future__ import annotations

import copy
import os
import time
from dataclasses import asdict
from pathlib import Path

import torch


def run_demo(preset: str, variant: str, steps: int, run_dir: Path | None) -> int:
    """Run the demo (``run_dir`` default: ``runs/demo-<time>``); the exit code (130 when interrupted)."""
    from sandbox.eval.accuracy import default_max_new_tokens, greedy_responses
    from sandbox.model.policy import TinyPolicy
    from sandbox.model.tokenizer import CharTokenizer
    from sandbox.train import recipes
    from sandbox.train.rl import RLConfig, Trainer
    from sandbox.train.run_dir import RunDir
    from sandbox.viz import plot_run

    torch.set_num_threads(os.cpu_count() or 1)
    print(f"1) SFT warm start '{preset}' (trained once, then cached)...", flush=True)
    model, task, state = recipes.load(preset)
    tok = CharTokenizer()
    print(f"   {model.num_parameters():,}-parameter model, task {task.name} {state['task_fields']}")
    cfg = RLConfig(variant=variant, steps=steps, eval_every=10, eval_problems=1024, pass_problems=128, init=preset)
    cfg.validate()
    trainer = Trainer(cfg, task, TinyPolicy(model), None, TinyPolicy(copy.deepcopy(model)))  # checks variant and task first
    run_dir = run_dir or Path("runs") / f"demo-{time.strftime('%Y%m%d-%H%M%S')}"
    run = trainer.run = RunDir(run_dir, {"task": task.name, "task_fields": state["task_fields"], "rl": asdict(cfg)})
    print(f"2) RL with {cfg.variant!r} for {cfg.steps} steps ({cfg.problems_per_step} problems x {cfg.group_size} rollouts)...", flush=True)
    before = trainer.evaluate()
    run.log({"step": -1, **before})  # as `reward-sandbox train` logs it: before the first update (step 0)
    try:
        trainer.train()
    except KeyboardInterrupt:  # the trainer has said where the run stopped
        return 130
    finally:
        run.close()
    after = run.metrics()[-1]
    key_pass = f"eval/pass@{cfg.pass_k}"
    print(f"\n{'held-out (1024 problems)':<28} {'warm start':>10} {'after RL':>10}")
    for key, label in (("eval/accuracy", "greedy accuracy"), (key_pass, f"pass@{cfg.pass_k} (T=1, 128 problems)"), ("eval/all_steps_valid", "every step valid")):
        print(f"{label:<28} {before[key]:>10.3f} {after[key]:>10.3f}")
    print(f"{'answers flipped (64 probes)':<28} {'':>10} {after['drift/flipped_fraction']:>10.3f}")
    plot_run(run.metrics(), f"{cfg.variant} from the {preset!r} warm start").savefig(run_dir / "accuracy.png", dpi=120)
    problems = [task.problem(i, split="eval") for i in range(3)]
    for problem, text in zip(problems, greedy_responses(model, task, problems, tok, default_max_new_tokens(task))):
        verdict = task.score(problem, text)
        print(f"\nprompt: {task.prompt(problem)!r}\nsample: {text!r}  correct={verdict.correct} first_error={verdict.first_error}")
    print(f"\nmetrics: {run_dir / 'metrics.jsonl'}   plot: {run_dir / 'accuracy.png'}   tensorboard --logdir {run_dir / 'tb'}")
    return 0
