#!/usr/bin/env bash
# Configures and builds aisle (Release) into build/; executables land in build/bin/.
#   scripts/build.sh              everything: programs, tests, benchmarks
#   scripts/build.sh TARGET...    only those programs (and what they need),
#                                 without configuring the tests and benchmarks
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
if [ $# -gt 0 ]; then
  # A tree configured before keeps its parts (after the test command, the
  # tests stay configured); a new one leaves the tests and benchmarks out.
  PARTS=(-DAISLE_BUILD_TESTS=OFF -DAISLE_BUILD_BENCH=OFF)
  grep -qsx 'CMAKE_GENERATOR:INTERNAL=Ninja' "$BUILD_DIR/CMakeCache.txt" && PARTS=()
  TARGETS=(--target "$@")
else
  PARTS=(-DAISLE_BUILD_TESTS=ON -DAISLE_BUILD_BENCH=ON)
  TARGETS=()
fi
# shellcheck disable=SC2086
bash scripts/configure.sh "$BUILD_DIR" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-Release} "${PARTS[@]}" ${CMAKE_ARGS:-}
cmake --build "$BUILD_DIR" -j "$(nproc)" "${TARGETS[@]}"
