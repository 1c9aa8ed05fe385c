#!/usr/bin/env bash
# Load test of aisle-server with wrk, beside nginx serving a static file of
# the same size as the ceiling for HTTP on this machine.
#   bench/load_test.sh [DURATION_SECONDS]
# Model: synthetic, 100k customers x 50k products, 64 factors. wrk sends
# what an ordinary HTTP/1.1 client sends: no Connection header (connections
# persist because HTTP/1.1 says so). Requests:
# GET /v1/customers/<random known customer>/recommendations?count=10
# at 1, 16 and 64 connections (2 wrk threads, 1 at 1 connection),
# as the server runs by default (answers from the precomputed top lists) and
# with --top_lists 0 (every request scored by the batcher); and at 16
# connections GET /v1/products/<random product>/similar?count=10 both ways,
# and a storefront's mix: 60% customer recommendations, 25% similar
# products, 10% basket recommendations (POST, 3 products), 5% rank (POST,
# 20 products).
# AISLE_TRAIN_FLAGS adds flags to the training (e.g. "--algorithm item_knn").
# Installs wrk and nginx with apt-get when missing. Prints a Markdown table
# of requests/s and p50/p99 latency. Run on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
BIN=${AISLE_BIN:-build/bin}
PORT=${AISLE_PORT:-18180}
NGINX_PORT=${NGINX_PORT:-18181}
. bench/nginx_static.sh
install_wrk_and_nginx
WORK=$(mktemp -d)
chmod 755 "$WORK"  # nginx workers run as an unprivileged user
SERVER_PID=""; NGINX_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

CUSTOMERS=100000
echo "== model: $CUSTOMERS customers x 50000 products, 64 factors" >&2
"$BIN/aisle-synth" --output "$WORK/events.csv" --customers $CUSTOMERS --products 50000 --categories 200 \
  --purchases 2000000 --seed 11 2>/dev/null
# shellcheck disable=SC2086
"$BIN/aisle-train" --input "$WORK/events.csv" --output "$WORK/m.model" --factors 64 --iterations 3 --quiet \
  ${AISLE_TRAIN_FLAGS:-}

start_server() {  # extra flags
  [ -n "$SERVER_PID" ] && { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; }
  "$BIN/aisle-server" --model "$WORK/m.model" --port "$PORT" --threads 2 --access_log '' "$@" \
    ${AISLE_SERVER_FLAGS:-} 2>>"$WORK/server.log" &
  SERVER_PID=$!
  for _ in $(seq 100); do curl -sf "localhost:$PORT/readyz" >/dev/null && break; sleep 0.2; done
  # The lists fill in the background after the load: measured once they are all there.
  for _ in $(seq 300); do curl -s "localhost:$PORT/metrics" | grep -q '^aisle_top_list_warming 1' || break; sleep 0.2; done
}
start_server
BODY_BYTES=$(curl -s "localhost:$PORT/v1/customers/c1/recommendations?count=10" | wc -c)

cat > "$WORK/random_customer.lua" <<LUA
math.randomseed(42)
request = function()
  return wrk.format("GET", "/v1/customers/c" .. math.random(0, $CUSTOMERS - 1) .. "/recommendations?count=10")
end
LUA

# Similar products for random products of the model (the ids in the events file).
{
  echo 'math.randomseed(42)'
  echo 'local ids = {'
  tail -n +2 "$WORK/events.csv" | cut -d, -f2 | sort -u | sed 's/.*/"&",/'
  echo '}'
  echo 'request = function()'
  echo '  return wrk.format("GET", "/v1/products/" .. ids[math.random(1, #ids)] .. "/similar?count=10")'
  echo 'end'
} > "$WORK/random_product.lua"

# A storefront's mix of page views.
{
  echo 'math.randomseed(42)'
  echo 'local ids = {'
  tail -n +2 "$WORK/events.csv" | cut -d, -f2 | sort -u | sed 's/.*/"&",/'
  echo '}'
  cat <<LUA
local function product() return ids[math.random(1, #ids)] end
local function customer() return "c" .. math.random(0, $CUSTOMERS - 1) end
local json = {["Content-Type"] = "application/json"}
request = function()
  local x = math.random()
  if x < 0.60 then
    return wrk.format("GET", "/v1/customers/" .. customer() .. "/recommendations?count=10")
  elseif x < 0.85 then
    return wrk.format("GET", "/v1/products/" .. product() .. "/similar?count=10")
  elseif x < 0.95 then
    local body = '{"products": ["' .. product() .. '", "' .. product() .. '", "' .. product() .. '"], "count": 10}'
    return wrk.format("POST", "/v1/recommendations", json, body)
  else
    local p = {}
    for i = 1, 20 do p[i] = '"' .. product() .. '"' end
    return wrk.format("POST", "/v1/customers/" .. customer() .. "/rank", json, '{"products": [' .. table.concat(p, ",") .. ']}')
  end
end
LUA
} > "$WORK/storefront.lua"

start_nginx_static

run() {  # name url-or-script connections
  local out threads=2
  [ "$3" -lt 2 ] && threads=1
  if [ "$2" = lua ] || [ "$2" = similar ] || [ "$2" = storefront ]; then
    local script="$WORK/random_customer.lua"
    [ "$2" = similar ] && script="$WORK/random_product.lua"
    [ "$2" = storefront ] && script="$WORK/storefront.lua"
    out=$(wrk -t$threads -c"$3" -d"${DURATION}s" --latency -s "$script" "http://127.0.0.1:$PORT")
  else
    out=$(wrk -t$threads -c"$3" -d"${DURATION}s" --latency "http://127.0.0.1:$NGINX_PORT/static.json")
  fi
  local rps p50 p99 errors
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  errors=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}' | tr '\n' ' ')
  printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$3" "$rps" "$p50" "$p99" "${errors:-none}"
}
echo "response body: $BODY_BYTES bytes; $DURATION s per run; $(nproc) cores shared by server and wrk"
echo
echo "| server | connections | requests/s | p50 | p99 | errors |"
echo "|---|---|---|---|---|---|"
for c in 1 16 64; do run "aisle-server" lua "$c"; done
run "aisle-server, similar products" similar 16
run "aisle-server, storefront mix" storefront 16
start_server --top_lists 0
for c in 1 16 64; do run "aisle-server --top_lists 0" lua "$c"; done
run "aisle-server --top_lists 0, similar products" similar 16
run "aisle-server --top_lists 0, storefront mix" storefront 16
for c in 1 16 64; do run nginx static "$c"; done
