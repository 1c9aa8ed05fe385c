#!/usr/bin/env bash
# The reference store at scale (issue 13): a planted-structure history of
# 5M customers x 1M products x 100M purchases (100 categories of 10k
# products, two favourite categories per customer), streamed to disk by
# aisle-synth chunk by chunk, its catalog, and the model aisle-train makes of
# it (64 factors, 10 iterations). Prints the size, time and peak memory of
# each step (GNU time). Needs ~8 GB of disk and ~10 GB of memory.
#   bench/reference_model.sh DIR [CUSTOMERS PRODUCTS PURCHASES]
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:?usage: bench/reference_model.sh DIR [CUSTOMERS PRODUCTS PURCHASES]}
CUSTOMERS=${2:-5000000}
PRODUCTS=${3:-1000000}
PURCHASES=${4:-100000000}
BIN=${AISLE_BIN:-build/bin}
mkdir -p "$DIR"
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }
measure() {  # label command...
  local log="$DIR/$1.time"
  /usr/bin/time -v "${@:2}" 2> >(tee "$log" >&2)
  echo "$1: $(awk -F': ' '/Elapsed/ {print $2}' "$log") wall, peak RSS $(awk -F': ' '/Maximum resident/ {printf "%.2f GB", $2 / 1048576}' "$log")"
}
measure synth "$BIN/aisle-synth" --streamed --output "$DIR/events.csv" --catalog_output "$DIR/catalog.csv" \
  --customers "$CUSTOMERS" --products "$PRODUCTS" --categories 100 --purchases "$PURCHASES" --seed 1
echo "events: $(du -h "$DIR/events.csv" | cut -f1), catalog: $(du -h "$DIR/catalog.csv" | cut -f1)"
measure train "$BIN/aisle-train" --input "$DIR/events.csv" --output "$DIR/model.aisle" --factors 64 --iterations 10
echo "model: $(stat -c %s "$DIR/model.aisle") bytes"
