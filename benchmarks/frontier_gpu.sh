#!/usr/bin/env bash
# The frontier's students trained on a GPU (issue: frontier): the same cuts as benchmarks/frontier.sh, with the
# epochs and transfer data a CPU could not afford. Every `prune` runs on the GPU (`--device auto` finds it),
# bf16 autocast. Needs the teacher of benchmarks/vitaminc_models.sh at $TEACHER. Resumable like frontier.sh;
# the models are then benchmarked on the CPU with `leanformer bench` (docs/benchmarks.md, frontier section).
#   LF="python3 -m leanformer" (a source checkout on PYTHONPATH), STEPS="l6 h384" ... to choose steps.
set -euo pipefail
cd "$(dirname "$0")/.."
LF=${LF:-.venv/bin/leanformer}
RUNS=${RUNS:-${LEANFORMER_CACHE:-$HOME/.cache/leanformer}/runs}
STEPS=${STEPS:-l6 h384 l4 aug2 more576 more384 h448 h384-1step}
TEACHER=${TEACHER:-$RUNS/vitaminc-mpnet-teacher}
F=$RUNS/frontier-gpu
COMMON=(--batch-size 32 --seed 42 --resume --hidden-weight 1 --attention-weight 1 --teacher "$TEACHER")
W=(--hidden 384 --heads 6 --ffn 1536)

source benchmarks/steps.sh

# depth: the 6 layers whose removal raises the training loss most, 3 epochs (the CPU run had 1)
step l6 "$F/l6/leanformer.json" $LF prune -m "$TEACHER" --layers 6 --importance-examples 1000 --lr 5e-5 \
    --epochs 3 -o "$F/l6" "${COMMON[@]}"
# width in two distilled steps on the whole split: 768 -> 576 (-step1, 9 heads, 2304 FFN) -> 384 (6 heads, 1536)
step h384 "$F/l6-h384-a6-f1536/leanformer.json" $LF prune -m "$F/l6" "${W[@]}" --steps 2 --lr 1e-4 --epochs 3 \
    -o "$F/l6-h384-a6-f1536" "${COMMON[@]}"
# depth again: 4 of those 6 layers
step l4 "$F/l4-h384-a6-f1536/leanformer.json" $LF prune -m "$F/l6-h384-a6-f1536" --layers 4 --lr 1e-4 --epochs 2 \
    -o "$F/l4-h384-a6-f1536" "${COMMON[@]}"
# transfer data: the 576 -> 384 step again with 2 teacher-labelled perturbed copies of every training example,
# 1 epoch: as many optimizer steps as the 3 epochs of h384, on new examples instead of repeated ones
step aug2 "$F/l6-h384-a6-f1536-aug2/leanformer.json" $LF prune -m "$F/l6-h384-a6-f1536-step1" "${W[@]}" --lr 1e-4 \
    --epochs 1 --augment 2 -o "$F/l6-h384-a6-f1536-aug2" "${COMMON[@]}"
# the 576-wide intermediate step distilled 2 epochs more (lower rate), to see whether it was under-trained
step more576 "$F/l6-h576-a9-f2304-more/leanformer.json" $LF distill --teacher "$TEACHER" \
    --student "$F/l6-h384-a6-f1536-step1" --epochs 2 --lr 5e-5 --hidden-weight 1 --attention-weight 1 --batch-size 32 \
    --seed 42 -o "$F/l6-h576-a9-f2304-more"
# the 6 x 384 student distilled 2 epochs more from the teacher (its dev accuracy was still rising at epoch 3;
# run on the CPU: about 21 examples/s with the teacher alongside)
step more384 "$F/l6-h384-a6-f1536-more/leanformer.json" $LF distill --teacher "$TEACHER" \
    --student "$F/l6-h384-a6-f1536" --epochs 2 --lr 5e-5 --hidden-weight 1 --attention-weight 1 --batch-size 32 \
    --seed 43 --resume -o "$F/l6-h384-a6-f1536-more"
# target 2 with room to spare on speed (6 x 384 ran at ~55x once skip-LayerNorm stayed apart): a wider cut,
# 576 -> 448 (7 heads, 1792 FFN), 3 epochs, from the 576-wide step
step h448 "$F/l6-h448-a7-f1792/leanformer.json" $LF prune -m "$F/l6-h384-a6-f1536-step1" --hidden 448 --heads 7 \
    --ffn 1792 --lr 1e-4 --epochs 3 -o "$F/l6-h448-a7-f1792" "${COMMON[@]}"
# the 768 -> 384 width cut in one distilled step on the whole split, 3 epochs, against the two steps of h384
step h384-1step "$F/l6-h384-a6-f1536-1step/leanformer.json" $LF prune -m "$F/l6" "${W[@]}" --lr 1e-4 --epochs 3 \
    -o "$F/l6-h384-a6-f1536-1step" "${COMMON[@]}"
