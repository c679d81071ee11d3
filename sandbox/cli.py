"""The ``reward-sandbox`` command.

    reward-sandbox demo                          warm start, then outcome-grpo at the RL defaults: accuracy before/after, samples
    reward-sandbox train --variant dapo --seed 0 --run-dir runs/x [--resume] [rl, --task-* flags]
    reward-sandbox train --model hf:DIR --device cuda --precision bf16 [--gradient-checkpointing] [--fsdp] ...
    reward-sandbox variants                      the registered reward variants, one line each
    reward-sandbox sft --task arithmetic --out DIR [--task-*, --model-*, --sft-* flags]
    reward-sandbox warmstart --preset tiny       build (or find) the cached warm-start checkpoint
    reward-sandbox eval --checkpoint DIR --task arithmetic [--pass-k 64] [--task-* flags]
    reward-sandbox bench sampler                 our sampler vs transformers generate()
    reward-sandbox bench learn                   time for SFT + RL to reach 95% on 4-step chains
    reward-sandbox bench learn --testbed edge    RL at the edge of competence: 1% vs 0% exposure to long chains
        [--edge-presets edge-tree,edge-tree-control]     the same on tree puzzles (depth 3 after depths 1-2)
    reward-sandbox prm train --train-labels mc-hard --out DIR    train a PRM on chosen step labels
    reward-sandbox prm bench [--scorers ... --budgets ...]      label agreement + toy ProcessBench table
    reward-sandbox prm recipe --name tiny-mc                   build (or find) a cached PRM recipe
    reward-sandbox prm search --n-max 8 [--beam]                best-of-N (and step-level beam search) guided by a trained PRM
    reward-sandbox prm stepwiser --seeds 0,1,2 [--judge-labels rel-ratio]   StepWiser chunk judge: GRPO vs cold start
    reward-sandbox prm judge [--chains 1,2,4,8 --passes 1,2]    ThinkPRM-style judges: ProcessBench, parallel/sequential scaling
    reward-sandbox prm judge-recipe --name tiny-thinkprm        build (or find) a cached ThinkPRM judge recipe (genprm)
    reward-sandbox sweep --out DIR --grid 'lr=1e-5,3e-5' --variants outcome-grpo,random,sft --seeds 0,1,2
                                                 a grid of RL runs x variants x seeds: a table of accuracy change and drift
    reward-sandbox bench tree                    tree sampling vs independent: tokens and time per leaf
    reward-sandbox bench hack                    hack rate, P(well-formed), P(correct | wf): gate vs dense rubric
    reward-sandbox bench scale [--device cuda --precision bf16 ...]   tokens/s and MFU of a larger model

Every config field is a flag with its one-line doc (``--help``); a bad value is rejected with
one message naming the field before any compute.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch

import toy_envs
from sandbox.config import add_dataclass_args, dataclass_from_args
from sandbox.errors import RunError
from toy_envs.base import ConfigError, check


def _task_from(args, argv_task: str):
    return dataclass_from_args(toy_envs.TASKS[argv_task], args, prefix="task_")


def _peek_task(argv: list[str]) -> str:
    """The ``--task`` value (so the task's own fields can be added as flags)."""
    peek = argparse.ArgumentParser(add_help=False)
    peek.add_argument("--task", default="arithmetic")
    known, _ = peek.parse_known_args(argv)
    if known.task not in toy_envs.TASKS:
        raise ConfigError(f"task={known.task!r} is not allowed: one of {sorted(toy_envs.TASKS)}")
    return known.task


def _add_task_args(parser: argparse.ArgumentParser, task_name: str, defaults: dict | None = None) -> None:
    parser.add_argument("--task", default="arithmetic", choices=sorted(toy_envs.TASKS), help="Task to train/evaluate on.")
    add_dataclass_args(parser, toy_envs.TASKS[task_name], prefix="task_", title=f"task '{task_name}' fields (--task-*)")
    if defaults:
        parser.set_defaults(**{f"task_{k}": v for k, v in defaults.items()})


def cmd_sft(argv: list[str]) -> int:
    from sandbox.model.model import ModelConfig
    from sandbox.model.tokenizer import CharTokenizer
    from sandbox.train.checkpoint import save_checkpoint
    from sandbox.train.sft import SFTConfig, train_sft_with_optimizer

    task_name = _peek_task(argv)
    parser = argparse.ArgumentParser(prog="reward-sandbox sft", description="Supervised warm start on gold solutions.")
    parser.add_argument("--out", type=Path, required=True, help="New checkpoint directory (must not exist).")
    _add_task_args(parser, task_name)
    add_dataclass_args(parser, ModelConfig, prefix="model_", title="model")
    add_dataclass_args(parser, SFTConfig, prefix="sft_", title="sft")
    parser.set_defaults(model_vocab_size=CharTokenizer().vocab_size)
    args = parser.parse_args(argv)
    if args.out.exists():
        raise ConfigError(f"out={str(args.out)!r} is not allowed: it already exists (runs are never overwritten)")
    task = _task_from(args, task_name)
    model_cfg = dataclass_from_args(ModelConfig, args, prefix="model_")
    sft_cfg = dataclass_from_args(SFTConfig, args, prefix="sft_")
    try:
        model, summary, optimizer = train_sft_with_optimizer(task, model_cfg, sft_cfg)
    except KeyboardInterrupt:  # SFT writes its checkpoint only when done and does not resume
        print(f"\ninterrupted: nothing was written to {args.out}", file=sys.stderr)
        return 130
    state = {"task": task_name, "task_fields": _fields(task), "summary": summary}
    save_checkpoint(args.out, model, state, optimizer, by_name=True)  # the AdamW state: RL's --init-optimizer-state
    print(json.dumps({k: v for k, v in summary.items() if k != "sft/config"}, indent=2))
    print(f"checkpoint: {args.out}")
    return 0


def _set_threads(threads: int) -> None:
    """``torch.set_num_threads`` after checking the ``--threads`` value (no silent clamping)."""
    check(threads >= 1, "threads", "an integer >= 1", threads)
    torch.set_num_threads(threads)


def _fields(task) -> dict:
    import dataclasses

    return {f.name: getattr(task, f.name) for f in dataclasses.fields(task) if f.init}


def cmd_warmstart(argv: list[str]) -> int:
    from sandbox.train.warmstart import PRESETS, preset_path, warmstart

    parser = argparse.ArgumentParser(prog="reward-sandbox warmstart", description="Build or find a cached warm-start checkpoint.")
    parser.add_argument("--preset", default="tiny", choices=sorted(PRESETS))
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads for training.")
    args = parser.parse_args(argv)
    _set_threads(args.threads)
    existed = (preset_path(args.preset) / "state.json").exists()
    path = warmstart(args.preset, progress=True)
    print(f"warm-start '{args.preset}': {path} ({'cached' if existed else 'built'})")
    return 0


def cmd_eval(argv: list[str]) -> int:
    from sandbox.eval.accuracy import default_max_new_tokens, evaluate_accuracy
    from sandbox.eval.pass_at_k import evaluate_pass_curve
    from sandbox.model.policy import TinyPolicy
    from sandbox.model.sampler import SamplingConfig
    from sandbox.model.tokenizer import CharTokenizer
    from sandbox.train.checkpoint import load_checkpoint

    task_name = _peek_task(argv)
    parser = argparse.ArgumentParser(
        prog="reward-sandbox eval",
        description="Held-out greedy and process-verified accuracy (per length), and the pass@k curve, of a checkpoint.",
    )
    parser.add_argument("--checkpoint", type=Path, required=True, help="Checkpoint directory.")
    parser.add_argument("--problems", type=int, default=512, help="Held-out problems for greedy accuracy.")
    parser.add_argument("--pass-k", type=int, default=0, help="Largest k of the pass@k curve (that many samples per problem; 0: no curve).")
    parser.add_argument("--pass-problems", type=int, default=128, help="Held-out problems for the pass@k curve.")
    parser.add_argument("--temperature", type=float, default=1.0, help="Sampling temperature of the pass@k samples.")
    parser.add_argument("--seed", type=int, default=0, help="Keys the pass@k samples.")
    parser.add_argument("--threads", type=int, default=1, help="torch threads.")
    _add_task_args(parser, task_name)
    args = parser.parse_args(argv)
    task = _task_from(args, task_name)
    for name in ("problems", "pass_problems"):
        if getattr(args, name) < 1:
            raise ConfigError(f"{name}={getattr(args, name)} is not allowed: an integer >= 1")
    if args.pass_k < 0:
        raise ConfigError(f"pass_k={args.pass_k} is not allowed: an integer >= 0")
    if not args.temperature > 0:
        raise ConfigError(f"temperature={args.temperature} is not allowed: > 0")
    torch.set_num_threads(max(1, args.threads))
    model, _ = load_checkpoint(args.checkpoint)
    budget = default_max_new_tokens(task)
    metrics = evaluate_accuracy(model, task, CharTokenizer(), args.problems, budget)
    if args.pass_k:
        sampling = SamplingConfig(max_new_tokens=budget, temperature=args.temperature)
        metrics.update(evaluate_pass_curve(TinyPolicy(model), task, args.pass_k, args.pass_problems, sampling, args.seed))
    print(json.dumps(metrics, indent=2))
    return 0


def cmd_bench(argv: list[str]) -> int:
    from sandbox.bench.edge import EdgeBenchConfig, format_edge_bench, run_edge_bench
    from sandbox.bench.hack import HackBenchConfig, format_hack_bench, run_hack_bench
    from sandbox.bench.learn import LearnBenchConfig, format_learn_bench, run_learn_bench
    from sandbox.bench.sampler import SamplerBenchConfig, format_sampler_bench, run_sampler_bench
    from sandbox.bench.scale import ScaleBenchConfig, format_scale_bench, run_scale_bench
    from sandbox.bench.tree import TreeBenchConfig, format_tree_bench, run_tree_bench

    parser = argparse.ArgumentParser(prog="reward-sandbox bench", description="Benchmarks (ratios measured side by side).")
    sub = parser.add_subparsers(dest="which", required=True)
    sampler = sub.add_parser("sampler", help="Sandbox KV-cache sampler vs transformers generate().")
    add_dataclass_args(sampler, SamplerBenchConfig)
    sampler.add_argument("--json", type=Path, default=None, help="Also write the results to this JSON file.")
    learn = sub.add_parser(
        "learn",
        help="Wall-clock time of SFT + RL to a greedy accuracy target, per variant; or (--testbed edge) RL at the edge "
        "of competence from warm starts with and without a little exposure to longer chains (or deeper tree puzzles).",
    )
    learn.add_argument("--testbed", default="speed", choices=["speed", "edge"],
                       help="speed: time to the accuracy target (--* flags); edge: the edge-of-competence comparison (--edge-* flags).")
    add_dataclass_args(learn, LearnBenchConfig, title="speed testbed")
    add_dataclass_args(learn, EdgeBenchConfig, prefix="edge_", title="edge testbed (--edge-*)")
    learn.add_argument("--json", type=Path, default=None, help="Also write the results to this JSON file.")
    tree = sub.add_parser("tree", help="Tree sampling vs independent sampling: generated/prefill tokens and time per leaf.")
    add_dataclass_args(tree, TreeBenchConfig)
    tree.add_argument("--json", type=Path, default=None, help="Also write the results to this JSON file.")
    scale = sub.add_parser("scale", help="Train a larger sandbox model on longer chains: tokens/s and model FLOPs utilisation.")
    add_dataclass_args(scale, ScaleBenchConfig)
    scale.add_argument("--json", type=Path, default=None, help="Also write the results to this JSON file.")
    hack = sub.add_parser("hack", help="Rubric as a gate vs as a dense reward: hack rate, P(well-formed), P(correct | well-formed).")
    add_dataclass_args(hack, HackBenchConfig)
    hack.add_argument("--json", type=Path, default=None, help="Also write the results to this JSON file.")
    args = parser.parse_args(argv)
    if args.which == "hack":
        cfg = dataclass_from_args(HackBenchConfig, args)
        results = run_hack_bench(cfg)
        print(format_hack_bench(results, cfg))
    elif args.which == "scale":
        cfg = dataclass_from_args(ScaleBenchConfig, args)
        results = run_scale_bench(cfg)
        print(format_scale_bench(results))
    elif args.which == "tree":
        cfg = dataclass_from_args(TreeBenchConfig, args)
        results = run_tree_bench(cfg)
        print(format_tree_bench(results, cfg))
    elif args.which == "learn" and args.testbed == "edge":
        cfg = dataclass_from_args(EdgeBenchConfig, args, prefix="edge_")
        results = run_edge_bench(cfg)
        print(format_edge_bench(results, cfg))
    elif args.which == "learn":
        cfg = dataclass_from_args(LearnBenchConfig, args)
        results = run_learn_bench(cfg)
        print(format_learn_bench(results, cfg))
    else:
        cfg = dataclass_from_args(SamplerBenchConfig, args)
        results = run_sampler_bench(cfg)
        print(format_sampler_bench(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def cmd_sweep(argv: list[str]) -> int:
    from sandbox.experiments.sweep import SweepConfig, format_sweep, run_sweep

    parser = argparse.ArgumentParser(prog="reward-sandbox sweep", description="A grid of ordinary RL runs (settings x variants x seeds) "
                                     "from one warm start; prints the change of greedy held-out accuracy and the drift per setting.")
    add_dataclass_args(parser, SweepConfig)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run.")
    parser.add_argument("--json", type=Path, default=None, help="Also write the results to this JSON file.")
    args = parser.parse_args(argv)
    cfg = dataclass_from_args(SweepConfig, args)
    check(args.threads >= 1, "threads", "an integer >= 1", args.threads)
    results = run_sweep(cfg, args.threads)
    print(format_sweep(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def cmd_demo(argv: list[str]) -> int:
    import copy
    import time
    from dataclasses import asdict

    from matplotlib.figure import Figure

    from sandbox.eval.accuracy import default_max_new_tokens, greedy_responses
    from sandbox.model.policy import TinyPolicy
    from sandbox.model.tokenizer import CharTokenizer
    from sandbox.train.rl import RLConfig, Trainer
    from sandbox.train.run_dir import RunDir
    from sandbox.train.warmstart import PRESETS, load_warmstart
    from sandbox.viz import plot_curves

    parser = argparse.ArgumentParser(prog="reward-sandbox demo", description="Warm start, then a short outcome-reward RL run at the defaults.")
    # The clean warm start at the RL defaults: the seed-0 run of the README's 5-seed check
    # (outcome-grpo, 40 steps of 32 problems x 8 rollouts, 1024 held-out problems).
    parser.add_argument("--preset", default="tiny", choices=sorted(PRESETS))
    parser.add_argument("--variant", default="outcome-grpo", help="Reward variant (reward-sandbox variants).")
    parser.add_argument("--steps", type=int, default=40, help="RL steps.")
    parser.add_argument("--run-dir", type=Path, default=None, help="Run directory (default: runs/demo-<time>).")
    args = parser.parse_args(argv)
    torch.set_num_threads(os.cpu_count() or 1)
    print(f"1) SFT warm start '{args.preset}' (trained once, then cached)...", flush=True)
    model, task, state = load_warmstart(args.preset)
    tok = CharTokenizer()
    print(f"   {model.num_parameters():,}-parameter model, task {task.name} {state['task_fields']}")
    cfg = RLConfig(variant=args.variant, steps=args.steps, eval_every=10, eval_problems=1024, pass_problems=128)
    cfg.validate()
    run_dir = args.run_dir or Path("runs") / f"demo-{time.strftime('%Y%m%d-%H%M%S')}"
    run = RunDir(run_dir, {"task": task.name, "task_fields": state["task_fields"], "rl": asdict(cfg)})
    trainer = Trainer(cfg, task, TinyPolicy(model), run, TinyPolicy(copy.deepcopy(model)))
    print(f"2) RL with {cfg.variant!r} for {cfg.steps} steps ({cfg.problems_per_step} problems x {cfg.group_size} rollouts)...", flush=True)
    before = trainer.evaluate()
    run.log({"step": 0, **before})
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
    fig = Figure(figsize=(6, 3.5))
    ax = fig.add_subplot()
    history = [{"step": 0, **before}] + [{**m, "step": m["step"] + 1} for m in run.metrics()[1:]]
    plot_curves({"greedy, held-out": history}, "eval/accuracy", ax=ax)
    plot_curves({"rollouts (T=1), training batch": history}, "rollout/accuracy", ax=ax)
    ax.set_title(f"{cfg.variant} from the {args.preset!r} warm start")
    ax.set_xlabel("RL step")
    ax.set_ylabel("accuracy")
    ax.legend()
    fig.tight_layout()
    fig.savefig(run_dir / "accuracy.png", dpi=120)
    problems = [task.problem(i, split="eval") for i in range(3)]
    for problem, text in zip(problems, greedy_responses(model, task, problems, tok, default_max_new_tokens(task))):
        verdict = task.score(problem, text)
        print(f"\nprompt: {task.prompt(problem)!r}\nsample: {text!r}  correct={verdict.correct} first_error={verdict.first_error}")
    print(f"\nmetrics: {run_dir / 'metrics.jsonl'}   plot: {run_dir / 'accuracy.png'}   tensorboard --logdir {run_dir / 'tb'}")
    return 0


def _load_init(init: str):
    """(model, task name, task fields) of a warm-start preset name or a checkpoint directory."""
    from sandbox.train.checkpoint import load_checkpoint
    from sandbox.train.warmstart import PRESETS, load_warmstart

    if init in PRESETS:
        model, task, state = load_warmstart(init)
        return model, state["task"], state["task_fields"]
    if not Path(init).is_dir():
        raise ConfigError(
            f"init={init!r} is not allowed: a warm-start preset {sorted(PRESETS)}, a checkpoint directory "
            "or hf:<a local Hugging Face model directory>"
        )
    try:
        model, state = load_checkpoint(init)
    except RunError as err:  # no state.json, a damaged file
        raise ConfigError(f"init={init!r} is not allowed: {err}") from None
    return model, state.get("task", "arithmetic"), state.get("task_fields", {})


def _load_policies(init: str):
    """(policy, frozen reference policy) for ``RLConfig.init``: a tiny model, or with
    ``hf:<dir>`` any local ``AutoModelForCausalLM`` directory (``sandbox.model.hf_tokenizer``).
    Both are loaded on the CPU; the trainer moves them to ``RLConfig.device``."""
    import copy

    from sandbox.model.policy import TinyPolicy

    if init.startswith("hf:"):
        from sandbox.model.hf_tokenizer import load_hf_policy

        check(Path(init[3:]).is_dir(), "init", "hf:<a local Hugging Face model directory> (this one does not exist)", init)
        policy = load_hf_policy(init[3:])
        reference = type(policy)(copy.deepcopy(policy.module).eval(), policy.tokenizer)
        return policy, reference
    model, _, _ = _load_init(init)
    return TinyPolicy(model), TinyPolicy(copy.deepcopy(model).eval())


def cmd_train(argv: list[str]) -> int:
    from dataclasses import asdict

    from sandbox.train.distributed import barrier, current_world
    from sandbox.train.interrupts import graceful_stop
    from sandbox.train.rl import RLConfig, Trainer, check_task_size
    from sandbox.train.run_dir import RunDir, check_run_path, load_newest_checkpoint

    # --model is the documented spelling of --init (a preset, a checkpoint or hf:<dir>)
    argv = ["--init" if a == "--model" else "--init=" + a[len("--model="):] if a.startswith("--model=") else a for a in argv]
    peek = argparse.ArgumentParser(add_help=False)
    peek.add_argument("--init", default=RLConfig.init)
    init = peek.parse_known_args(argv)[0].init
    task_name = _peek_task(argv)
    parser = argparse.ArgumentParser(
        prog="reward-sandbox train", description="RL from a warm start with a registered reward variant."
    )
    parser.add_argument("--run-dir", type=Path, required=True, help="New run directory (or an existing one with --resume).")
    parser.add_argument("--resume", action="store_true", help="Continue the run in --run-dir from its newest checkpoint.")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads.")
    add_dataclass_args(parser, RLConfig, title="rl (--model is another spelling of --init)")
    # the task defaults to the one the initial model was trained on
    from sandbox.train.warmstart import PRESETS

    defaults = PRESETS[init].task_fields if init in PRESETS and PRESETS[init].task == task_name else None
    _add_task_args(parser, task_name, defaults)
    args = parser.parse_args(argv)
    cfg = dataclass_from_args(RLConfig, args)
    task = _task_from(args, task_name)
    check_task_size(cfg, task)
    # everything is checked before the first side effect (the run directory), so a corrected
    # command never meets a directory its failed attempt left behind
    world = current_world()
    writer = world.rank == 0  # several processes (torchrun -m sandbox.train): rank 0 alone owns the run directory
    if writer:
        check_run_path(args.run_dir, args.resume)
    _set_threads(args.threads)
    if args.resume and cfg.fsdp:
        raise ConfigError("fsdp=True is not allowed with --resume: FSDP checkpoints hold no optimizer state")
    policy, reference = _load_policies(cfg.init)
    config = {"task": task_name, "task_fields": _fields(task), "rl": asdict(cfg)}
    if not writer:
        cfg.progress = False
    trainer = Trainer(cfg, task, policy, None, reference)  # checks the world size, FSDP, the variant's models
    run = trainer.run = RunDir(args.run_dir, config, resume=args.resume) if writer else None
    with graceful_stop("rl run"):  # Ctrl-C during the first evaluation stops before step 0, too
        try:
            step = 0
            if args.resume:
                barrier(world)
                step = run.resume(trainer) if writer else load_newest_checkpoint(args.run_dir, trainer, report=lambda _: None)
                if writer:
                    print(f"resuming {args.run_dir} at step {step}")
            if step == 0:
                before = trainer.evaluate_on_rank0()  # every process calls it (FSDP gathers weights); rank 0 evaluates
                if writer:
                    run.log({"step": -1, **before})
            trainer.train()
        except KeyboardInterrupt:
            return 130
        finally:
            if run is not None:
                run.close()
    if not writer:
        return 0
    history = run.metrics()
    first = next((m for m in history if "eval/accuracy" in m), None)
    last = next((m for m in reversed(history) if "eval/accuracy" in m), None)
    if first and last:
        print(f"\n{'metric':<24} {'start':>8} {'end':>8}")
        for key in ("eval/accuracy", "eval/process_accuracy", f"eval/pass@{cfg.pass_k}", f"eval/process_pass@{cfg.pass_k}", "calib/ece", "calib/brier", "calib/auroc"):
            if key in first and key in last:
                print(f"{key:<24} {first[key]:>8.3f} {last[key]:>8.3f}")
    print(f"run directory: {args.run_dir}")
    return 0


def cmd_prm(argv: list[str]) -> int:
    from sandbox.eval.prm_table import PRMTableConfig, format_prm_table, run_prm_table
    from sandbox.model.policy import TinyPolicy
    from sandbox.prm.discriminative import save_scorer
    from sandbox.prm.recipes import PRM_RECIPES, prm_checkpoint
    from sandbox.train.prm_train import PRMTrainConfig, train_prm
    from sandbox.train.warmstart import PRESETS, load_warmstart

    parser = argparse.ArgumentParser(prog="reward-sandbox prm", description="Process reward models: train one, or run the toy ProcessBench.")
    sub = parser.add_subparsers(dest="which", required=True)
    train = sub.add_parser("train", help="Train a PRM (or ORM) on policy samples with a chosen label source; save it.")
    train.add_argument("--init", default="tiny", choices=sorted(PRESETS), help="Warm start: the policy and the PRM's backbone.")
    train.add_argument("--out", type=Path, required=True, help="New PRM checkpoint directory (usable as RLConfig.prm).")
    add_dataclass_args(train, PRMTrainConfig, prefix="train_", title="prm training (--train-*)")
    bench = sub.add_parser("bench", help="Label agreement with the oracle and the toy ProcessBench table (F1 per scorer and label budget).")
    add_dataclass_args(bench, PRMTableConfig, title="processbench")
    add_dataclass_args(bench, PRMTrainConfig, prefix="train_", title="prm training (--train-*)")
    bench.add_argument("--json", type=Path, default=None, help="Also write the results to this JSON file.")
    recipe = sub.add_parser("recipe", help="Build (or find) the cached PRM of a recipe (what prm-mc / prm-rpe load).")
    recipe.add_argument("--name", required=True, choices=sorted(PRM_RECIPES))
    search = sub.add_parser("search", help="Best-of-N on held-out problems reranked by a trained PRM: accuracy vs N.")
    search.add_argument("--init", default="tiny", choices=sorted(PRESETS), help="Warm start: the policy and the PRM's backbone.")
    search.add_argument("--problems", type=int, default=256, help="Held-out problems.")
    search.add_argument("--n-max", type=int, default=8, help="Samples per problem (N = 1, 2, 4, ... up to this).")
    search.add_argument("--beam", action="store_true", help="Also step-level beam search with N = B*E samples per round (B = E or E = 2B), ranked by the PRM and by the oracle.")
    add_dataclass_args(search, PRMTrainConfig, prefix="train_", title="prm training (--train-*)")
    from sandbox.prm.judge_recipes import STEPWISER_RECIPES
    from sandbox.prm.stepwiser_judge import StepWiserConfig

    stepwiser = sub.add_parser("stepwiser", help="StepWiser chunk judge: SFT cold start then GRPO; held-out verdict accuracy and toy ProcessBench F1 per seed.")
    stepwiser.add_argument("--init", default="tiny", choices=sorted(PRESETS), help="Warm start: the policy whose samples make the chunks, and the judge's backbone.")
    stepwiser.add_argument("--seeds", default="0,1,2", help="Training seeds, comma-separated.")
    stepwiser.add_argument("--bench-problems", type=int, default=128, help="Eval problems of the toy ProcessBench (4 samples each).")
    stepwiser.add_argument("--recipe", default="", choices=["", *sorted(STEPWISER_RECIPES)], help="Only build (or find) this cached judge recipe.")
    stepwiser.add_argument("--json", type=Path, default=None, help="Also write the results to this JSON file.")
    add_dataclass_args(stepwiser, StepWiserConfig, prefix="judge_", title="stepwiser judge (--judge-*)")
    from sandbox.eval.judge_table import JudgeTableConfig, format_judge_table, run_judge_table
    from sandbox.prm.judge_recipes import JUDGE_RECIPES, judge_checkpoint

    judge = sub.add_parser("judge", help="ThinkPRM-style judges (teacher/student of a judge recipe) on the toy ProcessBench: "
                           "N chains, passes, baselines, best-of-N.")
    add_dataclass_args(judge, JudgeTableConfig, title="judge table")
    judge.add_argument("--json", type=Path, default=None, help="Also write the results to this JSON file.")
    judge_recipe = sub.add_parser("judge-recipe", help="Build (or find) the cached ThinkPRM judges of a recipe (what genprm loads).")
    judge_recipe.add_argument("--name", required=True, choices=sorted(JUDGE_RECIPES))
    for p in (train, bench, recipe, search, stepwiser, judge, judge_recipe):
        p.add_argument("--threads", type=int, default=1, help="torch threads.")
    args = parser.parse_args(argv)
    _set_threads(args.threads)
    if args.which == "judge-recipe":
        print(f"judge recipe '{args.name}': {judge_checkpoint(args.name)}")
        return 0
    if args.which == "judge":
        results = run_judge_table(dataclass_from_args(JudgeTableConfig, args))
        print(format_judge_table(results))
        print(f"({results['seconds']:.0f} s)")
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
        return 0
    if args.which == "recipe":
        print(f"PRM recipe '{args.name}': {prm_checkpoint(args.name)}")
        return 0
    if args.which == "stepwiser":
        return stepwiser_command(args)
    train_cfg = dataclass_from_args(PRMTrainConfig, args, prefix="train_")
    if args.which == "search":
        return prm_search_table(args, train_cfg)
    if args.which == "train":
        if args.out.exists():
            raise ConfigError(f"out={str(args.out)!r} is not allowed: it already exists (checkpoints are never overwritten)")
        model, task, state = load_warmstart(args.init)
        scorer, info = train_prm(TinyPolicy(model), task, train_cfg)
        save_scorer(args.out, scorer, {"init": args.init, "task": state["task"], "task_fields": state["task_fields"], **info})
        print(json.dumps(info, indent=2))
        print(f"PRM checkpoint: {args.out}  (reward-sandbox train --variant prm-mc --prm {args.out} ...)")
        return 0
    cfg = dataclass_from_args(PRMTableConfig, args)
    results = run_prm_table(cfg, train_cfg)
    print(format_prm_table(results))
    print(f"({results['seconds']:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def stepwiser_command(args) -> int:
    """``reward-sandbox prm stepwiser``: build a cached judge recipe, or train per seed and print the table."""
    from sandbox.eval.stepwiser_bench import format_stepwiser_report, stepwiser_report
    from sandbox.prm.judge_recipes import stepwiser_checkpoint
    from sandbox.prm.stepwiser_judge import StepWiserConfig

    if args.recipe:
        print(f"StepWiser judge recipe '{args.recipe}': {stepwiser_checkpoint(args.recipe)}")
        return 0
    cfg = dataclass_from_args(StepWiserConfig, args, prefix="judge_")
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        raise ConfigError(f"seeds={args.seeds!r} is not allowed: comma-separated integers, e.g. 0,1,2") from None
    report = stepwiser_report(cfg, seeds, args.init, args.bench_problems)
    print(format_stepwiser_report(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


def prm_search_table(args, train_cfg) -> int:
    """``reward-sandbox prm search``: train a PRM, rerank best-of-N by each aggregation, print accuracy vs N."""
    from sandbox.eval.beam_search import beam_search_accuracy
    from sandbox.eval.prm_search import best_of_n, sample_candidates
    from sandbox.model.policy import TinyPolicy
    from sandbox.prm.aggregate import AGGREGATIONS, aggregate
    from sandbox.prm.discriminative import step_scores
    from sandbox.prm.oracle_labels import oracle_labels
    from sandbox.train.prm_train import train_prm
    from sandbox.train.warmstart import load_warmstart

    if args.problems < 1 or args.n_max < 1:
        raise ConfigError(f"problems={args.problems}, n_max={args.n_max} are not allowed: integers >= 1")
    model, task, _ = load_warmstart(args.init)
    policy = TinyPolicy(model)
    scorer, _ = train_prm(policy, task, train_cfg)
    candidates = sample_candidates(policy, task, args.problems, args.n_max, seed=train_cfg.seed)
    scores = step_scores(scorer, candidates)
    ns = [n for n in (1, 2, 4, 8, 16, 32, 64) if n <= args.n_max]
    print("| reranker | " + " | ".join(f"N={n}" for n in ns) + " |")
    print("|---|" + "---|" * len(ns))
    for how in AGGREGATIONS:
        table = best_of_n(candidates, [aggregate(s, how) for s in scores], args.n_max, ns)
        print(f"| PRM ({train_cfg.labels}), {how} | " + " | ".join(f"{table[n]['accuracy']:.3f}" for n in ns) + " |")
    print("| pass@N (a perfect reranker) | " + " | ".join(f"{table[n]['pass']:.3f}" for n in ns) + " |")
    if args.beam:
        problems = [task.problem(i, split="eval") for i in range(args.problems)]
        guides = {f"PRM ({train_cfg.labels})": lambda r: step_scores(scorer, r), "oracle step validity": lambda r: oracle_labels(r.verdicts, "valid")}
        for name, score_fn in guides.items():
            for how in ("last", "min"):
                accs = [beam_search_accuracy(policy, task, problems, score_fn, beam_config(n, how, train_cfg.seed)) for n in ns]
                print(f"| beam search, {name}, {how} | " + " | ".join(f"{a:.3f}" for a in accs) + " |")
    return 0


def beam_config(n: int, how: str, seed: int):
    """N = B·E samples per round with B the largest power of two whose square is at most N."""
    from sandbox.eval.beam_search import BeamSearchConfig

    width = 1
    while (2 * width) ** 2 <= n:
        width *= 2
    return BeamSearchConfig(beam_width=width, expansions=max(1, n // width), aggregation=how, seed=seed)


def cmd_variants(argv: list[str]) -> int:
    from sandbox.rewards.registry import VARIANTS

    argparse.ArgumentParser(prog="reward-sandbox variants", description="List the reward variants.").parse_args(argv)
    width = max(map(len, VARIANTS))
    for name, variant in VARIANTS.items():
        print(f"{name:<{width}}  {variant.description}")
    return 0


COMMANDS = {"prm": cmd_prm, "demo": cmd_demo, "sweep": cmd_sweep, "train": cmd_train, "variants": cmd_variants, "sft": cmd_sft, "warmstart": cmd_warmstart, "eval": cmd_eval, "bench": cmd_bench}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in {"-h", "--help"} or argv[0] not in COMMANDS:
        print(__doc__)
        return 0 if argv and argv[0] in {"-h", "--help"} else 2
    try:
        return COMMANDS[argv[0]](argv[1:])
    except ConfigError as err:
        print(f"reward-sandbox: error: {err}", file=sys.stderr)
        return 2
    except RunError as err:  # a non-finite value, a damaged file, refills out of draws
        print(f"reward-sandbox: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
