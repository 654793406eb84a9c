# Sourced by the benchmark scripts: run a step when STEPS selects it and the file it finishes with does not
# exist yet, so a rerun skips finished steps and resumes an interrupted one.
step() {
    local name=$1 done=$2; shift 2
    [[ " $STEPS " == *" $name "* ]] || return 0
    if [[ -f "$done" ]]; then echo "== $name: $done exists"; return 0; fi
    echo "== $name: $(date -u +%FT%TZ)"
    "$@"
}
