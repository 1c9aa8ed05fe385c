#!/usr/bin/env bash
# Builds everything with AddressSanitizer + UBSan into build-asan/ and runs
# all tests there (about 10 minutes on 2 cores). Not part of .ci/run, which
# keeps CI short; run it before landing changes to memory-handling code.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --tests
BUILD_DIR=build-asan BUILD_TYPE=RelWithDebInfo CMAKE_ARGS="-DAISLE_SANITIZE=ON -DAISLE_BUILD_BENCH=OFF" bash scripts/build.sh
cd build-asan
ctest --output-on-failure -j "$(nproc)" --timeout 1800
