#!/usr/bin/env bash
# Benchmark of `query` (issue #4): one million calls (two million records, ~1000 users,
# 64 MiB files), `query` against jq and grep -F, side by side, from a warm page cache.
#   bench/query/run.sh            # data in $DATA (default /tmp/mfa-audit-query-bench)
# Goal: >= 10x faster than jq, within 2x of grep -F.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:-/tmp/mfa-audit-query-bench}
CALLS=${CALLS:-1000000}
USERS=${USERS:-1000}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

cargo build --release --quiet --bin mfa-audit-proxy --example gen_audit_log
QUERY="target/release/mfa-audit-proxy query"
if [[ ! -f "$DATA/bench.env" || "$(cat "$DATA/.calls" 2>/dev/null)" != "$CALLS" ]]; then
    rm -rf "$DATA"
    echo "generating $CALLS calls in $DATA ..."
    target/release/examples/gen_audit_log "$DATA" "$CALLS" "$USERS" 64
    echo "$CALLS" > "$DATA/.calls"
fi
# shellcheck disable=SC1091
source "$DATA/bench.env"
FILES=("$DATA"/*.jsonl)
echo "data: ${#FILES[@]} files, $(du -sh "$DATA" | cut -f1), $(cat "${FILES[@]}" | wc -l) records"
cat "${FILES[@]}" > /dev/null   # warm the page cache

# time_it NAME CMD...: best of $RUNS wall-clock seconds; output lines kept in $OUT/NAME.
RUNS=${RUNS:-3}
declare -A SECS
time_it() {
    local name=$1; shift
    local best=""
    for ((i = 0; i < RUNS; i++)); do
        local t0 t1
        t0=$(date +%s.%N)
        "$@" > "$OUT/$name" 2> "$OUT/$name.err" || true
        t1=$(date +%s.%N)
        local s; s=$(echo "$t1 - $t0" | bc -l)
        if [[ -z "$best" ]] || (( $(echo "$s < $best" | bc -l) )); then best=$s; fi
    done
    SECS[$name]=$best
    printf '%-14s %8.3f s  %8d lines\n' "$name" "$best" "$(wc -l < "$OUT/$name")"
}

echo
echo "== by user: $USER_ID"
time_it query_user $QUERY --dir "$DATA" --user-id "$USER_ID"
time_it grep_user grep -F "$USER_ID" "${FILES[@]}"
RUNS=1 time_it jq_user jq -c "select(.target.user_id==\"$USER_ID\")" "${FILES[@]}"
echo
echo "== time range: $SINCE .. $UNTIL"
time_it query_range $QUERY --dir "$DATA" --since "$SINCE" --until "$UNTIL"
RUNS=1 time_it jq_range jq -c "select(.time >= \"$SINCE\" and .time < \"$UNTIL\")" "${FILES[@]}"

ratio() { printf "%.2f" "$(echo "$1 / $2" | bc -l)"; }
echo
printf '%-40s %s\n' "query" "ratio"
printf '%-40s %sx faster\n' "by user: jq / query" "$(ratio "${SECS[jq_user]}" "${SECS[query_user]}")"
printf '%-40s %sx\n' "by user: query / grep -F (goal <= 2)" "$(ratio "${SECS[query_user]}" "${SECS[grep_user]}")"
printf '%-40s %sx faster\n' "time range: jq / query" "$(ratio "${SECS[jq_range]}" "${SECS[query_range]}")"
# Sanity: every record jq found belongs to a call query printed.
jq_ids=$(jq -r .audit_id "$OUT/jq_user" | sort -u | wc -l)
q_ids=$(jq -r .audit_id "$OUT/query_user" | sort -u | wc -l)
echo "calls for the user: query $q_ids, jq $jq_ids"
[[ "$jq_ids" == "$q_ids" ]] || { echo "MISMATCH" >&2; exit 1; }
