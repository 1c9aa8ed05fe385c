#!/usr/bin/env bash
# Batch recommendations at a large store's size: `aisle-eval batch` over
# every customer of a 1M-customer x 50k-product x 64-factor model (random
# factors and 20 purchases per customer: bench/make_model.cc), top 10 each,
# JSON lines written to a file, on all cores; then the same as CSV and with
# each scoring precision. Prints the wall time of each run and the
# program's own summary.
#   bench/batch_export.sh [CUSTOMERS]
set -euo pipefail
cd "$(dirname "$0")/.."
CUSTOMERS=${1:-1000000}
BIN=${AISLE_BIN:-build/bin}
WORK=$(mktemp -d -p "${AISLE_BENCH_DIR:-$PWD/build}")
trap 'rm -rf "$WORK"' EXIT
echo "== model: $CUSTOMERS customers x 50000 products x 64 factors (random), 20 purchases each" >&2
/usr/bin/time -f "made in %e s, %M KB peak" "$BIN/aisle_bench_make_model" --customers "$CUSTOMERS" --products 50000 \
  --factors 64 --purchases 20 --output "$WORK/m.model"
ls -l "$WORK/m.model" | awk '{printf "model file: %.0f MB\n", $5 / 1e6}'
run() {  # label, flags...
  local label=$1
  shift
  echo "== $label" >&2
  /usr/bin/time -f "$label: %e s wall, %U s user, %M KB peak" "$BIN/aisle-eval" batch --model "$WORK/m.model" --count 10 "$@" 2>&1 |
    grep -v '^batch: [0-9]*/' | tr '\r' '\n' | grep -v '^batch: [0-9]*/' || true
}
run "jsonl, bf16 (default)" --output "$WORK/out.jsonl"
ls -l "$WORK/out.jsonl" | awk '{printf "output: %.0f MB\n", $5 / 1e6}'
head -c 300 "$WORK/out.jsonl"; echo
run "csv, bf16" --output "$WORK/out.csv"
run "jsonl, float32" --output "$WORK/out32.jsonl" --scoring float32
run "jsonl, int8" --output "$WORK/out8.jsonl" --scoring int8
