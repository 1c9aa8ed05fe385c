#!/usr/bin/env bash
# Soak run of aisle-server (not in CI): mixed storefront traffic for a long
# time while the model is reloaded every minute and a corrupt model is
# offered every five; samples the server's resident memory and open file
# descriptors every 10 s.
#   bench/soak.sh [DURATION_SECONDS (1800)] [CONNECTIONS (16)]
# Model: synthetic, 100k customers x 50k products x 64 factors in 200
# categories, with a catalog (category, price, stock) and 20 offers. Traffic
# (wrk, plain HTTP/1.1 clients, no Connection header): customer
# recommendations unfiltered (35%) and filtered by category, price or stock
# (15%), similar products (20%), basket (10%), rank (5%), offers (10%),
# offer impressions (5%). Prints a Markdown summary; the samples are kept in
# $SOAK_OUT (default soak-<time>/). Fails when any traffic request failed
# (non-2xx, socket error) or a reload did not answer as expected (200 for a
# good model, 422 for a corrupt one, the previous model still serving).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-1800}
CONNECTIONS=${2:-16}
BIN=${AISLE_BIN:-build/bin}
PORT=${AISLE_PORT:-18190}
OUT=${SOAK_OUT:-soak-$(date -u +%Y%m%dT%H%M%SZ)}
command -v wrk >/dev/null || {
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
}
mkdir -p "$OUT"
WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

CUSTOMERS=100000 PRODUCTS=50000 CATEGORIES=200
echo "== data and two model versions ($CUSTOMERS customers x $PRODUCTS products, 64 factors)" >&2
"$BIN/aisle-synth" --output "$WORK/events.csv" --customers $CUSTOMERS --products $PRODUCTS --categories $CATEGORIES \
  --purchases 2000000 --seed 11 2>/dev/null
for seed in 1 2; do
  "$BIN/aisle-train" --input "$WORK/events.csv" --publish_dir "$WORK/pub" --factors 64 --iterations 2 --seed $seed \
    --max_drop 1 --quiet
done
V1=$(ls "$WORK"/pub/models/*.model | sort | head -1)
V2=$(ls "$WORK"/pub/models/*.model | sort | tail -1)
cp "$V1" "$WORK/pub/models/corrupt.model"
printf '\x55' | dd of="$WORK/pub/models/corrupt.model" bs=1 seek=$(( $(stat -c %s "$V1") / 2 )) conv=notrunc 2>/dev/null
point() { ln -sfn "models/$(basename "$1")" "$WORK/pub/current.tmp" && mv -T "$WORK/pub/current.tmp" "$WORK/pub/current"; }
point "$V1"

# Catalog: each product's category is its synthetic one (the events file
# does not say it: products are spread over categories by id), a price and
# stock; offers on 20 categories.
tail -n +2 "$WORK/events.csv" | cut -d, -f2 | sort -u > "$WORK/products.txt"
awk -v c=$CATEGORIES 'BEGIN {print "product_id,name,category,price,in_stock"}
  {n = substr($1, 2) + 0; printf "%s,Product %d,cat%d,%.2f,%s\n", $1, n, n % c, 1 + (n * 7919 % 5000) / 100, (n % 10 ? "true" : "false")}' \
  "$WORK/products.txt" > "$WORK/catalog.csv"
{
  echo '{"offers": ['
  for i in $(seq 0 19); do
    sep=","; [ "$i" = 19 ] && sep=""
    echo "{\"id\": \"o$i\", \"title\": \"Category $i: 10% off\", \"categories\": [\"cat$i\"], \"discount\": {\"percent\": 10}, \"max_impressions_per_customer\": 1000}$sep"
  done
  echo ']}'
} > "$WORK/offers.json"
echo "soak-admin-key-0123456789abcdef" > "$WORK/admin"

"$BIN/aisle-server" --model "$WORK/pub" --catalog "$WORK/catalog.csv" --offers "$WORK/offers.json" \
  --impressions_log "$WORK/impressions.log" --admin_keys "$WORK/admin" --port "$PORT" --threads 2 \
  --access_log '' --watch_interval_ms 600000 2>>"$OUT/server.log" &
SERVER_PID=$!
for _ in $(seq 300); do curl -sf "localhost:$PORT/readyz" >/dev/null && break; sleep 0.2; done
curl -sf "localhost:$PORT/readyz" >/dev/null || { echo "server did not start" >&2; cat "$OUT/server.log" >&2; exit 1; }

{
  echo 'math.randomseed(7)'
  echo 'local ids = {'
  sed 's/.*/"&",/' "$WORK/products.txt"
  echo '}'
  cat <<LUA
local function product() return ids[math.random(1, #ids)] end
local function customer() return "c" .. math.random(0, $CUSTOMERS - 1) end
local json = {["Content-Type"] = "application/json"}
local filters = {"category=cat" .. 1, "max_price=20", "in_stock=true", "category=cat3,cat4&min_price=5"}
request = function()
  local x = math.random()
  if x < 0.35 then
    return wrk.format("GET", "/v1/customers/" .. customer() .. "/recommendations?count=10")
  elseif x < 0.50 then
    local f = filters[math.random(1, #filters)]:gsub("cat1", "cat" .. math.random(0, $CATEGORIES - 1))
    return wrk.format("GET", "/v1/customers/" .. customer() .. "/recommendations?count=10&" .. f)
  elseif x < 0.70 then
    return wrk.format("GET", "/v1/products/" .. product() .. "/similar?count=10")
  elseif x < 0.80 then
    local body = '{"products": ["' .. product() .. '", "' .. product() .. '"], "count": 10}'
    return wrk.format("POST", "/v1/recommendations", json, body)
  elseif x < 0.85 then
    local p = {}
    for i = 1, 20 do p[i] = '"' .. product() .. '"' end
    return wrk.format("POST", "/v1/customers/" .. customer() .. "/rank", json, '{"products": [' .. table.concat(p, ",") .. ']}')
  elseif x < 0.95 then
    return wrk.format("GET", "/v1/customers/" .. customer() .. "/offers?count=3")
  else
    return wrk.format("POST", "/v1/customers/" .. customer() .. "/offers/impressions", json,
                      '{"offers": ["o' .. math.random(0, 19) .. '"]}')
  end
end
LUA
} > "$WORK/soak.lua"

sample() {  # seconds-since-start
  local rss fds
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status")
  fds=$(ls "/proc/$SERVER_PID/fd" | wc -l)
  echo "$1,$rss,$fds" >> "$OUT/samples.csv"
}
echo "seconds,rss_kb,open_fds" > "$OUT/samples.csv"
echo "seconds,model,status,serving" > "$OUT/reloads.csv"

echo "== soak: $DURATION s at $CONNECTIONS connections" >&2
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$WORK/soak.lua" "http://127.0.0.1:$PORT" > "$OUT/wrk.txt" 2>&1 &
WRK_PID=$!
start=$(date +%s)
reload_failures=0
minute=0
sample 0
while kill -0 $WRK_PID 2>/dev/null; do
  sleep 10
  now=$(( $(date +%s) - start ))
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "server died" >&2; exit 1; }
  sample "$now"
  if [ $(( now / 60 )) -gt $minute ] && [ $now -lt "$DURATION" ]; then
    minute=$(( now / 60 ))
    if [ $(( minute % 5 )) -eq 0 ]; then target="$WORK/pub/models/corrupt.model"; want=422
    elif [ $(( minute % 2 )) -eq 0 ]; then target=$V1; want=200
    else target=$V2; want=200; fi
    before=$(curl -s "localhost:$PORT/readyz" | sed 's/.*"model_version":"\([^"]*\)".*/\1/')
    point "$target"
    code=$(curl -s -o "$WORK/reload.json" -w '%{http_code}' -X POST -H "X-API-Key: soak-admin-key-0123456789abcdef" \
      "localhost:$PORT/v1/admin/reload")
    serving=$(curl -s "localhost:$PORT/readyz" | sed 's/.*"model_version":"\([^"]*\)".*/\1/')
    echo "$now,$(basename "$target"),$code,$serving" >> "$OUT/reloads.csv"
    if [ "$code" != "$want" ] || { [ "$want" = 422 ] && [ "$serving" != "$before" ]; }; then
      reload_failures=$(( reload_failures + 1 ))
      echo "reload of $(basename "$target") answered $code (wanted $want): $(cat "$WORK/reload.json")" >&2
    fi
    [ "$want" = 422 ] && point "$V1"
  fi
done
wait $WRK_PID || true
sample "$(( $(date +%s) - start ))"

requests=$(awk '/requests in/ {print $1}' "$OUT/wrk.txt")
rps=$(awk '/Requests\/sec/ {print $2}' "$OUT/wrk.txt")
p50=$(awk '$1 == "50%" {print $2}' "$OUT/wrk.txt")
p99=$(awk '$1 == "99%" {print $2}' "$OUT/wrk.txt")
errors=$(awk '/Non-2xx|Socket errors/ {print}' "$OUT/wrk.txt" | tr '\n' ' ')
reloads=$(( $(wc -l < "$OUT/reloads.csv") - 1 ))
read -r rss_first fds_first < <(awk -F, 'NR == 2 {print $2, $3}' "$OUT/samples.csv")
read -r rss_min rss_max fds_min fds_max < <(awk -F, 'NR > 2 {if (!n++ || $2 < a) a = $2; if ($2 > b) b = $2; if (!m++ || $3 < c) c = $3; if ($3 > d) d = $3} END {print a, b, c, d}' "$OUT/samples.csv")
read -r rss_last fds_last < <(tail -1 "$OUT/samples.csv" | awk -F, '{print $2, $3}')
cat <<MD
| duration | connections | requests | requests/s | p50 | p99 | failed requests | reloads (corrupt) | failed reloads |
|---|---|---|---|---|---|---|---|---|
| ${DURATION} s | $CONNECTIONS | $requests | $rps | $p50 | $p99 | ${errors:-none} | $reloads ($(grep -c corrupt "$OUT/reloads.csv" || true)) | $reload_failures |

| | at start | min after | max after | at end |
|---|---|---|---|---|
| resident memory (MB) | $(( rss_first / 1024 )) | $(( rss_min / 1024 )) | $(( rss_max / 1024 )) | $(( rss_last / 1024 )) |
| open file descriptors | $fds_first | $fds_min | $fds_max | $fds_last |

Samples: $OUT/samples.csv; reloads: $OUT/reloads.csv; wrk: $OUT/wrk.txt.
MD
[ -z "$errors" ] && [ "$reload_failures" -eq 0 ]
