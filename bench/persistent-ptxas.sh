#!/bin/sh
# ptxas -v of kernels/attention.tsr on sm_90a at the tuned blocks of each
# head dim (kernels/attention_tuned.inc), compiled persistent
# (--persistent) and, for comparison, not: registers, spills and C75xx
# lines, as a markdown table on stdout (bench/results/persistent-ptxas.md).
# Usage: [TESSERA=build-llvm22/tessera] sh bench/persistent-ptxas.sh   (after make; needs ptxas)
set -u
cd "$(dirname "$0")/.."
PTXAS=${PTXAS:-ptxas}
TESSERA=${TESSERA:-build/tessera} # e.g. build-llvm22/tessera
command -v "$PTXAS" >/dev/null 2>&1 || { echo "no ptxas" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "| dtype | D | causal | BM | BN | persistent | threads | dynamic smem | registers | spill stores | spill loads | C75xx |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for T in f16 bf16; do
    for row in "64 false 128 192" "64 true 128 128" "128 false 128 128" "128 true 128 192" "256 false 128 80" \
               "256 true 128 64"; do
        # shellcheck disable=SC2086
        set -- $row
        for pers in yes no; do
            flag=
            [ $pers = yes ] && flag=--persistent
            out=$tmp/a.ptx
            "$TESSERA" compile kernels/attention.tsr -D T=$T -D D=$1 -D CAUSAL=$2 -D BM=$3 -D BN=$4 -D W=8 \
                -D STAGES=2 --emit ptx --target sm_90a $flag -o $out || exit 1
            threads=$(head -1 $out | sed 's/.*, \([0-9]*\) threads.*/\1/')
            smem=$(head -1 $out | sed 's/.* \([0-9]*\) bytes.*/\1/')
            log=$("$PTXAS" -v -arch=sm_90a $out -o $tmp/a.cubin 2>&1) || { echo "$log" >&2; exit 1; }
            regs=$(echo "$log" | sed -n 's/.*Used \([0-9]*\) registers.*/\1/p' | head -1)
            st=$(echo "$log" | sed -n 's/.* \([0-9]*\) bytes spill stores.*/\1/p' | head -1)
            ld=$(echo "$log" | sed -n 's/.* \([0-9]*\) bytes spill loads.*/\1/p' | head -1)
            c75=$(echo "$log" | grep -c "C75")
            echo "| $T | $1 | $2 | $3 | $4 | $pers | $threads | $smem | $regs | $st | $ld | $c75 |"
        done
    done
done
