"""``python -m sandbox.train ARGS`` = ``reward-sandbox train ARGS``, also under ``torchrun``.

    torchrun --nproc_per_node=2 -m sandbox.train --variant outcome-grpo --run-dir runs/ddp

Each process joins the process group torchrun describes (gloo on CPU, nccl on CUDA) and runs
the same trainer on its shard of every step's problems (``sandbox.train.distributed``).
"""

import sys

from sandbox.cli import main
from sandbox.train.distributed import init_from_env

if __name__ == "__main__":
    init_from_env()
    sys.exit(main(["train", *sys.argv[1:]]))
