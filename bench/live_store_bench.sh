#!/usr/bin/env bash
# The live store's cost and propagation (issue 21): the same model and load
# against aisle-server with the file store (--events_dir: journal, fdatasync
# per group commit) and with the Redis store (--live_store: a local
# redis-server, appendonly yes, appendfsync always, on a Unix socket), in one
# run; then two servers sharing that Redis: how soon an event, a consent
# withdrawal and an erasure through A change B's answers
# (bench/propagation.py), idle and with both servers under storefront load.
#   bench/live_store_bench.sh [DURATION_SECONDS]
# wrk, 16 connections, plain HTTP/1.1 (no Connection header), default flags.
# Loads: customer recommendations alone; events alone in batches of 10 (one
# customer's views and purchases of random products); a storefront (70%
# recommendations, 20% events 1-3 per request, 10% similar products).
# Model: synthetic, 100k customers x 50k products, 64 factors.
# AISLE_STORES="redis file" changes the order, AISLE_STORES=none skips the
# comparison (propagation only). Per load: CPU seconds the server and Redis
# used (of 2 cores x DURATION).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
BIN=${AISLE_BIN:-build/bin}
PORT=${AISLE_PORT:-18200}
PORT_B=$((PORT + 1))
command -v wrk >/dev/null && command -v redis-server >/dev/null || {
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk redis-server >/dev/null
}
WORK=$(mktemp -d -p "${AISLE_BENCH_DIR:-$PWD/build}")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

CUSTOMERS=100000
echo "== model: $CUSTOMERS customers x 50000 products, 64 factors; files in $WORK" >&2
"$BIN/aisle-synth" --output "$WORK/events.csv" --customers $CUSTOMERS --products 50000 --categories 200 \
  --purchases 2000000 --seed 11 2>/dev/null
"$BIN/aisle-train" --input "$WORK/events.csv" --output "$WORK/m.model" --factors 64 --iterations 3 --quiet
echo "admin-key-for-the-bench-0123456789" > "$WORK/admin"

redis-server --port 0 --unixsocket "$WORK/redis.sock" --unixsocketperm 700 --dir "$WORK" --appendonly yes \
  --appendfsync always --save "" --maxmemory-policy noeviction --logfile "$WORK/redis.log" --daemonize no &
PIDS+=($!)
REDIS_PID=$!
for _ in $(seq 100); do redis-cli -s "$WORK/redis.sock" ping >/dev/null 2>&1 && break; sleep 0.1; done
REDIS="redis+unix://$WORK/redis.sock"

. bench/storefront_lua.sh
storefront_lua recs 0 0 1
storefront_lua events10 1 0 10
storefront_lua storefront 0.2 0.1 3

start() {  # port, store flags...
  local port=$1; shift
  local log="$WORK/server-$port.log" lists
  lists=$(grep -c "lists of model" "$log" 2>/dev/null || true)
  "$BIN/aisle-server" --model "$WORK/m.model" --port "$port" --access_log '' --admin_keys "$WORK/admin" "$@" \
    2>>"$log" &
  PIDS+=($!)
  # Ready, and the top lists filled (their background fill would otherwise
  # take the cores from the first phase measured: BENCHMARKS "Live store").
  for _ in $(seq 600); do
    curl -sf "localhost:$port/readyz" >/dev/null && [ "$(grep -c "lists of model" "$log")" -gt "${lists:-0}" ] && return
    sleep 0.2
  done
  echo "server on $port did not start" >&2; cat "$log" >&2; exit 1
}
stop() { kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true; unset 'PIDS[-1]'; }

cpu() { ps -o times= -p "$1" | tr -d ' '; }  # CPU seconds so far
run() {  # store, name, script
  local out rps p50 p99 errors s0 r0
  s0=$(cpu "${PIDS[-1]}"); r0=$(cpu "$REDIS_PID")
  out=$(wrk -t2 -c16 -d"${DURATION}s" --latency -s "$WORK/$3.lua" "http://127.0.0.1:$PORT")
  local cpus="$(( $(cpu "${PIDS[-1]}") - s0 )) / $(( $(cpu "$REDIS_PID") - r0 ))"
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  errors=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}' | tr '\n' ' ')
  local extra=""
  [ "$3" = events10 ] && extra=" ($(awk -v r="$rps" 'BEGIN {printf "%.0f", r * 10}') events/s)"
  printf '| %s | %s | %s%s | %s | %s | %s | %s |\n' "$1" "$2" "$rps" "$extra" "$p50" "$p99" "$cpus" "${errors:-none}"
}

echo "| store | load (16 connections) | requests/s | p50 | p99 | CPU s: server / redis | errors |"
echo "|---|---|---|---|---|---|---|"
for store in ${AISLE_STORES:-file redis}; do
  [ "$store" = none ] && continue
  if [ $store = file ]; then start "$PORT" --events_dir "$WORK/journal"; else start "$PORT" --live_store "$REDIS"; fi
  run $store "recommendations" recs
  run $store "events, 10 per request" events10
  run $store "storefront: 70% recs, 20% events (1-3), 10% similar" storefront
  stop
done
echo
redis-cli -s "$WORK/redis.sock" info memory | grep -E '^used_memory_human' | sed 's/^/redis /'
redis-cli -s "$WORK/redis.sock" dbsize | sed 's/^/redis keys: /'

echo
echo "| propagation | trials | p50 ms | p99 ms | max ms |"
echo "|---|---|---|---|---|"
start "$PORT" --live_store "$REDIS"
start "$PORT_B" --live_store "$REDIS"
PRODUCT=$(awk -F, 'NR == 2 {print $2; exit}' "$WORK/events.csv")
python3 bench/propagation.py "$PORT" "$PORT_B" "$PRODUCT" 200 "$(cat "$WORK/admin")" | sed 's/^| /| idle: /'
wrk -t1 -c8 -d"$((DURATION * 3))s" -s "$WORK/storefront.lua" "http://127.0.0.1:$PORT" >/dev/null &
W1=$!
wrk -t1 -c8 -d"$((DURATION * 3))s" -s "$WORK/storefront.lua" "http://127.0.0.1:$PORT_B" >/dev/null &
W2=$!
sleep 1
python3 bench/propagation.py "$PORT" "$PORT_B" "$PRODUCT" 200 "$(cat "$WORK/admin")" | sed 's/^| /| under storefront load on both: /'
wait $W1 $W2
