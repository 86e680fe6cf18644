#!/bin/sh
# Prints a SHA-256 of the PTX of every attention variant, every example and
# every kernel of tests/programs, for sm_80 and sm_90a: run it before and
# after a change that must not alter generated code, and compare.
#   sh scripts/ptx-digest.sh [TESSERA] > digests.txt
set -eu
cd "$(dirname "$0")/.."
TESSERA=${1:-build/tessera}
one() { # target file kernel defines...
    t=$1 file=$2 kernel=$3
    shift 3
    out=$("$TESSERA" compile "$file" --kernel "$kernel" --target "$t" --emit ptx "$@") || {
        echo "ptx-digest: compiling $file $kernel $* for $t failed" >&2
        exit 1
    }
    d=$(printf '%s\n' "$out" | sha256sum | cut -c1-16)
    echo "$d $t $file $kernel $*"
}
for t in sm_80 sm_90a; do
    for dt in f16 bf16; do
        for D in 64 128 256; do
            bn=64; [ "$D" = 256 ] && bn=32
            for c in false true; do
                one $t kernels/attention.tsr attention_fwd -D T=$dt -D D=$D -D BM=64 -D BN=$bn -D CAUSAL=$c
            done
        done
    done
    one $t kernels/attention_naive.tsr attn_scores -D T=f16 -D D=128
    one $t kernels/attention_naive.tsr attn_softmax -D T=f16
    one $t kernels/attention_naive.tsr attn_pv -D T=f16 -D D=128
    one $t dsl/examples/matmul.tsr matmul -D T=f16
    one $t dsl/examples/matmul.tsr matmul -D T=bf16 -D OT=f32
    one $t dsl/examples/matmul.tsr matmul -D T=f32 -D BK=8
    one $t dsl/examples/softmax.tsr softmax -D T=f16
    one $t dsl/examples/softmax.tsr softmax -D T=f32
    one $t dsl/examples/layernorm.tsr layernorm -D T=bf16
    one $t dsl/examples/reduce.tsr partial_sums -D T=f16
    one $t dsl/examples/reduce.tsr sum_partials
    one $t dsl/examples/scale_shift.tsr scale_shift -D T=f16 -D ACT=2
    for k in transpose_tile colstats small_tiles bools_and_ints branchy nested computed_dot small_dot f32_dot \
             shared_then_scratch; do
        case $k in transpose_tile) defs="-D T=f16" ;; *) defs="" ;; esac
        # shellcheck disable=SC2086
        one $t tests/programs/layouts.tsr $k $defs
    done
    for dt in f32 f16 bf16; do
        one $t tests/programs/math.tsr math -D T=$dt
    done
    one $t tests/programs/ints.tsr ints
    one $t tests/programs/ints.tsr int_scalars
    one $t tests/programs/control.tsr collatz
    one $t tests/programs/control.tsr jumps
    one $t dsl/examples/dropout.tsr dropout -D T=f16
    one $t dsl/examples/dropout.tsr philox
    one $t tests/programs/indexed.tsr embed -D T=f16
    one $t tests/programs/indexed.tsr partials -D T=f16
    one $t tests/programs/reshape.tsr shapes
    one $t tests/programs/reshape.tsr mask_rows
    one $t tests/programs/debug.tsr show
    one $t tests/programs/debug.tsr checked
    for k in count_tokens expert_sums expert_means; do
        one $t dsl/examples/moe_route.tsr $k
    done
    for k in masked_copy scatter_odd lookup even_programs histogram int_atomics half_adds; do
        one $t tests/programs/indexed.tsr $k
    done
done
