#!/usr/bin/env bash
# Fine-tune the VitaminC teacher (all-mpnet-base-v2) and the task-agnostic student (all-MiniLM-L6-v2).
# Each run scores its best epoch on dev and test (bf16 autocast, as in training; recorded in the model's
# leanformer.json). Results go to docs/benchmarks.md. For fp32 scores add:
#   leanformer evaluate --model "$RUNS/<model>" --split test --fp32
# Outputs land in the user cache so later steps (distillation, pruning) reuse them. Resumable: rerun after a stop.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
RUNS=${RUNS:-${LEANFORMER_CACHE:-$HOME/.cache/leanformer}/runs}

$BIN/leanformer train --model all-mpnet-base-v2 --task vitaminc --output "$RUNS/vitaminc-mpnet-teacher" \
    --epochs 2 --batch-size 32 --lr 3e-5 --max-length 128 --seed 42 --resume
$BIN/leanformer train --model all-MiniLM-L6-v2 --task vitaminc --output "$RUNS/vitaminc-minilm" \
    --epochs 2 --batch-size 32 --lr 1e-4 --max-length 128 --seed 42 --resume
