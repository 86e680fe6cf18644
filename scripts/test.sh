#!/bin/sh
# Everything CI checks: installs dependencies, builds, runs every test.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
JOBS=$(nproc 2>/dev/null || echo 2)
make -j"$JOBS" test
# Code generation must work with LLVM 19 and with LLVM 22, whose NVPTX
# conventions differ (kernel marking, intrinsic names): the suite again.
make -j"$JOBS" LLVM_CONFIG=llvm-config-22 BUILD=build-llvm22 test
