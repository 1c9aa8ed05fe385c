#!/usr/bin/env bash
# The experiment loop on a simulated store, at a scale for figures
# (docs/QUALITY.md, "Online experiments on a simulated store"):
#   bench/experiment_sim.sh [VISITS]
# aisle-synth makes a store (5,000 customers with two favourite categories
# among 20, 1,000 products, 100k purchases); aisle-train trains on it; then
# three runs of aisle-server with an experiment on customer
# recommendations, each visited by aisle-sim (recommendation requests,
# clicks and purchases posted back with the recommendation_id) and
# analysed by aisle-eval experiment:
#   A/B: popularity (control) against the iALS model, 50/50;
#   A/A: the model against itself, with 200 re-randomized A/A analyses;
#   skewed: the server splits 70/30 while the analysis is told 50/50.
set -euo pipefail
cd "$(dirname "$0")/.."
VISITS=${1:-20000}
BIN=${AISLE_BIN:-build/bin}
PORT=${AISLE_PORT:-18197}
WORK=$(mktemp -d -p "${AISLE_BENCH_DIR:-$PWD/build}")
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && { kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; } || true
  rm -rf "$WORK"
}
trap cleanup EXIT
STORE=(--customers 5000 --products 1000 --categories 20 --purchases 100000 --seed 5)
"$BIN/aisle-synth" --output "$WORK/history.csv" "${STORE[@]}" 2>/dev/null
"$BIN/aisle-train" --input "$WORK/history.csv" --output "$WORK/m.model" --factors 32 --iterations 10 --quiet
experiment() {  # name, variant a, variant b, weight a, weight b
  echo "{\"experiments\": [{\"id\": \"$1\", \"salt\": \"$1\", \"endpoints\": [\"customer_recommendations\"], \"control\": \"a\",
    \"variants\": [{\"name\": \"a\", \"weight\": $4, $2}, {\"name\": \"b\", \"weight\": $5, $3}]}]}"
}
run() {  # name, served experiments file, analysed experiments file, extra analysis flags...
  local name=$1 served=$2 told=$3
  shift 3
  rm -rf "$WORK/ev" "$WORK/exp"
  "$BIN/aisle-server" --model "$WORK/m.model" --port "$PORT" --access_log '' --events_dir "$WORK/ev" \
    --exposures_dir "$WORK/exp" --experiments "$served" 2>>"$WORK/server.log" &
  SERVER_PID=$!
  for _ in $(seq 100); do curl -sf "localhost:$PORT/readyz" >/dev/null && break; sleep 0.2; done
  echo "== $name: $VISITS visits" >&2
  local start=$SECONDS
  "$BIN/aisle-sim" --port "$PORT" --visits "$VISITS" --sim_seed 11 "${STORE[@]}"
  echo "($((SECONDS - start)) s)" >&2
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
  "$BIN/aisle-eval" experiment --exposures "$WORK/exp" --events "$WORK/ev" --experiments_file "$told" --window 1d "$@"
}
experiment ab '"serve": "popularity"' '"serve": "model"' 50 50 > "$WORK/ab.json"
experiment aa '"serve": "model"' '"serve": "model"' 50 50 > "$WORK/aa.json"
experiment skew '"serve": "model"' '"serve": "model"' 70 30 > "$WORK/skew-served.json"
experiment skew '"serve": "model"' '"serve": "model"' 50 50 > "$WORK/skew-told.json"
run "A/B: popularity vs iALS" "$WORK/ab.json" "$WORK/ab.json"
run "A/A: iALS vs iALS, 200 re-randomizations" "$WORK/aa.json" "$WORK/aa.json" --rerandomize 200
run "skewed split: served 70/30, analysed as 50/50" "$WORK/skew-served.json" "$WORK/skew-told.json"
