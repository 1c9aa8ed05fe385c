#!/usr/bin/env bash
# Fuzzes the parsers of everything aisle reads with libFuzzer (clang from
# Debian, AddressSanitizer + UBSan): event files, product and offer
# catalogs, model files, HTTP requests with their parameters and bodies.
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
# Builds into build-fuzz/, grows a working corpus in build-fuzz/corpus/<target>
# from the seeds in tests/fuzz/corpus/<target>, and stops with status 1 at
# the first crash, leak or sanitizer report (the input is kept in
# build-fuzz/crashes/). Prints executions and CPU seconds per target.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(fuzz_events_csv fuzz_catalog fuzz_offer_catalog fuzz_model fuzz_request fuzz_live_input)

bash scripts/setup.sh --tests
# clang, its runtimes (libFuzzer and the sanitizers) and its OpenMP.
missing=()
for p in clang libclang-rt-14-dev libomp-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "fuzz: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

bash scripts/configure.sh build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DAISLE_FUZZ=ON
cmake --build build-fuzz -j "$(nproc)" --target "${TARGETS[@]}"

mkdir -p build-fuzz/crashes
status=0
printf '| target | seconds | executions | corpus | result |\n|---|---|---|---|---|\n'
for t in "${TARGETS[@]}"; do
  corpus="build-fuzz/corpus/$t"
  mkdir -p "$corpus"
  log="build-fuzz/$t.log"
  max_len=4096
  [ "$t" = fuzz_model ] && max_len=16384
  set +e
  "build-fuzz/bin/$t" "$corpus" "tests/fuzz/corpus/$t" -max_total_time="$SECONDS_EACH" -max_len=$max_len \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="build-fuzz/crashes/$t-" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
  files=$(find "$corpus" -type f | wc -l)
  if [ $rc -eq 0 ]; then
    result=clean
  else
    result="FAILED (exit $rc, see $log)"
    status=1
    grep -m 20 -E "ERROR|SUMMARY|runtime error|Test unit written" "$log" >&2 || tail -20 "$log" >&2
  fi
  printf '| %s | %s | %s | %s | %s |\n' "$t" "$SECONDS_EACH" "${execs:-?}" "$files" "$result"
done
exit $status
