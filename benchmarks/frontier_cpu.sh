#!/usr/bin/env bash
# The frontier's students on a CPU (issue: frontier): the epochs of the GPU run (benchmarks/frontier_gpu.sh)
# made affordable on 2 cores by cutting depth and width in one distilled step straight from the teacher and by
# reading the teacher's hidden states and attention maps from a float16 cache (--cache-internals) instead of
# running its encoder on every batch. Needs the teacher of benchmarks/vitaminc_models.sh (STEPS=teacher).
# Every step checkpoints every 10 minutes and resumes: rerun after a stop; a finished step is skipped.
#   STEPS="h576 h384" benchmarks/frontier_cpu.sh    to choose steps
set -euo pipefail
cd "$(dirname "$0")/.."
LF=${LF:-.venv/bin/leanformer}
PY=${PY:-.venv/bin/python}
CACHE=${LEANFORMER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/leanformer}
RUNS=${RUNS:-$CACHE/runs}
STEPS=${STEPS:-h576 h384 h320 bench plot}
TEACHER=${TEACHER:-$RUNS/vitaminc-mpnet-teacher}
F=$RUNS/frontier-cpu
COMMON=(--batch-size 32 --seed 42 --resume --hidden-weight 1 --attention-weight 1 --teacher "$TEACHER"
        --cache-internals --epochs 3 --lr 1e-4)

source benchmarks/steps.sh
# each cut's cache of teacher internals (about 22 GB at 576 channels) serves only that cut: freed once it is done
free_internals() { rm -rf "$CACHE/teacher-internals"; }

# target 1 (>= 20x at <= 1.0 point): 6 layers by measured importance, 768 -> 576 channels, 9 heads, 2304 FFN
step h576 "$F/l6-h576/leanformer.json" $LF prune -m "$TEACHER" --layers 6 --hidden 576 --heads 9 --ffn 2304 \
    --importance-examples 1000 -o "$F/l6-h576" "${COMMON[@]}"
free_internals
# target 2 (>= 40x at <= 2.0 points): 576 -> 384 channels (6 heads, 1536 FFN), as in the GPU run's second step;
# by benchmarks/shape_latency.sh a 448-wide cut runs at only 35x here (docs/benchmarks.md)
step h384 "$F/l6-h384/leanformer.json" $LF prune -m "$F/l6-h576" --hidden 384 --heads 6 --ffn 1536 \
    -o "$F/l6-h384" "${COMMON[@]}"
free_internals
# target 3 (>= 67x at <= 3.0 points): 6 x 384 at 1536 FFN ran at 40x and 4 x 384 at 64x in the shape probe;
# keeping the depth, 320 channels (5 heads) and 1024 FFN neurons cost a tenth less than 4 x 384
step h320 "$F/l6-h320/leanformer.json" $LF prune -m "$F/l6-h384" --hidden 320 --heads 5 --ffn 1024 \
    -o "$F/l6-h320" "${COMMON[@]}"
free_internals
step bench "$F/bench/report.md" $LF bench --teacher "$TEACHER" --student "$F/l6-h576" \
    --pruned "$F/l6-h384,$F/l6-h320" --output "$F/bench" --timing-examples 200 --overwrite
step plot "$F/frontier.png" $PY benchmarks/frontier_plot.py "$F/bench/report.json" "$F/frontier.png" \
    --earlier benchmarks/frontier_earlier.csv
