#!/usr/bin/env bash
# Serving throughput with an experiment running against without: the bench
# model (100k customers x 50k products x 64 factors), customer
# recommendations for random known customers at 16 connections (wrk, no
# Connection header), the server alone, then with --experiments running a
# 50/50 experiment on that endpoint (both variants the main model, so the
# difference is the experiment's own cost: assignment, labels, metrics)
# and with --exposures_dir recording every answer (flushed every
# EXPOSURE_FLUSH_MS, default the server's 1000; EXPOSURES=0: without the
# exposure log, to see the experiment's own cost). Alternates the two
# servers RUNS times and prints each run and the ratio of the medians.
#   bench/experiment_load.sh [DURATION_SECONDS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
RUNS=${2:-3}
BIN=${AISLE_BIN:-build/bin}
PORT=${AISLE_PORT:-18195}
command -v wrk >/dev/null || {
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
}
WORK=$(mktemp -d -p "${AISLE_BENCH_DIR:-$PWD/build}")
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && { kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; } || true
  rm -rf "$WORK"
}
trap cleanup EXIT
CUSTOMERS=100000
"$BIN/aisle-synth" --output "$WORK/events.csv" --customers $CUSTOMERS --products 50000 --categories 200 \
  --purchases 2000000 --seed 11 2>/dev/null
"$BIN/aisle-train" --input "$WORK/events.csv" --output "$WORK/m.model" --factors 64 --iterations 3 --quiet
cat > "$WORK/experiments.json" <<JSON
{"experiments": [{"id": "load", "salt": "s", "endpoints": ["customer_recommendations"],
  "variants": [{"name": "a", "weight": 50}, {"name": "b", "weight": 50}]}]}
JSON
cat > "$WORK/recs.lua" <<LUA
math.randomseed(42)
request = function()
  return wrk.format("GET", "/v1/customers/c" .. math.random(0, $CUSTOMERS - 1) .. "/recommendations?count=10")
end
LUA
start() {
  [ -n "$SERVER_PID" ] && { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; }
  "$BIN/aisle-server" --model "$WORK/m.model" --port "$PORT" --threads 2 --access_log '' "$@" 2>>"$WORK/server.log" &
  SERVER_PID=$!
  for _ in $(seq 150); do curl -sf "localhost:$PORT/readyz" >/dev/null && break; sleep 0.2; done
}
rate() { wrk -t2 -c16 -d"${DURATION}s" --latency -s "$WORK/recs.lua" "http://127.0.0.1:$PORT" |
  awk '/Requests\/sec/ {r=$2} $1 == "99%" {p=$2} END {print r, p}'; }
plain=(); with=()
echo "| run | without: requests/s, p99 | with experiment + exposures: requests/s, p99 |"
echo "|---|---|---|"
for i in $(seq "$RUNS"); do
  start
  a=$(rate)
  if [ "${EXPOSURES:-1}" = 1 ]; then
    start --experiments "$WORK/experiments.json" --exposures_dir "$WORK/exposures" \
      --exposure_flush_ms "${EXPOSURE_FLUSH_MS:-1000}"
  else
    start --experiments "$WORK/experiments.json"
  fi
  b=$(rate)
  echo "| $i | $a | $b |"
  plain+=("${a%% *}"); with+=("${b%% *}")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mp=$(median "${plain[@]}"); mw=$(median "${with[@]}")
awk -v a="$mp" -v b="$mw" 'BEGIN {printf "median: %.0f without, %.0f with: %.1f%%\n", a, b, 100 * b / a}'
grep -c . "$WORK"/exposures/exposures-*.jsonl 2>/dev/null | tail -1 | sed 's/^/exposure lines in the last segment: /' || true
