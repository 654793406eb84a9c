#!/usr/bin/env bash
# Every VitaminC model and measurement in docs/benchmarks.md, in order:
#   teacher (all-mpnet-base-v2) -> task-agnostic MiniLM -> distilled students (MiniLM 6 and 3 layers, teacher
#   layers 6 and 3, longer and augmented MiniLM runs)
#   -> runtime measurements -> pruned + re-distilled student -> pruning sweep -> the ablation report.
# Training runs score their best epoch on dev and test (bf16 autocast, as in training; recorded in each
# model's leanformer.json). Outputs land in the user cache so later steps reuse them; a finished step is
# skipped and an interrupted one resumes, so rerun after a stop. STEPS limits what runs, e.g.
#   STEPS="distill3 bench" benchmarks/vitaminc_models.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
RUNS=${RUNS:-${LEANFORMER_CACHE:-$HOME/.cache/leanformer}/runs}
STEPS=${STEPS:-teacher minilm distill6 runtime prune distill3 mpnet6 mpnet3 minilm-more minilm-aug table sweep bench}
COMMON=(--batch-size 32 --max-length 128 --seed 42)
TEACHER=$RUNS/vitaminc-mpnet-teacher
STUDENT=$RUNS/vitaminc-minilm-distilled

source benchmarks/steps.sh

step teacher "$TEACHER/leanformer.json" $BIN/leanformer train --model all-mpnet-base-v2 --task vitaminc --output "$TEACHER" \
    --epochs 2 --lr 3e-5 "${COMMON[@]}" --resume
step minilm "$RUNS/vitaminc-minilm/leanformer.json" $BIN/leanformer train --model all-MiniLM-L6-v2 --task vitaminc \
    --output "$RUNS/vitaminc-minilm" --epochs 2 --lr 1e-4 "${COMMON[@]}" --resume
step distill6 "$STUDENT/leanformer.json" $BIN/leanformer distill --teacher "$TEACHER" --student all-MiniLM-L6-v2 \
    --output "$STUDENT" --epochs 3 --lr 1e-4 "${COMMON[@]}" --resume
step runtime "$RUNS/runtime-bench/results.json" $BIN/python benchmarks/runtime.py --model "$STUDENT" \
    --output "$RUNS/runtime-bench"
step prune "$RUNS/vitaminc-pruned-h0.5-f0.5/leanformer.json" $BIN/leanformer prune --model "$STUDENT" --heads 0.5 --ffn 0.5 \
    --output "$RUNS/vitaminc-pruned-h0.5-f0.5" --epochs 2 --lr 5e-5 "${COMMON[@]}" --resume
step distill3 "$RUNS/vitaminc-minilm3-distilled/leanformer.json" $BIN/leanformer distill --teacher "$TEACHER" \
    --student all-MiniLM-L6-v2 --student-layers 0,2,4 --output "$RUNS/vitaminc-minilm3-distilled" \
    --epochs 3 --lr 1e-4 "${COMMON[@]}" --resume
# more students tried for the accuracy targets: the teacher cut to 6 of its 12 layers (DistilBERT-style,
# 768 wide), then to 3; the distilled MiniLM trained 3 more epochs (it still gained 0.85 points at epoch 3)
step mpnet6 "$RUNS/vitaminc-mpnet6-distilled/leanformer.json" $BIN/leanformer distill --teacher "$TEACHER" \
    --student-layers 0,2,4,6,8,10 --output "$RUNS/vitaminc-mpnet6-distilled" --epochs 1 --lr 5e-5 "${COMMON[@]}" --resume
# ... its layers 0, 2, 4 (the teacher's 0, 4, 8) as the half-depth student
step mpnet3 "$RUNS/vitaminc-mpnet3-distilled/leanformer.json" $BIN/leanformer distill --teacher "$TEACHER" \
    --student "$RUNS/vitaminc-mpnet6-distilled" --student-layers 0,2,4 --output "$RUNS/vitaminc-mpnet3-distilled" \
    --epochs 1 --lr 5e-5 "${COMMON[@]}" --resume
step minilm-more "$RUNS/vitaminc-minilm-distilled-6ep/leanformer.json" $BIN/leanformer distill --teacher "$TEACHER" \
    --student "$STUDENT" --output "$RUNS/vitaminc-minilm-distilled-6ep" --epochs 3 --lr 5e-5 "${COMMON[@]}" --resume
# ... or for one more epoch on the training data plus one perturbed copy of it, labelled by the teacher
step minilm-aug "$RUNS/vitaminc-minilm-distilled-aug/leanformer.json" $BIN/leanformer distill --teacher "$TEACHER" \
    --student "$STUDENT" --augment 1 --output "$RUNS/vitaminc-minilm-distilled-aug" --epochs 1 --lr 5e-5 \
    "${COMMON[@]}" --resume
step table "$RUNS/models-table.md" bash -c "$BIN/python benchmarks/models_table.py $TEACHER $RUNS/vitaminc-minilm \
    $STUDENT $RUNS/vitaminc-minilm-distilled-6ep $RUNS/vitaminc-minilm-distilled-aug $RUNS/vitaminc-minilm3-distilled \
    $RUNS/vitaminc-mpnet6-distilled $RUNS/vitaminc-mpnet3-distilled > $RUNS/models-table.md.tmp && mv $RUNS/models-table.md.tmp $RUNS/models-table.md"
step sweep "$RUNS/vitaminc-sweep/sweep.md" $BIN/leanformer prune --sweep --model "$STUDENT" \
    --output "$RUNS/vitaminc-sweep" --epochs 1 --train-limit 10000 --lr 5e-5 "${COMMON[@]}"
# the padded-to-512 teacher takes about a second per query here, hence 200 timed queries (see docs); the second
# pruning level is the sweep's 6 heads / 384 neurons model (re-distilled for one epoch on 10,000 examples)
step bench "$RUNS/vitaminc-bench/report.md" $BIN/leanformer bench --teacher "$TEACHER" --student "$STUDENT" \
    --pruned "$RUNS/vitaminc-pruned-h0.5-f0.5,$RUNS/vitaminc-sweep/heads6-ffn384" --output "$RUNS/vitaminc-bench" \
    --timing-examples 200 --repeats 3 --overwrite
