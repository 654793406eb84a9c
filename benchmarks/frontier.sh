#!/usr/bin/env bash
# The accuracy/speed frontier on VitaminC (issue: frontier): students cut out of the fine-tuned MPNet-base
# teacher along depth and width, each step distilled from the teacher with logits + hidden states (on the
# kept channels of the kept layers) + attention maps, then benchmarked side by side with `leanformer bench`
# and plotted with every earlier student (benchmarks/frontier_plot.py).
# Needs the teacher of benchmarks/vitaminc_models.sh (STEPS=teacher). Every step is resumable: rerun after a
# stop; a finished step is skipped. STEPS limits what runs, e.g. STEPS="l6 bench" benchmarks/frontier.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
RUNS=${RUNS:-${LEANFORMER_CACHE:-$HOME/.cache/leanformer}/runs}
STEPS=${STEPS:-l6 l6-h384-a6-f1536 l4 bench plot}
TEACHER=$RUNS/vitaminc-mpnet-teacher
F=$RUNS/frontier
COMMON=(--batch-size 32 --seed 42 --resume --hidden-weight 1 --attention-weight 1 --epochs 1)

source benchmarks/steps.sh

# depth: the 6 layers whose removal raises the training loss most (768 wide, as the 76.92 DistilBERT-style cut)
step l6 "$F/l6/leanformer.json" $BIN/leanformer prune -m "$TEACHER" --layers 6 --importance-examples 1000 --lr 5e-5 \
    -o "$F/l6" "${COMMON[@]}"
# width: 768 -> 384 channels, 12 -> 6 heads, 3072 -> 1536 FFN neurons in one distilled step on 20,000 training
# examples (STEPS_WIDTH=2 and LIMIT= for the iterative, whole-split variant: 768 -> 576 -> 384, twice the time)
S=l6-h384-a6-f1536
LIMIT=${LIMIT-20000}
SUBSET=(${LIMIT:+--train-limit "$LIMIT"})
step $S "$F/$S/leanformer.json" $BIN/leanformer prune -m "$F/l6" --teacher "$TEACHER" --hidden 384 --heads 6 \
    --ffn 1536 --steps "${STEPS_WIDTH:-1}" --lr 1e-4 -o "$F/$S" "${SUBSET[@]}" "${COMMON[@]}"
# depth again: 4 of those 6 layers
step l4 "$F/l4-h384-a6-f1536/leanformer.json" $BIN/leanformer prune -m "$F/$S" --teacher "$TEACHER" --layers 4 \
    --lr 1e-4 -o "$F/l4-h384-a6-f1536" "${SUBSET[@]}" "${COMMON[@]}"
step bench "$F/bench/report.md" $BIN/leanformer bench --teacher "$TEACHER" --student "$F/l6" \
    --pruned "$F/$S,$F/l4-h384-a6-f1536" --output "$F/bench" --timing-examples 200 --overwrite
step plot "$F/frontier.png" $BIN/python benchmarks/frontier_plot.py "$F/bench/report.json" "$F/frontier.png" \
    --earlier benchmarks/frontier_earlier.csv
