#!/usr/bin/env bash
# Configures and builds aisle (Release) into build/; executables land in build/bin/.
#   scripts/build.sh              everything: programs, tests, benchmarks
#   scripts/build.sh TARGET...    only those programs (and what they need),
#                                 without configuring the tests and benchmarks
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
if [ $# -gt 0 ]; then
  PARTS=(-DAISLE_BUILD_TESTS=OFF -DAISLE_BUILD_BENCH=OFF)
  TARGETS=(--target "$@")
else
  PARTS=(-DAISLE_BUILD_TESTS=ON -DAISLE_BUILD_BENCH=ON)
  TARGETS=()
fi
# shellcheck disable=SC2086
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-Release} "${PARTS[@]}" ${CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" "${TARGETS[@]}"
