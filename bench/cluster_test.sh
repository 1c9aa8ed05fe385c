#!/usr/bin/env bash
# The multi-server topology on one machine (docs/OPERATIONS.md), and what
# happens when parts of it fail:
#   nginx (consistent hash of the customer id, GETs retried on another
#   server) -> three aisle-servers (--live_store through Sentinel,
#   --redis_wait_replicas 1) -> Redis primary + two replicas + a Sentinel.
#   bench/cluster_test.sh [SECONDS]
# Prints, as Markdown:
#   1. propagation between two servers of an event, a consent withdrawal and
#      an erasure (bench/propagation.py), idle;
#   2. kill -9 of one server under GET load through nginx (wrk, 16
#      connections) and event load (bench/event_writer.py): failed GETs,
#      and every acknowledged event id found in Redis;
#   3. kill -9 of the Redis primary under event load: how long writes were
#      refused (503 + Retry-After), and every acknowledged event id found in
#      the archive (aisle-train archive-live) afterwards.
# Exits 1 when a GET failed or an acknowledged event is missing.
# AISLE_KEEP=1 keeps the work directory (logs of every process).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_PHASE=${1:-10}
BIN=${AISLE_BIN:-build/bin}
BASE=${AISLE_PORT:-18300}
NGINX_PORT=$BASE
S1=$((BASE + 1)); S2=$((BASE + 2)); S3=$((BASE + 3))
R0=$((BASE + 10)); R1=$((BASE + 11)); R2=$((BASE + 12)); SENTINEL=$((BASE + 20))
. bench/nginx_static.sh
install_wrk_and_nginx
command -v redis-server >/dev/null || {
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
}
WORK=$(mktemp -d -p "${AISLE_BENCH_DIR:-$PWD/build}")
chmod 755 "$WORK"
declare -A PID
cleanup() {
  for p in "${PID[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${AISLE_KEEP:-}" ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
fail=0

echo "== model: synthetic, 20000 customers x 5000 products; files in $WORK" >&2
"$BIN/aisle-synth" --output "$WORK/events.csv" --customers 20000 --products 5000 --categories 50 \
  --purchases 300000 --seed 3 2>/dev/null
"$BIN/aisle-train" --input "$WORK/events.csv" --publish_dir "$WORK/pub" --factors 32 --iterations 3 --quiet
echo "cluster-admin-key-0123456789abcdef" > "$WORK/admin"

redis() {  # name port extra...
  local name=$1 port=$2; shift 2
  mkdir -p "$WORK/$name"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$WORK/$name" --appendonly yes --appendfsync always \
    --save "" --maxmemory-policy noeviction --logfile "$WORK/$name/redis.log" "$@" &
  PID[$name]=$!
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && return; sleep 0.1; done
  echo "redis $name did not start" >&2; exit 1
}
redis r0 $R0
redis r1 $R1 --replicaof 127.0.0.1 $R0
redis r2 $R2 --replicaof 127.0.0.1 $R0
cat > "$WORK/sentinel.conf" <<CONF
port $SENTINEL
bind 127.0.0.1
dir $WORK
logfile $WORK/sentinel.log
sentinel monitor live 127.0.0.1 $R0 1
sentinel down-after-milliseconds live 1000
sentinel failover-timeout live 5000
CONF
redis-server "$WORK/sentinel.conf" --sentinel &
PID[sentinel]=$!
sleep 2
STORE="redis-sentinel://127.0.0.1:$SENTINEL/live"

server() {  # name port
  "$BIN/aisle-server" --model "$WORK/pub" --port "$2" --access_log '' --admin_keys "$WORK/admin" \
    --live_store "$STORE" --redis_wait_replicas 1 2>>"$WORK/$1.log" &
  PID[$1]=$!
  for _ in $(seq 300); do curl -sf "localhost:$2/readyz" >/dev/null && return; sleep 0.1; done
  echo "server $1 did not start" >&2; cat "$WORK/$1.log" >&2; exit 1
}
server s1 $S1; server s2 $S2; server s3 $S3

mkdir -p "$WORK/nginx"
cat > "$WORK/nginx.conf" <<CONF
daemon off;
worker_processes 2;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx; proxy_temp_path $WORK/nginx; fastcgi_temp_path $WORK/nginx;
  uwsgi_temp_path $WORK/nginx; scgi_temp_path $WORK/nginx;
  map \$uri \$customer { ~^/v1/customers/(?<id>[^/]+) \$id; default \$request_id; }
  upstream aisle {
    hash \$customer consistent;
    server 127.0.0.1:$S1 max_fails=1 fail_timeout=2s;
    server 127.0.0.1:$S2 max_fails=1 fail_timeout=2s;
    server 127.0.0.1:$S3 max_fails=1 fail_timeout=2s;
    keepalive 64;
  }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://aisle;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_next_upstream error timeout http_502 http_503;
      proxy_next_upstream_tries 2;
      proxy_connect_timeout 200ms;
      proxy_read_timeout 5s;
    }
  }
}
CONF
"$NGINX" -c "$WORK/nginx.conf" -p "$WORK/nginx" 2>/dev/null &
PID[nginx]=$!
sleep 0.5

PRODUCT=$(awk -F, 'NR == 2 {print $2; exit}' "$WORK/events.csv")
echo "| propagation (servers 1 -> 2) | trials | p50 ms | p99 ms | max ms |"
echo "|---|---|---|---|---|"
python3 bench/propagation.py $S1 $S2 "$PRODUCT" 200 "$(cat "$WORK/admin")"
echo

cat > "$WORK/get.lua" <<'LUA'
math.randomseed(7)
request = function()
  return wrk.format("GET", "/v1/customers/c" .. math.random(0, 19999) .. "/recommendations?count=10")
end
LUA
# Acknowledged ids against what the store holds (the stream, or the archive).
check_acked() {  # acked-file label
  local missing
  missing=$(comm -23 <(sort -u "$1") <(sort -u "$WORK/stored.txt") | wc -l)
  echo "$2: $(sort -u "$1" | wc -l) event ids acknowledged, $missing of them missing"
  [ "$missing" -eq 0 ] || fail=1
}
stored_in_stream() {
  local primary
  primary=$(redis-cli -p $SENTINEL sentinel get-master-addr-by-name live | tail -1)
  redis-cli -p "$primary" --no-raw xrange aisle:log - + | grep -oE 'r[0-9]+w[0-9]+-[0-9]+-[0-9]+' > "$WORK/stored.txt" || true
}

echo "== kill -9 of server 2 under load through nginx" >&2
wrk -t2 -c16 -d"${SECONDS_PER_PHASE}s" -s "$WORK/get.lua" "http://127.0.0.1:$NGINX_PORT" > "$WORK/wrk1.txt" &
W=$!
python3 bench/event_writer.py $NGINX_PORT "$SECONDS_PER_PHASE" 4 "$WORK/acked1.txt" > "$WORK/writer1.json" &
E=$!
sleep $((SECONDS_PER_PHASE / 3))
kill -9 "${PID[s2]}"; unset 'PID[s2]'
wait $W $E
requests=$(awk '/requests in/ {print $1}' "$WORK/wrk1.txt")
bad=$(awk '/Non-2xx/ {print $NF}' "$WORK/wrk1.txt"); bad=${bad:-0}
sockerr=$(grep -c 'Socket errors' "$WORK/wrk1.txt" || true)
echo "server 2 killed: $requests GETs through nginx, $bad non-2xx, socket errors: $(grep 'Socket errors' "$WORK/wrk1.txt" || echo none)"
echo "event writer: $(cat "$WORK/writer1.json")"
[ "$bad" -eq 0 ] && [ "$sockerr" -eq 0 ] || fail=1
stored_in_stream
check_acked "$WORK/acked1.txt" "server 2 killed"
server s2 $S2

echo "== kill -9 of the Redis primary under event load" >&2
python3 bench/event_writer.py $NGINX_PORT "$((SECONDS_PER_PHASE * 2))" 4 "$WORK/acked2.txt" > "$WORK/writer2.json" &
E=$!
sleep $((SECONDS_PER_PHASE / 3))
killed_at=$(date +%s.%N)
kill -9 "${PID[r0]}"; unset 'PID[r0]'
wait $E
echo "Redis primary killed: event writer $(cat "$WORK/writer2.json")"
grep -E '\+switch-master' "$WORK/sentinel.log" | tail -1 | sed 's/^/sentinel: /'
# Everything into the archive: every acknowledged id must be there.
"$BIN/aisle-train" archive-live --live_store "$STORE" --events_dir "$WORK/archive" --archive_lag_s 0
cat "$WORK"/archive/events-*.csv | grep -oE 'r[0-9]+w[0-9]+-[0-9]+-[0-9]+' > "$WORK/stored.txt" || true
cat "$WORK/acked1.txt" "$WORK/acked2.txt" > "$WORK/acked-all.txt"
check_acked "$WORK/acked-all.txt" "after the failover, in the archive"
exit $fail
