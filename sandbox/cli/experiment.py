"""``reward-sandbox experiment run SPEC --out DIR``, ``report DIR``, ``archive DIR DEST`` and ``claims [FILE]``:
their flags, and the library call each hands them to (``sandbox.experiments``)."""

from __future__ import annotations

from pathlib import Path

from sandbox.cli.flags import Command


def add_run(parser, argv):
    parser.add_argument("spec", type=Path, help="Experiment spec (TOML), e.g. sandbox/experiments/specs/head_to_head_fast.toml.")
    parser.add_argument("--out", type=Path, required=True, help="Experiment directory (its finished runs are kept and skipped).")
    parser.add_argument("--workers", type=int, default=1, help="Runs in parallel, one process and one torch thread each (0: in this process).")
    parser.add_argument("--shard", default="0/1", help="i/n: run only the runs whose position in the plan is i modulo n (0 <= i < n).")


def run_run(args) -> int:
    from sandbox.experiments.runner import run_experiment

    return run_experiment(args.spec, args.out, args.workers, args.shard)


def add_check(parser, argv):
    parser.add_argument("spec", type=Path, help="Experiment spec (TOML).")


def run_check(args) -> int:
    from sandbox.experiments.spec import load_spec

    runs = load_spec(args.spec).validate()
    for run in runs:
        print(run.id)
    print(f"{args.spec}: valid, {len(runs)} runs")
    return 0


def add_report(parser, argv):
    parser.add_argument("dir", type=Path, help="Experiment directory (the merge of every shard written there).")
    parser.add_argument("--json", type=Path, default=None, help="Also write the summary JSON here (sorted keys).")
    parser.add_argument("--plots", type=Path, default=None, help="Write one PNG per metric here (default DIR/plots).")
    parser.add_argument("--markdown", type=Path, default=None, help="Also write the tables here.")


def run_report(args) -> int:
    from sandbox.experiments.report import collect, format_report, plot_report, summary_json
    from toy_envs.base import check

    check((args.dir / "plan.json").is_file(), "dir", "an experiment directory (with plan.json)", str(args.dir))
    data = collect(args.dir)
    if "bench" in data:
        from sandbox.experiments.prm_spec import format_prm_report

        text = format_prm_report(args.dir, data)
    else:
        text = format_report(data)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    if args.json:
        args.json.write_text(summary_json(data) + "\n")
    for path in plot_report(args.dir, args.plots or args.dir / "plots"):
        print(f"plot: {path}")
    return 0


def add_archive(parser, argv):
    parser.add_argument("dir", type=Path, help="Experiment directory.")
    parser.add_argument("dest", type=Path, help="Archive directory: new, or an archive of the same grid (nothing there is changed).")


def run_archive(args) -> int:
    from sandbox.experiments.archive import archive_experiment

    copied, kept = archive_experiment(args.dir, args.dest)
    print(f"{args.dest}: {copied} files copied, {kept} already there; report it with: reward-sandbox experiment report {args.dest}")
    return 0


def add_claims(parser, argv):
    parser.add_argument("claims", type=Path, nargs="?", default=Path(__file__).parents[1] / "experiments" / "claims.toml",
                        help="Claims file (TOML). (default: sandbox/experiments/claims.toml)")
    parser.add_argument("--reports", type=Path, default=None,
                        help="Folder of report summaries NAME.json (default: the committed sandbox/experiments/reports).")


def run_claims(args) -> int:
    from sandbox.experiments.claims import REPORTS, evaluate_claims, format_claims, load_claims

    print(format_claims(evaluate_claims(load_claims(args.claims), args.reports or REPORTS)))
    return 0


EXPERIMENT = {
    "run": Command("Run (or continue) the grid of an experiment spec: one ordinary run directory per setting x variant x seed.", add_run, run_run),
    "check": Command("Validate a spec and list its runs, without running anything.", add_check, run_check),
    "report": Command("Tables (mean, 95% CI, paired differences vs the baseline, costs), plots and a JSON summary of an experiment directory.",
                      add_report, run_report),
    "archive": Command("Copy an experiment's records without weights (spec, plan, each finished run's config, metrics, "
                       "final evaluation): enough to report it and to continue its grid elsewhere.", add_archive, run_archive),
    "claims": Command("The claims table: each paper's headline claim, the paired difference its committed report measures, "
                      "and holds / does not hold / inconclusive.", add_claims, run_claims),
}
"""``reward-sandbox experiment`` subcommands."""
