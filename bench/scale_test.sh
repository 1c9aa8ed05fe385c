#!/usr/bin/env bash
# Serving at scale (issue 13) on the reference model (bench/reference_model.sh:
# 5M customers x 1M products x 64 factors, ids c<i> and p<i>, categories
# cat0..cat99 of 1% of the products each):
#  - start-up: seconds from launch to the first ready answer, and the
#    server's memory then (VmRSS, of which mapped file pages);
#  - with an empty list cache (--warm_lists=false): top-10 for random known
#    customers, the same in a random 1% category, similar products, a
#    storefront's mix;
#  - once the cache holds the requested customers: top-10 for 100k customers
#    after one pass over them, beside nginx serving a static file of the
#    same size;
#  - a model reload under load (the file touched mid-run): p99 against the
#    idle run's;
#  - SIGTERM during start-up and during a reload: seconds to exit;
#  - the process's memory at the end against the model file plus the cache
#    budget.
# wrk sends what an ordinary HTTP/1.1 client sends (no Connection header),
# 16 connections, 2 threads, on the same 2 cores as the server.
#   bench/scale_test.sh MODEL CATALOG [DURATION_SECONDS] [CACHE_MB]
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:?usage: bench/scale_test.sh MODEL CATALOG [DURATION] [CACHE_MB]}
CATALOG=${2:?catalog}
DURATION=${3:-20}
CACHE_MB=${4:-1024}
BIN=${AISLE_BIN:-build/bin}
PORT=${AISLE_PORT:-18190}
NGINX_PORT=${NGINX_PORT:-18191}
. bench/nginx_static.sh
install_wrk_and_nginx
WORK=$(mktemp -d)
chmod 755 "$WORK"
SERVER_PID=""; NGINX_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
now() { date +%s.%N; }
mem() {  # the server's memory, GB
  awk '/^VmRSS/ {r=$2} /^RssAnon/ {a=$2} /^RssFile/ {f=$2} END {printf "RSS %.2f GB (anonymous %.2f, file %.2f)", r/1048576, a/1048576, f/1048576}' "/proc/$SERVER_PID/status"
}
start_server() {  # extra flags; sets STARTUP (seconds to ready)
  stop_server
  local t0; t0=$(now)
  "$BIN/aisle-server" --model "$MODEL" --catalog "$CATALOG" --port "$PORT" --threads 2 --access_log '' \
    --top_lists_max_mb "$CACHE_MB" --watch_interval_ms 500 "$@" ${AISLE_SERVER_FLAGS:-} 2>>"$WORK/server.log" &
  SERVER_PID=$!
  for _ in $(seq 3000); do curl -sf "localhost:$PORT/readyz" >/dev/null && break; sleep 0.02; done
  STARTUP=$(echo "$(now) - $t0" | bc)
}
stop_server() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  SERVER_PID=""
}

CUSTOMERS=5000000
CACHED=100000
cat > "$WORK/customers.lua" <<LUA
math.randomseed(42)
request = function() return wrk.format("GET", "/v1/customers/c" .. math.random(0, $CUSTOMERS - 1) .. "/recommendations?count=10") end
LUA
cat > "$WORK/category.lua" <<LUA
math.randomseed(43)
request = function()
  return wrk.format("GET", "/v1/customers/c" .. math.random(0, $CUSTOMERS - 1) .. "/recommendations?count=10&category=cat" .. math.random(0, 99))
end
LUA
cat > "$WORK/similar.lua" <<LUA
math.randomseed(44)
request = function() return wrk.format("GET", "/v1/products/p" .. math.random(0, 999999) .. "/similar?count=10") end
LUA
cat > "$WORK/mix.lua" <<LUA
math.randomseed(45)
local json = {["Content-Type"] = "application/json"}
local function product() return "p" .. math.random(0, 999999) end
local function customer() return "c" .. math.random(0, $CUSTOMERS - 1) end
request = function()
  local x = math.random()
  if x < 0.60 then return wrk.format("GET", "/v1/customers/" .. customer() .. "/recommendations?count=10")
  elseif x < 0.85 then return wrk.format("GET", "/v1/products/" .. product() .. "/similar?count=10")
  elseif x < 0.95 then
    return wrk.format("POST", "/v1/recommendations", json, '{"products": ["' .. product() .. '", "' .. product() .. '", "' .. product() .. '"], "count": 10}')
  else
    local p = {}
    for i = 1, 20 do p[i] = '"' .. product() .. '"' end
    return wrk.format("POST", "/v1/customers/" .. customer() .. "/rank", json, '{"products": [' .. table.concat(p, ",") .. ']}')
  end
end
LUA
# One pass over the first $CACHED customers (each wrk thread half of them), then random ones among them.
cat > "$WORK/fill.lua" <<LUA
local n, step = 0, 0
setup = function(thread) thread:set("id", step); step = step + 1 end
init = function() n = tonumber(id) end
request = function()
  local c = n
  n = n + 2
  if c >= $CACHED then c = c % $CACHED end
  return wrk.format("GET", "/v1/customers/c" .. c .. "/recommendations?count=10")
end
LUA
cat > "$WORK/cached.lua" <<LUA
math.randomseed(46)
request = function() return wrk.format("GET", "/v1/customers/c" .. math.random(0, $CACHED - 1) .. "/recommendations?count=10") end
LUA

run() {  # label script-or-url [seconds]; prints a table row, sets P99
  local out target="http://127.0.0.1:$PORT" args=() secs=${3:-$DURATION}
  if [ "$2" = nginx ]; then target="http://127.0.0.1:$NGINX_PORT/static.json"; else args=(-s "$WORK/$2.lua"); fi
  out=$(wrk -t2 -c16 -d"${secs}s" --latency "${args[@]}" "$target")
  local rps p50 p99 errors
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
  P99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  errors=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}' | tr '\n' ' ')
  printf '| %s | %s | %s | %s | %s |\n' "$1" "$rps" "$p50" "$P99" "${errors:-none}"
}

echo "model: $MODEL ($(stat -c %s "$MODEL") bytes), cache budget $CACHE_MB MB, $DURATION s per run, $(nproc) cores shared by server and wrk"
SAVED_CATALOG=$CATALOG
for i in 1 2 3; do
  CATALOG=/dev/null start_server --warm_lists=false --catalog ''
  echo "start-up without the catalog: ready in $STARTUP s"
done
CATALOG=$SAVED_CATALOG
for i in 1 2 3; do  # the last one stays up for the runs below
  start_server --warm_lists=false
  echo "start-up with the catalog: ready in $STARTUP s; $(mem)"
done
grep -o 'serving model.*' "$WORK/server.log" | tail -1
BODY_BYTES=$(curl -s "localhost:$PORT/v1/customers/c1/recommendations?count=10" | wc -c)
echo
echo "| requests (16 connections) | requests/s | p50 | p99 | errors |"
echo "|---|---|---|---|---|"
run "top-10, random customers, empty cache" customers
IDLE_P99=$P99
run "top-10 in a 1% category, random customers" category
run "similar products, random products" similar
run "storefront mix (60/25/10/5)" mix
run "one pass over $CACHED customers (filling)" fill 30 >/dev/null
echo "customer lists cached: $(curl -s "localhost:$PORT/metrics" | grep 'kind="customers",value="entries"' | awk '{print $2}')" >&2
run "top-10, $CACHED cached customers" cached
start_nginx_static
run "nginx, static file of $BODY_BYTES bytes" nginx
kill "$NGINX_PID"; NGINX_PID=""
echo
echo "memory after the runs: $(mem)"

# A reload under load: the model file touched 5 s into a run long enough
# for the background reload (nice 10, one thread) to finish under full load.
RELOAD_RUN=$((DURATION * 3))
LOADS_BEFORE=$(grep -c 'serving model' "$WORK/server.log")
( sleep 5; touch "$MODEL" ) &
echo
echo "| during a reload (16 connections) | requests/s | p50 | p99 | errors |"
echo "|---|---|---|---|---|"
run "top-10, random customers, model reloaded 5 s into $RELOAD_RUN s" customers "$RELOAD_RUN"
if [ "$(grep -c 'serving model' "$WORK/server.log")" -gt "$LOADS_BEFORE" ]; then
  echo "reload p99 $P99 against idle $IDLE_P99; the new model served from $(grep -o '^[^ ]*' "$WORK/server.log" | tail -1)"
  grep -o 'serving model.*' "$WORK/server.log" | tail -1
else
  echo "the reload did not finish within the run"
fi
echo "memory after the reload: $(mem)"

# SIGTERM during start-up and during a reload.
stop_server
"$BIN/aisle-server" --model "$MODEL" --catalog "$CATALOG" --port "$PORT" --access_log '' 2>>"$WORK/server.log" &
SERVER_PID=$!
sleep 0.3
t0=$(now); kill -TERM "$SERVER_PID"; wait "$SERVER_PID" || true; SERVER_PID=""
echo "SIGTERM 0.3 s into start-up: exited in $(echo "$(now) - $t0" | bc) s"
start_server
touch "$MODEL"
sleep 0.8  # the watcher (500 ms) has begun the reload
t0=$(now); kill -TERM "$SERVER_PID"; wait "$SERVER_PID" || true; SERVER_PID=""
echo "SIGTERM during a reload: exited in $(echo "$(now) - $t0" | bc) s"
