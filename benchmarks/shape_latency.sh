#!/usr/bin/env bash
# Which student shapes reach the frontier's speed targets on this CPU, before hours of distillation are spent
# on one (issue: frontier). Speed does not depend on the weights: each shape is cut from TEACHER (a leanformer
# model of the teacher's architecture; a briefly fine-tuned stand-in will do) without re-distillation, and one
# `leanformer bench` times them all side by side against the teacher in PyTorch at dynamic length (the
# targets' reference), int8 ONNX Runtime with tuned instances, batch size 1. Accuracy columns are meaningless
# here (untrained cuts, a 64-example sample). Run it alone on the machine.
#   TEACHER=DIR OUT=DIR benchmarks/shape_latency.sh    SHAPES="6:576:9:2304 4:384:6:1536" to choose shapes,
#   BENCH=0 to only cut (while the machine is busy), then again to time them
set -euo pipefail
cd "$(dirname "$0")/.."
LF=${LF:-.venv/bin/leanformer}
OUT=${OUT:-$(mktemp -d)}
# layers:hidden:heads:ffn; the first is the bench's student row, the others its pruned rows
SHAPES=${SHAPES:-6:576:9:2304 6:448:7:1792 6:384:6:1536 6:384:6:1024 5:384:6:1536 4:384:6:1536 4:448:7:1792 6:320:5:1280}
cuts=()
for shape in $SHAPES; do
    IFS=: read -r layers hidden heads ffn <<< "$shape"
    dir=$OUT/l$layers-h$hidden-a$heads-f$ffn
    [[ -f $dir/leanformer.json ]] || $LF prune -m "$TEACHER" --layers "$layers" --hidden "$hidden" --heads "$heads" \
        --ffn "$ffn" --method magnitude --no-redistill --importance-examples 32 --eval-limit 32 -o "$dir" \
        > "$dir.log" 2>&1
    cuts+=("$dir")
done
[[ ${BENCH:-1} == 1 ]] || exit 0
pruned=$(IFS=,; echo "${cuts[*]:1}")
$LF bench --teacher "$TEACHER" --student "${cuts[0]}" --pruned "$pruned" --no-peers --limit 64 \
    --timing-examples "${TIMING:-200}" --baseline-length 128 --output "$OUT/bench" --overwrite
echo "report: $OUT/bench/report.md"
