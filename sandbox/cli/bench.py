"""``reward-sandbox bench ...``: one row per benchmark of ``sandbox.bench``."""

from __future__ import annotations

import importlib

from sandbox.cli.flags import Command, add_json, report
from sandbox.config import add_dataclass_args, dataclass_from_args



def _bench(name: str, help: str, format_takes_config: bool = True) -> Command:
    """``reward-sandbox bench NAME``, run by ``sandbox.bench.NAME``: flags from its
    ``<Name>BenchConfig``, ``run_NAME_bench(cfg)``, printed by ``format_NAME_bench``."""

    def config_class():
        return getattr(importlib.import_module(f"sandbox.bench.{name}"), f"{name.capitalize()}BenchConfig")

    def add(parser, argv):
        add_dataclass_args(parser, config_class())
        add_json(parser)

    def run(args):
        bench = importlib.import_module(f"sandbox.bench.{name}")
        cfg = dataclass_from_args(config_class(), args)
        results = getattr(bench, f"run_{name}_bench")(cfg)
        formatted = getattr(bench, f"format_{name}_bench")(*((results, cfg) if format_takes_config else (results,)))
        return report(args, results, formatted)

    return Command(help, add, run)


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
    "sampler": _bench("sampler", "Sandbox KV-cache sampler vs transformers generate().", format_takes_config=False),
    "learn": Command(
        "Wall-clock time of SFT + RL to a greedy accuracy target, per variant; or (--testbed edge) RL at the edge "
        "of competence from warm starts with and without a little exposure to longer chains (or deeper tree puzzles).",
        _add_bench_learn, _run_bench_learn,
    ),
    "tree": _bench("tree", "Tree sampling vs independent sampling: generated/prefill tokens and time per leaf."),
    "scale": _bench("scale", "Train a larger sandbox model on longer chains: tokens/s and model FLOPs utilisation.", format_takes_config=False),
    "hack": _bench("hack", "Rubric as a gate vs as a dense reward: hack rate, P(well-formed), P(correct | well-formed)."),
}
