#!/usr/bin/env bash
# Distillation with the intermediate losses, the teacher's trunk running on every batch vs --cache-internals,
# side by side on one student cut from TEACHER (a leanformer model of MPNet-base size). Each run's training-
# loop time is `train_seconds` in its manifest; wall times (teacher logits and the cache's one pass included)
# are printed. Runs alone on the machine for honest ratios.
#   TEACHER=DIR EXAMPLES=640 benchmarks/internals_cache.sh
set -euo pipefail
cd "$(dirname "$0")/.."
LF=${LF:-.venv/bin/leanformer}
OUT=${OUT:-$(mktemp -d)}
export LEANFORMER_CACHE=$OUT/cache   # its own cache, so the first cached run builds the internals
EXAMPLES=${EXAMPLES:-640}
$LF prune -m "$TEACHER" --layers 6 --hidden 384 --heads 6 --ffn 1536 --no-redistill --importance-examples 64 \
    --eval-limit 64 -o "$OUT/cut" --overwrite > "$OUT/cut.log" 2>&1
C=(--teacher "$TEACHER" --student "$OUT/cut" --hidden-weight 1 --attention-weight 1 --epochs 2 --train-limit "$EXAMPLES"
   --eval-limit 64 --batch-size 32 --lr 1e-4 --overwrite)
$LF distill "${C[@]}" -o "$OUT/warm-up" > "$OUT/warm-up.log" 2>&1   # computes the teacher logits once for all
for run in running cached-built running-again cached-reused; do
    flag=(); [[ $run == cached* ]] && flag=(--cache-internals)
    start=$(date +%s)
    $LF distill "${C[@]}" "${flag[@]}" -o "$OUT/$run" > "$OUT/$run.log" 2>&1
    loop=$(.venv/bin/python -c "import json,sys; print(json.load(open(sys.argv[1]))['lineage'][-1]['train_seconds'])" \
        "$OUT/$run/leanformer.json")
    echo "$run: $(( $(date +%s) - start )) s wall, training loop $loop s"
done
