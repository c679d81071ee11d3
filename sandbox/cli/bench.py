"""``reward-sandbox bench ...``: one row per benchmark of ``sandbox.bench``."""

from __future__ import annotations

import importlib

from sandbox.cli.flags import Command, add_json, report
from sandbox.config import add_dataclass_args, dataclass_from_args



def _bench(module: str, config: str, run: str, format: str, help: str, format_takes_config: bool = True) -> Command:
    """``reward-sandbox bench ...`` run by ``module``: flags from its ``config`` class, results of
    ``run(cfg)``, printed by ``format(results[, cfg])``."""

    def add(parser, argv):
        add_dataclass_args(parser, getattr(importlib.import_module(module), config))
        add_json(parser)

    def go(args):
        bench = importlib.import_module(module)
        cfg = dataclass_from_args(getattr(bench, config), args)
        results = getattr(bench, run)(cfg)
        formatted = getattr(bench, format)(*((results, cfg) if format_takes_config else (results,)))
        return report(args, results, formatted)

    return Command(help, add, go)


def _add_bench_learn(parser, argv):
    from sandbox.bench.edge import EdgeBenchConfig
    from sandbox.bench.learn import LearnBenchConfig

    parser.add_argument("--testbed", default="speed", choices=["speed", "edge"],
                        help="speed: time to the accuracy target (--* flags); edge: the edge-of-competence comparison (--edge-* flags).")
    add_dataclass_args(parser, LearnBenchConfig, title="speed testbed")
    add_dataclass_args(parser, EdgeBenchConfig, prefix="edge_", title="edge testbed (--edge-*)")
    add_json(parser)


def _run_bench_learn(args) -> int:
    if args.testbed == "edge":
        from sandbox.bench.edge import EdgeBenchConfig, format_edge_bench, run_edge_bench

        cfg = dataclass_from_args(EdgeBenchConfig, args, prefix="edge_")
        results = run_edge_bench(cfg)
        return report(args, results, format_edge_bench(results, cfg))
    from sandbox.bench.learn import LearnBenchConfig, format_learn_bench, run_learn_bench

    cfg = dataclass_from_args(LearnBenchConfig, args)
    results = run_learn_bench(cfg)
    return report(args, results, format_learn_bench(results, cfg))


BENCH = {
    "sampler": _bench("sandbox.bench.sampler", "SamplerBenchConfig", "run_sampler_bench", "format_sampler_bench",
                      "Sandbox KV-cache sampler vs transformers generate().", format_takes_config=False),
    "learn": Command(
        "Wall-clock time of SFT + RL to a greedy accuracy target, per variant; or (--testbed edge) RL at the edge "
        "of competence from warm starts with and without a little exposure to longer chains (or deeper tree puzzles).",
        _add_bench_learn, _run_bench_learn,
    ),
    "tree": _bench("sandbox.bench.tree", "TreeBenchConfig", "run_tree_bench", "format_tree_bench",
                   "Tree sampling vs independent sampling: generated/prefill tokens and time per leaf."),
    "scale": _bench("sandbox.bench.scale", "ScaleBenchConfig", "run_scale_bench", "format_scale_bench",
                    "Train a larger sandbox model on longer chains: tokens/s and model FLOPs utilisation.", format_takes_config=False),
    "hack": _bench("sandbox.bench.hack", "HackBenchConfig", "run_hack_bench", "format_hack_bench",
                   "Rubric as a gate vs as a dense reward: hack rate, P(well-formed), P(correct | well-formed)."),
    "trl": _bench("sandbox.bench.trl", "TrlBenchConfig", "run_trl_bench", "format_trl_bench",
                  "RL steps/s and generated tokens/s of reward-sandbox train vs TRL's GRPOTrainer on the same model, reward and batch."),
}
