#!/usr/bin/env bash
# The console in a real browser (issue 22, item 3): headless Chromium from
# Debian, driven by Selenium (chromium-driver, python3-selenium), against a
# real aisle-server with real data:
#   a simulated store (aisle-synth), three published model versions behind
#   the publish gate, an A/B experiment visited by aisle-sim with its report
#   written by aisle-eval experiment --json --output, the live loop on.
# tests/browser/console_test.py then walks every page: a wrong key refused,
# charts drawn from the server's data, a roll-back, the erase flow end to
# end, no error in the browser's console; screenshots go to docs/console/.
#   scripts/test-browser.sh            (about 20 s after the build)
# The test command (scripts/test.sh, so CI) runs it after the other tests,
# with the screenshots in a scratch directory (AISLE_SCREENSHOTS); Chromium,
# its driver and Selenium are 246 MB and half a minute of apt-get on a
# fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for p in chromium chromium-driver python3-selenium libjs-chart.js curl; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
bash scripts/setup.sh
bash scripts/build.sh aisle-synth aisle-train aisle-server aisle-sim aisle-eval
BIN=build/bin
PORT=${AISLE_PORT:-18210}
WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && { kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; } || true
  rm -rf "$WORK"
}
trap cleanup EXIT

STORE=(--customers 2000 --products 400 --categories 12 --purchases 40000 --seed 5)
"$BIN/aisle-synth" --output "$WORK/history.csv" "${STORE[@]}" 2>/dev/null
# Three versions, each on more of the history: the first without a gate,
# then two through it (the gate holds out what the current model has not seen).
sort -t, -k3,3 "$WORK/history.csv" | grep -v '^customer_id' > "$WORK/by-time.csv"
for rows in 20000 30000 40000; do
  { head -1 "$WORK/history.csv"; head -n $rows "$WORK/by-time.csv"; } > "$WORK/part.csv"
  gate=(); [ $rows -gt 20000 ] && gate=(--gate_metric ndcg@10 --max_drop 0.5 --gate_min_customers 10)
  "$BIN/aisle-train" --input "$WORK/part.csv" --publish_dir "$WORK/pub" --factors 16 --iterations 6 "${gate[@]}" --quiet
done
echo "{\"experiments\": [{\"id\": \"ab\", \"salt\": \"ab\", \"endpoints\": [\"customer_recommendations\"], \"control\": \"a\",
  \"variants\": [{\"name\": \"a\", \"weight\": 50, \"serve\": \"popularity\"}, {\"name\": \"b\", \"weight\": 50, \"serve\": \"model\"}]}]}" \
  > "$WORK/experiments.json"
ADMIN=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
echo "$ADMIN" > "$WORK/admin"
start_server() {
  "$BIN/aisle-server" --model "$WORK/pub" --port "$PORT" --access_log '' --events_dir "$WORK/ev" \
    --exposures_dir "$WORK/exp" --experiments "$WORK/experiments.json" --admin_keys "$WORK/admin" \
    --experiment_report "$WORK/report.json" --offers data/offers/online_retail_offers.json 2>>"$WORK/server.log" &
  SERVER_PID=$!
  for _ in $(seq 100); do curl -sf "localhost:$PORT/readyz" >/dev/null && return; sleep 0.2; done
  cat "$WORK/server.log" >&2; exit 1
}
start_server
"$BIN/aisle-sim" --port "$PORT" --visits 3000 --sim_seed 11 "${STORE[@]}" >/dev/null
# The exposure log's segment closes at shutdown: the report reads closed ones.
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
"$BIN/aisle-eval" experiment --exposures "$WORK/exp" --events "$WORK/ev" --experiments_file "$WORK/experiments.json" \
  --window 1d --json --output "$WORK/report.json"
start_server
# A customer with live events for the customer page.
curl -sf -X POST "localhost:$PORT/v1/events" -H 'Content-Type: application/json' \
  -d '[{"customer_id":"c17","product_id":"p3","event":"purchase"},{"customer_id":"c17","product_id":"p5","event":"view"}]' >/dev/null
SHOTS=${AISLE_SCREENSHOTS:-docs/console}
mkdir -p "$SHOTS"
/usr/bin/python3 tests/browser/console_test.py "http://127.0.0.1:$PORT" "$ADMIN" "$SHOTS"
