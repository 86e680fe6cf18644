#!/bin/sh
# The main job: the attention benchmark against the reference. On a machine
# without a GPU it runs on the CPU with small shapes.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
JOBS=$(nproc 2>/dev/null || echo 2)
make -j"$JOBS" all
exec build/tessera-bench attention "$@"
