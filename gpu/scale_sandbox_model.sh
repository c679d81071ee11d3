#!/usr/bin/env bash
# Train a ~27M-parameter sandbox TinyLlama (d_model 512, 8 blocks, SwiGLU 1536) on 8-step
# arithmetic chains in bf16 on one CUDA GPU; report training and sampling tokens/s and model
# FLOPs utilisation (formula and peak table: sandbox/bench/scale.py).
#
#   bash gpu/scale_sandbox_model.sh                      # defaults below
#   bash gpu/scale_sandbox_model.sh --peak-tflops 989    # a GPU missing from the peak table
#   bash gpu/scale_sandbox_model.sh --steps 2000 --eval-problems 512   # train to a useful accuracy
#
# Writes gpu/results/scale-<gpu>.json; paste the printed table row into gpu/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p gpu/results
gpu=$(.venv/bin/python -c "import torch; print(torch.cuda.get_device_name(0).replace(' ', '_') if torch.cuda.is_available() else 'cpu')")
exec .venv/bin/python -m sandbox.cli bench scale \
  --device cuda --precision bf16 \
  --d-model 512 --n-layers 8 --n-heads 8 --d-ff 1536 \
  --n-steps 8 --batch-size 128 --steps 200 --warmup-steps 10 --lr 1e-3 \
  --sample-rows 256 --eval-problems 256 --threads 4 \
  --json "gpu/results/scale-${gpu}.json" "$@"
