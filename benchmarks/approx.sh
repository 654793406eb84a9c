#!/usr/bin/env bash
# Approximate computing on VitaminC (issue: approximate computing), from one starting model: one significance
# analysis on a training sample, one model per goal (faster, smaller, accurate; each re-distilled from the
# starting model), the uniform pruning step at equal cost beside faster and smaller (as many heads and FFN
# neurons in all, the same in every layer, re-distilled the same way), then all of them in one `leanformer bench`;
# last, the accuracy of sign-matching and hard attention on the starting model (benchmarks/approx_attention.py).
#   START=.../vitaminc-mpnet-teacher NAME=teacher benchmarks/approx.sh     (the default)
#   START=.../frontier-gpu/l6 NAME=l6 benchmarks/approx.sh                 (a distilled student)
# Every step is resumable; a finished step is skipped. STEPS limits what runs.
set -euo pipefail
cd "$(dirname "$0")/.."
LF=${LF:-.venv/bin/leanformer}
PY=${PY:-.venv/bin/python}
RUNS=${RUNS:-${LEANFORMER_CACHE:-$HOME/.cache/leanformer}/runs}
TEACHER=${TEACHER:-$RUNS/vitaminc-mpnet-teacher}
START=${START:-$TEACHER}
NAME=${NAME:-teacher}
STEPS=${STEPS:-analyze faster smaller accurate uniform-faster uniform-smaller bench attention}
A=$RUNS/approx-$NAME
SAMPLE=(--examples "${EXAMPLES:-2000}" --group-size 512 --seed 42)
EPOCHS=${EPOCHS:-1}  # EPOCHS=0: neither the approximated models nor their uniform peers are re-distilled
SUBSET=(${LIMIT:+--train-limit "$LIMIT"})  # LIMIT=N distils on N training examples (a quick look)
LR=${LR:-3e-5}  # one learning rate for every re-distillation, so the uniform peers are re-distilled the same way
if [[ $EPOCHS == 0 ]]; then REDISTILL=(--no-redistill); else REDISTILL=(--epochs "$EPOCHS" --lr "$LR"); fi
GUARD=(${LOSS_BUDGET:+--loss-budget "$LOSS_BUDGET"})  # LOSS_BUDGET=0.05: also bound the sample loss's relative rise
BENCH=(${BENCH_LIMIT:+--limit "$BENCH_LIMIT"} ${NO_PEERS:+--no-peers})  # BENCH_LIMIT=N scores the first N test pairs

source benchmarks/steps.sh

step analyze "$A/significance/significance.json" $LF analyze -m "$START" "${SAMPLE[@]}" -o "$A/significance"
for goal in faster smaller accurate; do
    step $goal "$A/$goal/leanformer.json" $LF approximate -m "$START" --goal $goal --analysis "$A/significance" \
        "${SAMPLE[@]}" --budget 0.005 "${GUARD[@]}" --redistill-epochs "$EPOCHS" --learning-rate "$LR" "${SUBSET[@]}" -o "$A/$goal"
done
# the peer at equal cost, read from the approximated model's lineage
peer() { $PY -c 'import json, sys; s = next(e for e in json.load(open(sys.argv[1]))["lineage"] if e["step"] == "approximate")
print(s["uniform_peer"]["heads"], s["uniform_peer"]["ffn"])' "$A/$1/leanformer.json"; }
for goal in faster smaller; do
    if [[ " $STEPS " == *" uniform-$goal "* ]]; then
        read -r heads ffn < <(peer $goal)
        step uniform-$goal "$A/uniform-$goal/leanformer.json" $LF prune -m "$START" --heads "$heads" --ffn "$ffn" \
            "${REDISTILL[@]}" --seed 42 --resume "${SUBSET[@]}" -o "$A/uniform-$goal"
    fi
done
# the bench takes the models that were made (STEPS may have left some out)
made() { local m=(); for d in "$@"; do [[ -f "$A/$d/leanformer.json" ]] && m+=("$A/$d"); done; (IFS=,; echo "${m[*]}"); }
step bench "$A/bench/report.md" $LF bench --teacher "$TEACHER" --student "$START" \
    --pruned "$(made uniform-faster uniform-smaller)" --approximated "$(made faster smaller accurate)" \
    --output "$A/bench" --timing-examples 200 "${BENCH[@]}" --overwrite
step attention "$A/attention.json" $PY benchmarks/approx_attention.py --model "$START" --split test \
    --limit "${ATTENTION_EXAMPLES:-2000}" --k 16,32 --each --output "$A/attention.json"
