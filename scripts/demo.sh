#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, trains a model
# on the bundled Online Retail sample, starts aisle-server on it (with a
# product catalog, the example offer catalog and throwaway API keys) and calls every endpoint with curl.
# The server is stopped at the end; pass --keep-running to leave it up.
set -euo pipefail
cd "$(dirname "$0")/.."
KEEP=0
[ "${1:-}" = "--keep-running" ] && KEEP=1
bash scripts/setup.sh
command -v curl >/dev/null || { SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo; $SUDO apt-get install -y -qq curl >/dev/null; }
bash scripts/build.sh aisle-train aisle-server
mkdir -p models/keys
echo "== Training on data/sample/online_retail_sample.csv" >&2
./build/bin/aisle-train \
  --input data/sample/online_retail_sample.csv --format online_retail \
  --publish_dir models/sample --factors 32 --iterations 10 --regularization 0.1 --quiet
KEY=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
ADMIN=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
echo "$KEY" > models/keys/clients
echo "$ADMIN" > models/keys/admins
PORT=${PORT:-8080}
./build/bin/aisle-server --model models/sample --catalog data/sample/catalog.csv --port "$PORT" \
  --offers data/offers/online_retail_offers.json --impressions_log models/impressions.log \
  --api_keys models/keys/clients --admin_keys models/keys/admins --bind 127.0.0.1 --events_dir models/events \
  --access_log models/access.log 2> models/server.log &
SERVER=$!
trap '[ $KEEP = 0 ] && kill $SERVER 2>/dev/null' EXIT
for _ in $(seq 50); do curl -sf "localhost:$PORT/readyz" >/dev/null && break; sleep 0.2; done
show() {
  echo
  printf '$'; printf ' %q' "$@"; echo
  "$@"
  echo
}
H="X-API-Key: $KEY"
show curl -s "localhost:$PORT/healthz"
show curl -s "localhost:$PORT/readyz"
show curl -s -H "$H" "localhost:$PORT/v1/customers/17850/recommendations?count=3"
show curl -s -H "$H" "localhost:$PORT/v1/customers/17850/recommendations?count=2&category=holder&max_price=5&in_stock=true&explain=true"
show curl -s -H "$H" "localhost:$PORT/v1/customers/new-visitor/recommendations?count=2"
show curl -s -H "$H" "localhost:$PORT/v1/products/85123A/similar?count=3"
show curl -s -H "$H" -X POST "localhost:$PORT/v1/recommendations" -d '{"products": ["85123A", "71053"], "count": 3}'
show curl -s -H "$H" -X POST "localhost:$PORT/v1/customers/17850/rank" -d '{"products": ["22423", "85099B", "47566"]}'
show curl -s -H "$H" "localhost:$PORT/v1/customers/17850/offers?count=2&country=United%20Kingdom"
show curl -s -H "$H" -X POST "localhost:$PORT/v1/customers/17850/offers/impressions" -d '{"offers": ["jewellery"]}'
show curl -s -H "$H" "localhost:$PORT/v1/customers/new-visitor/offers?count=2"
# The live loop: events in, the next answer changes; consent; data access; erasure.
show curl -s -H "$H" -X POST "localhost:$PORT/v1/events" -d '[{"customer_id": "new-visitor", "product_id": "22423", "event": "view"}, {"customer_id": "new-visitor", "product_id": "85099B", "event": "cart", "channel": "app", "event_id": "demo-1"}]'
show curl -s -H "$H" "localhost:$PORT/v1/customers/new-visitor/recommendations?count=2&explain=true"
show curl -s -H "$H" -X PUT "localhost:$PORT/v1/customers/12347/consent" -d '{"personalization": false}'
show curl -s -H "$H" "localhost:$PORT/v1/customers/12347/recommendations?count=2"
show sh -c "curl -s -H 'X-API-Key: $ADMIN' localhost:$PORT/v1/customers/new-visitor/data | head -c 600; echo"
show curl -s -H "X-API-Key: $ADMIN" -X DELETE "localhost:$PORT/v1/customers/new-visitor"
show curl -s -H "$H" "localhost:$PORT/v1/model"
show curl -s -H "X-API-Key: $ADMIN" -X POST "localhost:$PORT/v1/admin/reload"
show curl -s "localhost:$PORT/v1/customers/17850/recommendations"
show sh -c "curl -s localhost:$PORT/metrics | head -5"
if [ $KEEP = 1 ]; then
  echo "aisle-server keeps running on port $PORT (pid $SERVER); client key in models/keys/clients"
fi
