#!/usr/bin/env bash
# Configures a build tree with CMake and Ninja: scripts/configure.sh DIR [CMAKE_ARG...]
# Ninja builds several programs at once (Make's top level builds the goals
# one after the other) and starts a library's sources before the libraries
# it links are done. A tree configured earlier with another generator is
# configured anew (CMake refuses to switch generators in place).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=$1
shift
if [ -f "$DIR/CMakeCache.txt" ] && ! grep -qx 'CMAKE_GENERATOR:INTERNAL=Ninja' "$DIR/CMakeCache.txt"; then
  echo "configure: $DIR was configured for another generator; configuring it anew for Ninja" >&2
  rm -rf "$DIR/CMakeCache.txt" "$DIR/CMakeFiles"
fi
cmake -G Ninja -S . -B "$DIR" "$@" >/dev/null
