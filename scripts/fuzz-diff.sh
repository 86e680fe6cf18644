#!/bin/sh
# Differential testing with random programs (tests/diffgen/, issue 20):
#   sh scripts/fuzz-diff.sh SECONDS [SEED] [fuzz-diff options...]
# builds build/fuzz-diff and runs random programs for SECONDS (seed 1 unless
# given) on the interpreter and the PTX emulator (sm_80, or sm_89 for fp8 programs, and sm_90a, passes
# on and off). It prints how many programs ran and the mismatches, device
# errors, crashes and timeouts, writes each finding and its reduction to
# fuzz-out/diff/, and exits non-zero on any finding. It runs at the lowest
# priority, one program at a time. BUILD and LLVM_CONFIG pick the build.
set -eu
cd "$(dirname "$0")/.."
if [ $# -lt 1 ]; then
    echo "usage: sh scripts/fuzz-diff.sh SECONDS [SEED] [--count N] [--out DIR] [--coverage] ..." >&2
    exit 2
fi
BUILD=${BUILD:-build}
make -s -j2 BUILD="$BUILD" ${LLVM_CONFIG:+LLVM_CONFIG=$LLVM_CONFIG} "$BUILD/fuzz-diff"
seconds=$1
shift
seed=1
if [ $# -gt 0 ]; then
    case $1 in -*) ;; *) seed=$1; shift ;; esac
fi
exec nice -n 19 "$BUILD/fuzz-diff" "$seconds" "$seed" "$@"
