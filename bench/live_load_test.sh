#!/usr/bin/env bash
# Load test of the live loop (aisle-server --events_dir) with wrk, plain
# HTTP/1.1 clients (no Connection header), on the bench model (synthetic,
# 100k customers x 50k products, 64 factors), the journal on this machine's
# disk with fdatasync on (the default):
#   bench/live_load_test.sh [DURATION_SECONDS]
# Runs, at 16 connections:
#   1. recommendations alone, the live loop on but nobody live (its cost on
#      the common path);
#   2. events alone: POST /v1/events with one view or purchase of a random
#      product by a random customer (group commit: requests/s, p99, and the
#      appends per fdatasync from /metrics);
#   3. a storefront with the live loop: 70% customer recommendations,
#      20% events (1-3 per request), 10% similar products, customers drawn
#      from the same 100k, so more and more answers are re-folded live;
#   4. recommendations alone again, now that many customers are live.
# Prints a Markdown table, then the live metrics (event-to-answer histogram,
# live customers and memory). Installs wrk when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
BIN=${AISLE_BIN:-build/bin}
PORT=${AISLE_PORT:-18190}
command -v wrk >/dev/null || {
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
}
WORK=$(mktemp -d -p "${AISLE_BENCH_DIR:-$PWD/build}")
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

CUSTOMERS=100000
echo "== model: $CUSTOMERS customers x 50000 products, 64 factors; journal in $WORK ($(df -P "$WORK" | awk 'NR==2 {print $1}'))" >&2
"$BIN/aisle-synth" --output "$WORK/events.csv" --customers $CUSTOMERS --products 50000 --categories 200 \
  --purchases 2000000 --seed 11 2>/dev/null
"$BIN/aisle-train" --input "$WORK/events.csv" --output "$WORK/m.model" --factors 64 --iterations 3 --quiet
"$BIN/aisle-server" --model "$WORK/m.model" --port "$PORT" --threads 2 --access_log '' --events_dir "$WORK/journal" \
  ${AISLE_SERVER_FLAGS:-} 2>>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 150); do curl -sf "localhost:$PORT/readyz" >/dev/null && break; sleep 0.2; done

. bench/storefront_lua.sh
storefront_lua recs 0 0 1
storefront_lua events 1 0 1
storefront_lua storefront 0.2 0.1 3

metric() { curl -s "localhost:$PORT/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
run() {  # name script
  local out rps p50 p99 errors a0 s0 a1 s1
  a0=$(metric aisle_event_journal_appends_total); s0=$(metric aisle_event_journal_syncs_total)
  out=$(wrk -t2 -c16 -d"${DURATION}s" --latency -s "$WORK/$2.lua" "http://127.0.0.1:$PORT")
  a1=$(metric aisle_event_journal_appends_total); s1=$(metric aisle_event_journal_syncs_total)
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  errors=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}' | tr '\n' ' ')
  local group="-"
  [ "$s1" != "$s0" ] && group=$(awk -v a=$((a1 - a0)) -v s=$((s1 - s0)) 'BEGIN {printf "%d appends, %d syncs (%.1f per sync)", a, s, a / s}')
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" 16 "$rps" "$p50" "$p99" "$group" "${errors:-none}"
}
echo "| load | connections | requests/s | p50 | p99 | journal | errors |"
echo "|---|---|---|---|---|---|---|"
run "recommendations, nobody live" recs
run "events (1 per request)" events
run "storefront: 70% recs, 20% events (1-3), 10% similar" storefront
run "recommendations, after the above (many live)" recs
echo
curl -s "localhost:$PORT/metrics" | grep -E '^aisle_(live_|event_to_answer|fold_ins|events_total|customer_recommendations_answered)' | grep -v '_bucket{le="0.00[12]' 
du -sh "$WORK/journal" | sed 's/^/journal size: /'
