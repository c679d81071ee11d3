"""One run of an experiment in a child process: ``python -m sandbox.experiments.worker DIR RUN_ID``
(started by ``sandbox.experiments.runner`` with one torch thread; exit code 130 when interrupted)."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from sandbox.experiments.runner import execute, read_plan, runs_of_plan


def main(argv: list[str]) -> int:
    out, run_id = Path(argv[0]), argv[1]
    torch.set_num_threads(1)
    run = next(r for r in runs_of_plan(read_plan(out)) if r.id == run_id)
    return execute(out, run, threads=1)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
