"""``reward-sandbox prm ...``: process reward models and judges (train, tables, cached recipes)."""

from __future__ import annotations

from pathlib import Path

from sandbox.cli.flags import Command, add_init, add_json, report
from sandbox.config import add_dataclass_args, dataclass_from_args, parse_tuple



def _add_prm_train_config(parser):
    from sandbox.train.prm_train import PRMTrainConfig

    add_dataclass_args(parser, PRMTrainConfig, prefix="train_", title="prm training (--train-*)")


def _prm_train_config(args):
    from sandbox.train.prm_train import PRMTrainConfig

    return dataclass_from_args(PRMTrainConfig, args, prefix="train_")


def _add_prm_train(parser, argv):
    add_init(parser)
    parser.add_argument("--out", type=Path, required=True, help="New PRM checkpoint directory (usable as RLConfig.prm).")
    _add_prm_train_config(parser)


def _run_prm_train(args) -> int:
    from sandbox.train.launch import prm_checkpoint_from

    return prm_checkpoint_from(args.init, _prm_train_config(args), args.out)


def _add_prm_bench(parser, argv):
    from sandbox.experiments.prm_table import PRMTableConfig

    add_dataclass_args(parser, PRMTableConfig, title="processbench")
    _add_prm_train_config(parser)
    add_json(parser)


def _run_prm_bench(args) -> int:
    from sandbox.experiments.prm_table import PRMTableConfig, format_prm_table, run_prm_table

    cfg = dataclass_from_args(PRMTableConfig, args)
    results = run_prm_table(cfg, _prm_train_config(args))
    return report(args, results, f"{format_prm_table(results)}\n({results['seconds']:.0f} s)")


def _add_prm_recipe(parser, argv):
    from sandbox.train.recipes import RECIPES

    names = sorted(name for name, recipe in RECIPES.items() if recipe.kind != "warmstart")  # warm starts: reward-sandbox warmstart
    parser.add_argument("--name", required=True, choices=names, help="A cached PRM, ThinkPRM judge or StepWiser judge (sandbox.train.recipes).")


def _run_prm_recipe(args) -> int:
    from sandbox.train import recipes

    print(f"{recipes.RECIPES[args.name].kind} recipe '{args.name}': {recipes.build(args.name)}")
    return 0


def _add_prm_search(parser, argv):
    add_init(parser)
    parser.add_argument("--problems", type=int, default=256, help="Held-out problems.")
    parser.add_argument("--n-max", type=int, default=8, help="Samples per problem (N = 1, 2, 4, ... up to this).")
    parser.add_argument("--beam", action="store_true", help="Also step-level beam search with N = B*E samples per round (B = E or E = 2B), ranked by the PRM and by the oracle.")
    _add_prm_train_config(parser)


def _run_prm_search(args) -> int:
    from sandbox.experiments.prm_search_table import prm_search_table

    prm_search_table(args.init, args.problems, args.n_max, args.beam, _prm_train_config(args))
    return 0


def _add_prm_stepwiser(parser, argv):
    from sandbox.train.stepwiser_train import StepWiserConfig

    add_init(parser, "Warm start: the policy whose samples make the chunks, and the judge's backbone.")
    parser.add_argument("--seeds", default="0,1,2", metavar="INT,...", help="Training seeds, comma-separated (default: 0,1,2).")
    parser.add_argument("--bench-problems", type=int, default=128, help="Eval problems of the toy ProcessBench (4 samples each).")
    add_json(parser)
    add_dataclass_args(parser, StepWiserConfig, prefix="judge_", title="stepwiser judge (--judge-*)")


def _run_prm_stepwiser(args) -> int:
    """Train per seed and print the table (the cached judge of a recipe: ``prm recipe``)."""
    from sandbox.experiments.stepwiser_bench import format_stepwiser_report, stepwiser_report
    from sandbox.train.stepwiser_train import StepWiserConfig

    cfg = dataclass_from_args(StepWiserConfig, args, prefix="judge_")
    results = stepwiser_report(cfg, parse_tuple("seeds", args.seeds, tuple[int, ...]), args.init, args.bench_problems)
    return report(args, results, format_stepwiser_report(results))


def _add_prm_judge(parser, argv):
    from sandbox.experiments.judge_table import JudgeTableConfig

    add_dataclass_args(parser, JudgeTableConfig, title="judge table")
    add_json(parser)


def _run_prm_judge(args) -> int:
    from sandbox.experiments.judge_table import JudgeTableConfig, format_judge_table, run_judge_table

    results = run_judge_table(dataclass_from_args(JudgeTableConfig, args))
    return report(args, results, f"{format_judge_table(results)}\n({results['seconds']:.0f} s)")


def _add_prm_mcts(parser, argv):
    from sandbox.experiments.mcts_table import MCTSTableConfig

    add_dataclass_args(parser, MCTSTableConfig, title="mcts labels")
    add_json(parser)


def _run_prm_mcts(args) -> int:
    from sandbox.experiments.mcts_table import MCTSTableConfig, format_mcts_table, run_mcts_table

    results = run_mcts_table(dataclass_from_args(MCTSTableConfig, args))
    return report(args, results, f"{format_mcts_table(results)}\n({results['seconds']:.0f} s)")


PRM = {
    "train": Command("Train a PRM (or ORM) on policy samples with a chosen label source; save it.", _add_prm_train, _run_prm_train),
    "bench": Command("Label agreement with the oracle and the toy ProcessBench table (F1 per scorer and label budget).", _add_prm_bench, _run_prm_bench),
    "recipe": Command("Build (or find) a cached PRM or judge by recipe name (what prm-mc, prm-rpe, sprm and thinkprm load; "
                      "the StepWiser judge).", _add_prm_recipe, _run_prm_recipe),
    "search": Command("Best-of-N on held-out problems reranked by a trained PRM: accuracy vs N.", _add_prm_search, _run_prm_search),
    "stepwiser": Command("StepWiser chunk judge: SFT cold start then GRPO; held-out verdict accuracy and toy ProcessBench F1 per seed.",
                         _add_prm_stepwiser, _run_prm_stepwiser),
    "mcts": Command("MCTS step values (AlphaLLM) as process labels vs Monte-Carlo labels at equal samples: agreement with the "
                    "oracle and the labels' own ProcessBench F1.", _add_prm_mcts, _run_prm_mcts),
    "judge": Command("ThinkPRM-style judges (teacher/student of a judge recipe) on the toy ProcessBench: N chains, passes, baselines, best-of-N.",
                     _add_prm_judge, _run_prm_judge),
}
