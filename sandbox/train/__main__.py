"""``python -m sandbox.train ARGS`` = ``reward-sandbox train ARGS``, also under ``torchrun``.

    torchrun --nproc_per_node=2 -m sandbox.train --variant outcome-grpo --run-dir runs/ddp

Each process joins the process group torchrun describes (gloo on CPU, nccl on CUDA) and runs
the same trainer on its shard of every step's problems (``sandbox.train.distributed``), then
leaves the group before it exits: a gloo group left to the interpreter's exit can abort the
process ("terminate called without an active exception", SIGABRT) while its threads are torn
down, which torchrun reports as a failed run (seen once on a loaded 2-core machine, in the
2-process test, after the rank that does not write the run had finished).
"""

import sys

import torch.distributed as dist

from sandbox.cli import main
from sandbox.train.distributed import init_from_env

if __name__ == "__main__":
    init_from_env()
    try:
        code = main(["train", *sys.argv[1:]])
    finally:
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
    sys.exit(code)
