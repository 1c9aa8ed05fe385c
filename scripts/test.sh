#!/usr/bin/env bash
# The README's second command: installs what is missing, builds, runs every
# test, then fuzzes each parser briefly (AISLE_FUZZ_SECONDS, 10 s per
# target; 0 skips it; scripts/fuzz.sh runs longer campaigns).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --tests
bash scripts/build.sh
(cd build && ctest --output-on-failure -j "$(nproc)" --timeout 900)
FUZZ_SECONDS=${AISLE_FUZZ_SECONDS:-10}
if [ "$FUZZ_SECONDS" != 0 ]; then
  bash scripts/fuzz.sh "$FUZZ_SECONDS"
fi
