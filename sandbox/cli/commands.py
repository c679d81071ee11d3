"""``reward-sandbox train``, ``sft``, ``warmstart``, ``eval``, ``demo``, ``variants``:
their flags, and the one library call each hands them to."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from sandbox.cli.flags import add_task_args, add_threads, peek_task, presets, set_threads, task_from
from sandbox.config import add_dataclass_args, dataclass_from_args


def train_args(argv: list[str]) -> list[str]:
    """``--model`` is the documented spelling of ``--init`` (a preset, a checkpoint or hf:<dir>)."""
    return ["--init" if a == "--model" else "--init=" + a[len("--model="):] if a.startswith("--model=") else a for a in argv]


def add_train(parser, argv):
    from sandbox.train.recipes import RECIPES, warmstart_names
    from sandbox.train.rl import RLConfig

    parser.add_argument("--run-dir", type=Path, required=True, help="New run directory (or an existing one with --resume).")
    parser.add_argument("--resume", action="store_true", help="Continue the run in --run-dir from its newest checkpoint.")
    add_threads(parser, os.cpu_count() or 1)
    add_dataclass_args(parser, RLConfig, title="rl (--model is another spelling of --init)")
    # the task defaults to the one the initial model was trained on
    peek = argparse.ArgumentParser(add_help=False)
    peek.add_argument("--init", default=RLConfig.init)
    init = peek.parse_known_args(argv)[0].init
    task_name = peek_task(argv)
    preset = RECIPES[init].config if init in warmstart_names() else None
    defaults = preset.task_fields if preset is not None and preset.task == task_name else None
    add_task_args(parser, argv, defaults)


def run_train(args) -> int:
    from sandbox.train.launch import launch_rl
    from sandbox.train.rl import RLConfig

    cfg = dataclass_from_args(RLConfig, args)
    code = launch_rl(cfg, task_from(args), args.task, args.run_dir, args.resume, args.threads)
    if code == 0 and os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 owns the run directory
        save_run_plot(args.run_dir, f"{cfg.variant} from {cfg.init!r}")
    return code


def save_run_plot(run_dir: Path, title: str) -> Path:
    """``run_dir/metrics.png``: the run's accuracy curves (``sandbox.viz.plot_run``), printed."""
    from sandbox.train.run_dir import read_metrics
    from sandbox.viz import plot_run

    path = run_dir / "metrics.png"
    plot_run(read_metrics(run_dir / "metrics.jsonl")[0], title).savefig(path, dpi=120)
    print(f"plot: {path}")
    return path


def add_sft(parser, argv):
    from sandbox.model.model import ModelConfig
    from sandbox.model.tokenizer import CharTokenizer
    from sandbox.train.sft import SFTConfig

    parser.add_argument("--out", type=Path, required=True, help="New checkpoint directory (must not exist).")
    add_task_args(parser, argv)
    add_dataclass_args(parser, ModelConfig, prefix="model_", title="model")
    add_dataclass_args(parser, SFTConfig, prefix="sft_", title="sft")
    parser.set_defaults(model_vocab_size=CharTokenizer().vocab_size)


def run_sft(args) -> int:
    from sandbox.model.model import ModelConfig
    from sandbox.train.launch import sft_checkpoint
    from sandbox.train.sft import SFTConfig

    task = task_from(args)
    model_cfg = dataclass_from_args(ModelConfig, args, prefix="model_")
    return sft_checkpoint(task, args.task, model_cfg, dataclass_from_args(SFTConfig, args, prefix="sft_"), args.out)


def add_warmstart(parser, argv):
    parser.add_argument("--preset", default="tiny", choices=presets())
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads for training.")


def run_warmstart(args) -> int:
    from sandbox.train import recipes

    set_threads(args)
    existed = (recipes.path(args.preset) / "state.json").exists()
    path = recipes.build(args.preset)
    print(f"warm-start '{args.preset}': {path} ({'cached' if existed else 'built'})")
    return 0


def add_eval(parser, argv):
    parser.add_argument("--checkpoint", type=Path, required=True, help="Checkpoint directory.")
    parser.add_argument("--problems", type=int, default=512, help="Held-out problems for greedy accuracy.")
    parser.add_argument("--pass-k", type=int, default=0, help="Largest k of the pass@k curve (that many samples per problem; 0: no curve).")
    parser.add_argument("--pass-problems", type=int, default=128, help="Held-out problems for the pass@k curve.")
    parser.add_argument("--temperature", type=float, default=1.0, help="Sampling temperature of the pass@k samples.")
    parser.add_argument("--seed", type=int, default=0, help="Keys the pass@k samples.")
    parser.add_argument("--plot", type=Path, default=None, help="PNG file for the pass@k curve (with --pass-k; not overwritten).")
    parser.add_argument("--explore-exploit", type=int, default=0, metavar="N",
                        help="Also correlate exploration and exploitation over 4 sampled responses to each of N held-out problems, "
                        "at token level (entropy, confidence) and hidden-state level (effective rank, its velocity) (0: off).")
    add_threads(parser)
    add_task_args(parser, argv)


def run_eval(args) -> int:
    from sandbox.experiments.checkpoint_eval import evaluate_checkpoint
    from toy_envs.base import check

    check(args.plot is None or args.pass_k > 0, "--plot", "given with --pass-k N (N >= 1): it draws the pass@k curve", args.plot)
    check(args.plot is None or not args.plot.exists(), "--plot", "a file that does not exist yet (a plot is never overwritten)", args.plot)
    task = task_from(args)
    set_threads(args)
    metrics = evaluate_checkpoint(args.checkpoint, task, args.problems, args.pass_k, args.pass_problems, args.temperature, args.seed,
                                  args.explore_exploit)
    print(json.dumps(metrics, indent=2))
    if args.plot is not None:
        from sandbox.viz import plot_pass_at_k

        plot_pass_at_k({str(args.checkpoint): metrics}, args.pass_k).savefig(args.plot, dpi=100)
        print(f"pass@k curve: {args.plot}")
    return 0


def add_demo(parser, argv):
    parser.add_argument("--preset", default="tiny", choices=presets())
    parser.add_argument("--variant", default="outcome-grpo", help="Reward variant (reward-sandbox variants).")
    parser.add_argument("--steps", type=int, default=40, help="RL steps.")
    parser.add_argument("--run-dir", type=Path, default=None, help="Run directory (default: runs/demo-<time>).")


def run_demo(args) -> int:
    from sandbox.experiments.demo import run_demo

    return run_demo(args.preset, args.variant, args.steps, args.run_dir)


def add_variants(parser, argv):
    parser.add_argument("--explain", default="", metavar="NAME",
                        help="Print each piece of variant NAME (sources, filters, estimator, sampler, auxiliaries) with its file and equation.")


def run_variants(args) -> int:
    from sandbox.rewards.registry import VARIANTS

    if args.explain:
        from sandbox.rewards.explain import explain_variant

        print(explain_variant(args.explain))
        return 0
    width = max(map(len, VARIANTS))
    for name, variant in VARIANTS.items():
        print(f"{name:<{width}}  {variant.description}")
    return 0
