#!/bin/sh
# Builds the fuzzer's seed corpus in $1 from every DSL program in the tree:
# the examples (dsl/), the production kernels (kernels/), the golden test
# programs (tests/golden/) and the hand-written seeds (tests/fuzz/seeds/).
set -eu
out=$1
mkdir -p "$out"
n=0
for f in $(find dsl kernels tests/golden tests/fuzz/seeds -name '*.tsr' 2>/dev/null | sort); do
    cp "$f" "$out/$(echo "$f" | tr '/' '_')"
    n=$((n + 1))
done
echo "seed corpus: $n files in $out"
