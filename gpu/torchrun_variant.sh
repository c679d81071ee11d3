#!/usr/bin/env bash
# Data-parallel RL with any registered variant on N processes (torchrun), from a warm-start
# preset or a local Hugging Face model directory (--model hf:DIR; no hub access is needed).
#
#   bash gpu/torchrun_variant.sh NPROC MODEL VARIANT RUN_DIR [extra train flags...]
#   bash gpu/torchrun_variant.sh 2 tiny dapo runs/ddp-dapo --steps 20                    # CPU (gloo)
#   bash gpu/torchrun_variant.sh 4 hf:/models/my-0.5b-instruct outcome-grpo runs/hf-grpo \
#        --device cuda --precision bf16 --gradient-checkpointing --task-n-steps 4        # one GPU per process
#   bash gpu/torchrun_variant.sh 8 hf:/models/my-7b dapo runs/hf-fsdp \
#        --device cuda --precision bf16 --gradient-checkpointing --fsdp                  # FSDP2 per block
#
# With --device cuda each process takes cuda:LOCAL_RANK and the processes join gloo (metadata)
# plus nccl (gradients); without it every process computes on the CPU. Not yet run on a GPU
# by this project: see gpu/README.md.
set -euo pipefail
nproc=${1:?NPROC}; model=${2:?MODEL}; variant=${3:?VARIANT}; run_dir=${4:?RUN_DIR}; shift 4
cd "$(dirname "$0")/.."
exec .venv/bin/python -m torch.distributed.run --standalone --nproc_per_node="$nproc" \
  -m sandbox.train --model "$model" --variant "$variant" --run-dir "$run_dir" --threads 1 "$@"
