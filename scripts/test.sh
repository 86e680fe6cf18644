#!/bin/sh
# Everything CI checks: installs dependencies, builds, runs every test.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
JOBS=$(nproc 2>/dev/null || echo 2)
make -j"$JOBS" test
