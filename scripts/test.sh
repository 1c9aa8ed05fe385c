#!/usr/bin/env bash
# The README's second command: installs what is missing, builds, runs every
# test (the console's in headless Chromium too), then fuzzes each parser
# briefly (AISLE_FUZZ_SECONDS, 10 s per target; 0 skips it; scripts/fuzz.sh
# runs longer campaigns).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --tests
bash scripts/build.sh
(cd build && ctest --output-on-failure -j "$(nproc)" --timeout 900)
# The console in headless Chromium against a real server (screenshots thrown away).
SHOTS=$(mktemp -d)
AISLE_SCREENSHOTS=$SHOTS bash scripts/test-browser.sh
rm -rf "$SHOTS"
FUZZ_SECONDS=${AISLE_FUZZ_SECONDS:-10}
if [ "$FUZZ_SECONDS" != 0 ]; then
  bash scripts/fuzz.sh "$FUZZ_SECONDS"
fi
