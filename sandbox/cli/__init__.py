"""The ``reward-sandbox`` command.

    reward-sandbox demo                          warm start, then outcome-grpo at the RL defaults: accuracy before/after, samples
    reward-sandbox train --variant dapo --seed 0 --run-dir runs/x [--resume] [rl, --task-* flags]
    reward-sandbox train --model hf:DIR --device cuda --precision bf16 [--gradient-checkpointing] [--fsdp] ...
    reward-sandbox variants                      the registered reward variants, one line each
    reward-sandbox variants --explain prime      one variant piece by piece: each piece's file and equation
    reward-sandbox sft --task arithmetic --out DIR [--task-*, --model-*, --sft-* flags]
    reward-sandbox warmstart --preset tiny       build (or find) the cached warm-start checkpoint
    reward-sandbox eval --checkpoint DIR --task arithmetic [--pass-k 64] [--task-* flags]
    reward-sandbox bench sampler                 our sampler vs transformers generate()
    reward-sandbox bench learn                   time for SFT + RL to reach 95% on 4-step chains
    reward-sandbox bench learn --testbed edge    RL at the edge of competence: 1% vs 0% exposure to long chains
        [--edge-presets edge-tree,edge-tree-control]     the same on tree puzzles (depth 3 after depths 1-2)
    reward-sandbox prm train --train-labels mc-hard --out DIR    train a PRM on chosen step labels
    reward-sandbox prm bench [--scorers ... --budgets ...]      label agreement + toy ProcessBench table
    reward-sandbox prm recipe --name tiny-mc                   build (or find) a cached PRM or judge (tiny-thinkprm, tiny-stepwiser, ...)
    reward-sandbox prm search --n-max 8 [--beam]                best-of-N (and step-level beam search) guided by a trained PRM
    reward-sandbox prm stepwiser --seeds 0,1,2 [--judge-labels rel-ratio]   StepWiser chunk judge: GRPO vs cold start
    reward-sandbox prm judge [--chains 1,2,4,8 --passes 1,2]    ThinkPRM-style judges: ProcessBench, parallel/sequential scaling
    reward-sandbox prm mcts [--simulations 32 --branches 3]     MCTS step values (AlphaLLM) as labels vs MC labels at equal samples
    reward-sandbox experiment run sandbox/experiments/specs/X.toml --out DIR [--workers 2] [--shard i/n]
                                                 a spec's grid of RL runs (settings x variants x seeds), resumable
    reward-sandbox experiment report DIR [--json OUT]   per metric: mean, 95% CI, paired difference vs the baseline; costs; plots
    reward-sandbox experiment archive DIR DEST   its records without weights (to report it, or continue it elsewhere)
    reward-sandbox experiment check SPEC         validate a spec and list its runs
    reward-sandbox bench tree                    tree sampling vs independent: tokens and time per leaf
    reward-sandbox bench hack                    hack rate, P(well-formed), P(correct | wf): gate vs dense rubric
    reward-sandbox bench scale [--device cuda --precision bf16 ...]   tokens/s and MFU of a larger model
    reward-sandbox bench trl                     RL steps/s and tokens/s: reward-sandbox train vs TRL's GRPOTrainer

Every config field is a flag with its one-line doc (``--help``); a bad value is rejected with
one message naming the field before any compute.
"""

from __future__ import annotations

import sys

from sandbox.cli import commands
from sandbox.cli.bench import BENCH
from sandbox.cli.experiment import EXPERIMENT
from sandbox.cli.flags import Command, add_threads, dispatch, set_threads
from sandbox.cli.prm import PRM
from sandbox.errors import RunError
from toy_envs.base import ConfigError


COMMANDS = {
    "prm": Command("Process reward models: train one, or run the toy ProcessBench.", before=set_threads, subcommands=PRM, shared=add_threads),
    "demo": Command("Warm start, then a short outcome-reward RL run at the defaults.", commands.add_demo, commands.run_demo),
    "experiment": Command("Experiments as spec files: run a grid of ordinary RL runs (settings x variants x seeds), report it.",
                          subcommands=EXPERIMENT),
    "train": Command("RL from a warm start with a registered reward variant.", commands.add_train, commands.run_train, respell=commands.train_args),
    "variants": Command("List the reward variants.", commands.add_variants, commands.run_variants),
    "sft": Command("Supervised warm start on gold solutions.", commands.add_sft, commands.run_sft),
    "warmstart": Command("Build or find a cached warm-start checkpoint.", commands.add_warmstart, commands.run_warmstart),
    "eval": Command("Held-out greedy and process-verified accuracy (per length), and the pass@k curve, of a checkpoint.", commands.add_eval, commands.run_eval),
    "bench": Command("Benchmarks (ratios measured side by side).", subcommands=BENCH),
}
"""Every ``reward-sandbox`` subcommand (``prm`` and ``bench`` have their own tables)."""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in {"-h", "--help"} or argv[0] not in COMMANDS:
        print(__doc__)
        return 0 if argv and argv[0] in {"-h", "--help"} else 2
    name, rest = argv[0], argv[1:]
    try:
        return dispatch(name, COMMANDS[name], COMMANDS[name].respell(rest))
    except ConfigError as err:
        print(f"reward-sandbox: error: {err}", file=sys.stderr)
        return 2
    except RunError as err:  # a non-finite value, a damaged file, refills out of draws
        print(f"reward-sandbox: error: {err}", file=sys.stderr)
        return 1

