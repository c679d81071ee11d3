#!/usr/bin/env bash
# Data-parallel RL with any registered variant on N processes (torchrun), from a warm-start
# preset or a local Hugging Face model directory.
#
#   bash gpu/torchrun_variant.sh NPROC INIT VARIANT RUN_DIR [extra train flags...]
#   bash gpu/torchrun_variant.sh 2 tiny dapo runs/ddp-dapo --steps 20
#   bash gpu/torchrun_variant.sh 4 hf:/models/my-0.5b-instruct outcome-grpo runs/hf-grpo --task-n-steps 4
#
# Today every process computes on the CPU (gloo backend): see gpu/README.md for what is
# missing before this recipe uses CUDA devices.
set -euo pipefail
nproc=${1:?NPROC}; init=${2:?INIT}; variant=${3:?VARIANT}; run_dir=${4:?RUN_DIR}; shift 4
cd "$(dirname "$0")/.."
exec .venv/bin/python -m torch.distributed.run --standalone --nproc_per_node="$nproc" \
  -m sandbox.train --init "$init" --variant "$variant" --run-dir "$run_dir" --threads 1 "$@"
