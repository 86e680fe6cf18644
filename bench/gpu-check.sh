#!/bin/sh
# One script for a GPU machine: the test programs that use the cuda device,
# the attention benchmark against the reference, a tuning of the attention
# table, ptxas' report, and the peers (PyTorch SDPA flash and cuDNN, JAX
# Pallas Mosaic GPU), in under 9 minutes, with every result written under
# OUTDIR:
#
#   summary.txt        what ran, what passed, the tables (printed last)
#   env.txt            date, machine, nvidia-smi, driver, CUDA tools, Python packages, commit
#   nvidia-smi.txt     nvidia-smi -q before the runs
#   tests.log          the test programs' output
#   bench.txt, bench.json, bench.csv, bench.svg     tessera-bench attention
#   bench-no-warp-specialize.txt/.json, bench-no-overlap.txt/.json,
#   bench-no-pingpong.txt/.json
#                                       the same with one sm_90a technique off (ablations)
#   bench-persistent.txt/.json, bench-persistent-off.txt/.json
#                                       the same runs with and without --persistent
#                                       (TSR_COMPILE_PERSISTENT: does it help?)
#   bench-bwd.txt, bench-bwd.json       tessera-bench attention --pass bwd (the backward)
#   tune/              tessera-bench tune: attention_tuned.inc, tune.md, tune.json
#                      (a few sm_90a candidates timed; tune.log its progress)
#   ptxas-report.md    tessera-bench ptxas (ptxas of the machine's CUDA)
#   peers.json, peers.log, merged.txt, merged.svg   the peers, side by side
#
# What it runs comes from `make gpu-carry` (build-static/carry/, carried to
# the machine: see bench/results/README.md for the device command). The
# machine needs no LLVM, re2c or cmocka: the binaries are static but for the
# C library, and cmocka's shared library travels with them.
#
# Usage: sh bench/gpu-check.sh [--device cuda|emu] [--quick] [--carry DIR]
#                              [--archive FILE.tar.gz] OUTDIR
#   --device emu --quick   the dry run on a machine without a GPU: the same
#                          steps, small shapes on the emulator
# Exit status: 0 when everything ran and passed, 1 otherwise.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)

DEVICE=cuda
QUICK=0
CARRY=build-static/carry
ARCHIVE=
OUTDIR=
while [ $# -gt 0 ]; do
    case $1 in
    --device) DEVICE=$2; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --carry) CARRY=$2; shift 2 ;;
    --archive) ARCHIVE=$2; shift 2 ;;
    -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
    -*) echo "gpu-check: unknown option $1" >&2; exit 2 ;;
    *) OUTDIR=$1; shift ;;
    esac
done
[ -n "$OUTDIR" ] || { echo "usage: gpu-check.sh [--device cuda|emu] [--quick] [--carry DIR] [--archive FILE] OUTDIR" >&2; exit 2; }
mkdir -p "$OUTDIR" || exit 2
OUTDIR=$(cd "$OUTDIR" && pwd)
START=$(date +%s)
BUDGET=${GPU_CHECK_BUDGET:-530} # seconds for everything; each step gets a share and a timeout
SUMMARY=$OUTDIR/summary.txt
FAILED=0
: > "$SUMMARY"

say() { echo "$*" | tee -a "$SUMMARY"; }
elapsed() { echo $(($(date +%s) - START)); }
# The seconds a step may take: its share, never past the budget.
allow() {
    left=$((BUDGET - $(elapsed)))
    [ "$1" -lt "$left" ] && echo "$1" || echo "$left"
}
have() { command -v "$1" >/dev/null 2>&1; }
# timeout when the machine has it (coreutils); plain otherwise.
limited() {
    secs=$1
    shift
    if [ "$secs" -le 5 ]; then
        echo "(no time left for: $*)"
        return 124
    fi
    if have timeout; then timeout -k 10 "$secs" "$@"; else "$@"; fi
}

say "gpu-check: device $DEVICE$( [ $QUICK = 1 ] && echo ', quick (dry run)'), results in $OUTDIR, started $(date -u +%Y-%m-%dT%H:%M:%SZ)"

# ---- the C library: the binaries need the version they were built against ---
NEED_GLIBC=$(sed -n 's/^glibc \([0-9][0-9.]*\) .*/\1/p' "$CARRY/MANIFEST" 2>/dev/null | head -1)
HAVE_GLIBC=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')
if [ -n "$NEED_GLIBC" ] && [ -n "$HAVE_GLIBC" ] &&
    [ "$(printf '%s\n%s\n' "$NEED_GLIBC" "$HAVE_GLIBC" | sort -V | head -1)" != "$NEED_GLIBC" ]; then
    say "gpu-check: this machine's C library is glibc $HAVE_GLIBC, older than the $NEED_GLIBC the carried"
    say "binaries were built against: they cannot start here. Build them on a system whose glibc is"
    say "at most $HAVE_GLIBC (make gpu-carry there) and carry that build."
    exit 1
fi
say "gpu-check: glibc ${HAVE_GLIBC:-unknown} here, ${NEED_GLIBC:-unknown} needed"

# ---- the binaries: decompress what make gpu-carry packed --------------------
BIN=${TMPDIR:-/tmp}/tessera-gpu-check.$$
mkdir -p "$BIN"
trap 'rm -rf "$BIN"' EXIT
for f in tessera-bench tessera-gpu-tests; do
    if [ ! -f "$CARRY/$f.xz" ]; then
        say "gpu-check: $CARRY/$f.xz is missing: run 'make gpu-carry' here and carry $CARRY"
        exit 1
    fi
    if have xz; then
        xz -dc "$CARRY/$f.xz" > "$BIN/$f"
    else
        python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
            "$CARRY/$f.xz" "$BIN/$f"
    fi
    chmod +x "$BIN/$f"
done
cp "$CARRY/libcmocka.so.0" "$BIN/"
export LD_LIBRARY_PATH="$BIN${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export TESSERA_CACHE_DIR="$BIN/cache"
COMMIT=$(sed -n 's/^commit \([0-9a-f]*\).*/\1/p' "$CARRY/MANIFEST" 2>/dev/null | head -1)
export TESSERA_COMMIT="${COMMIT:-unknown}"
# test_bench runs $BUILD/tessera-bench: the carried one.
export BUILD="$BIN"

# ---- the machine --------------------------------------------------------------
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $(sed -n 's/^commit //p' "$CARRY/MANIFEST" 2>/dev/null | head -1)"
    echo "uname: $(uname -a)"
    echo "cpus: $(nproc 2>/dev/null || echo ?)"
    echo "carried build:"
    sed 's/^/  /' "$CARRY/MANIFEST" 2>/dev/null
    if have nvidia-smi; then
        echo "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem,power.limit --format=csv,noheader 2>&1)"
        echo "nvidia-smi:"
        nvidia-smi 2>&1 | sed 's/^/  /'
    else
        echo "gpu: no nvidia-smi on this machine"
    fi
    for t in nvcc ptxas; do have $t && echo "$t: $($t --version 2>&1 | tail -2 | tr '\n' ' ')"; done
    have python3 && python3 - <<'EOF' 2>&1
import importlib, sys
print("python:", sys.version.split()[0])
for name in ("torch", "triton", "jax", "jaxlib"):
    try:
        print(f"{name}: {importlib.import_module(name).__version__}")
    except Exception as e:
        print(f"{name}: not available ({type(e).__name__})")
EOF
} > "$OUTDIR/env.txt" 2>&1
have nvidia-smi && nvidia-smi -q > "$OUTDIR/nvidia-smi.txt" 2>&1
sed -n '1,4p;/^gpu:/p' "$OUTDIR/env.txt" | tee -a "$SUMMARY"

# ---- tests ----------------------------------------------------------------------
# The test programs pick the cuda device when a GPU is there (and skip their
# cuda parts, saying why, when it is not). On the dry run TESSERA_DEVICE
# steers their automatic choice to the emulator.
say ""
say "== tests ($("$BIN/tessera-gpu-tests" --list | tr '\n' ' '))"
: > "$OUTDIR/tests.log"
TEST_SHARE=$([ $QUICK = 1 ] && echo 120 || echo 150)
TEST_END=$(($(elapsed) + TEST_SHARE))
for t in $("$BIN/tessera-gpu-tests" --list); do
    secs=$(allow $((TEST_END - $(elapsed))))
    t0=$(date +%s)
    echo "== $t" >> "$OUTDIR/tests.log"
    if [ "$DEVICE" = cuda ]; then
        limited "$secs" "$BIN/tessera-gpu-tests" "$t" >> "$OUTDIR/tests.log" 2>&1
    else
        TESSERA_DEVICE=$DEVICE limited "$secs" "$BIN/tessera-gpu-tests" "$t" >> "$OUTDIR/tests.log" 2>&1
    fi
    rc=$?
    skipped=$(sed -n "/^== $t\$/,\$p" "$OUTDIR/tests.log" | grep -c '^\[  SKIPPED \] [a-z]' || true)
    if [ $rc = 0 ]; then
        say "  ok      $t ($(($(date +%s) - t0)) s; $skipped skipped)"
    else
        say "  FAILED  $t (exit $rc after $(($(date +%s) - t0)) s; see tests.log)"
        FAILED=1
    fi
done
grep -h -E '^SKIP|^\[  SKIPPED \] [a-z]' "$OUTDIR/tests.log" | sort | uniq -c | sed 's/^/  /' | tee -a "$SUMMARY"

# ---- the attention benchmark ------------------------------------------------------
say ""
say "== tessera-bench attention"
if [ $QUICK = 1 ]; then
    BENCH_ARGS="--device $DEVICE"
    BENCH_SHARE=90
else
    BENCH_ARGS="--device $DEVICE --reps 10 --warmup 2"
    BENCH_SHARE=160
fi
secs=$(allow $BENCH_SHARE)
# The bench stops starting configurations 30 s before its timeout so that
# it still writes its files.
limited "$secs" "$BIN/tessera-bench" attention $BENCH_ARGS --time-limit $((secs > 40 ? secs - 30 : 10)) \
    --json "$OUTDIR/bench.json" --csv "$OUTDIR/bench.csv" --plot "$OUTDIR/bench.svg" \
    > "$OUTDIR/bench.txt" 2> "$OUTDIR/bench.log"
rc=$?
case $rc in
0) say "  ok: every check passed" ;;
1) say "  FAILED: a correctness check failed (see bench.txt)"; FAILED=1 ;;
*) say "  FAILED: exit $rc (see bench.log)"; FAILED=1 ;;
esac

# ---- the backward pass ---------------------------------------------------------------
say ""
say "== tessera-bench attention --pass bwd"
if [ $QUICK = 1 ]; then
    BWD_ARGS="--device $DEVICE --d 64 --causal yes"
    BWD_SHARE=30
else
    BWD_ARGS="--device $DEVICE --reps 10 --warmup 2 --seqlen 1024,4096,16384"
    BWD_SHARE=60
fi
secs=$(allow $BWD_SHARE)
limited "$secs" "$BIN/tessera-bench" attention $BWD_ARGS --pass bwd --time-limit $((secs > 40 ? secs - 20 : 10)) \
    --json "$OUTDIR/bench-bwd.json" > "$OUTDIR/bench-bwd.txt" 2> "$OUTDIR/bench-bwd.log"
rc=$?
case $rc in
0) say "  ok: every check passed" ;;
1) say "  FAILED: a correctness check failed (see bench-bwd.txt)"; FAILED=1 ;;
*) say "  FAILED: exit $rc (see bench-bwd.log)"; FAILED=1 ;;
esac

# ---- the ablations: each sm_90a technique off (elsewhere the same code) -----------
if [ $QUICK = 1 ]; then
    ABL_ARGS="--device $DEVICE --d 64 --causal no"
    ABL_SHARE=15
else
    ABL_ARGS="--device $DEVICE --reps 10 --warmup 2 --seqlen 2048,8192 --pass fwd"
    ABL_SHARE=30
fi
# One variant of the benchmark: NAME SHARE WHAT ARGS... writes bench-NAME.{txt,json,log}.
bench_variant() {
    name=$1 share=$2 what=$3
    shift 3
    say ""
    say "== tessera-bench attention $what"
    secs=$(allow "$share")
    limited "$secs" "$BIN/tessera-bench" attention "$@" \
        --time-limit $((secs > 40 ? secs - 20 : 10)) --json "$OUTDIR/bench-$name.json" \
        > "$OUTDIR/bench-$name.txt" 2> "$OUTDIR/bench-$name.log"
    rc=$?
    case $rc in
    0) say "  ok: every check passed (compare bench-$name.txt with $COMPARE)" ;;
    1) say "  FAILED: a correctness check failed (see bench-$name.txt)"; FAILED=1 ;;
    *) say "  FAILED: exit $rc (see bench-$name.log)"; FAILED=1 ;;
    esac
}
COMPARE=bench.txt
for abl in no-warp-specialize no-overlap no-pingpong; do
    # shellcheck disable=SC2086
    bench_variant "$abl" $ABL_SHARE "--$abl" $ABL_ARGS --$abl
done

# ---- persistent kernels: the same runs with and without --persistent ---------------
# Persistent attention (backend/README.md, "Persistent kernels"): as many
# blocks as the GPU holds, each looping over query blocks, causal's longest
# first, the producer warpgroup following the consumers' instances. Compare
# bench-persistent.txt with bench-persistent-off.txt (the default code, same
# shapes).
if [ $QUICK = 1 ]; then
    PERS_ARGS="--device $DEVICE --d 64 --causal yes"
    PERS_SHARE=10
else
    PERS_ARGS="--device $DEVICE --reps 10 --warmup 2 --seqlen 2048,8192 --pass fwd"
    PERS_SHARE=25
fi
COMPARE=bench-persistent-off.txt
# shellcheck disable=SC2086
bench_variant persistent $PERS_SHARE --persistent $PERS_ARGS --persistent
COMPARE=bench-persistent.txt
# shellcheck disable=SC2086
bench_variant persistent-off $PERS_SHARE "(the same, not persistent)" $PERS_ARGS

# ---- tuning: a few candidates of the sm_90a table's rows, timed -------------------
# tessera-bench tune (bench/README.md): each candidate compiled, through ptxas
# when the machine has one, checked on emu, then timed here; the table it
# would write and its report land in tune/ (copy tune/attention_tuned.inc to
# kernels/ to adopt it). Candidates that do not compile yet (192 rows on 3
# warpgroups, key blocks that are not powers of two) are refused in no time.
say ""
say "== tessera-bench tune"
if [ $QUICK = 1 ]; then
    TUNE_ARGS="--device $DEVICE --target sm_90a --d 64 --causal no --dtype f16 --candidates 128x64x8x2"
    TUNE_SHARE=30
else
    TUNE_ARGS="--device $DEVICE --causal no --dtype f16 --reps 10 --warmup 2 --seqlen 4096
        --candidates 128x128x8x2,128x64x8x2,128x128x8x3,64x128x4x2,128x176x8x2,192x128x12x2"
    TUNE_SHARE=90
fi
secs=$(allow $TUNE_SHARE)
# shellcheck disable=SC2086
limited "$secs" "$BIN/tessera-bench" tune $TUNE_ARGS --time-budget $((secs > 30 ? secs - 15 : 10)) \
    --out "$OUTDIR/tune" > "$OUTDIR/tune.log" 2>&1
rc=$?
case $rc in
0) changed=$(grep -c '(changed)' "$OUTDIR/tune/tune.md" 2>/dev/null)
   say "  ok: ${changed:-0} of the keys tuned would change (tune/tune.md)" ;;
1) say "  FAILED: a key has no candidate that passed (see tune/tune.md)"; FAILED=1 ;;
*) say "  FAILED: exit $rc (see tune.log)"; FAILED=1 ;;
esac

# ---- ptxas' report (the CUDA of this machine) --------------------------------------
say ""
say "== tessera-bench ptxas"
limited "$(allow 45)" "$BIN/tessera-bench" ptxas --out "$OUTDIR/ptxas-report.md" > "$OUTDIR/ptxas.log" 2>&1
rc=$?
[ $rc = 0 ] && say "  $(grep -c '^| sm_' "$OUTDIR/ptxas-report.md" 2>/dev/null || echo 0) variants; $(head -1 "$OUTDIR/ptxas.log" | grep SKIP || echo ok)" \
    || { say "  FAILED: exit $rc (see ptxas.log)"; FAILED=1; }

# ---- peers ------------------------------------------------------------------------------
say ""
say "== peers (bench/peers/peers.py)"
if have python3; then
    secs=$(allow $([ $QUICK = 1 ] && echo 60 || echo 120))
    # The benchmark's configurations; FlashAttention's shapes if it wrote none.
    PEER_ARGS=
    BENCH_JSONS=
    for j in bench.json bench-bwd.json; do
        [ -s "$OUTDIR/$j" ] && { PEER_ARGS="$PEER_ARGS --like $OUTDIR/$j"; BENCH_JSONS="$BENCH_JSONS $OUTDIR/$j"; }
    done
    [ -n "$PEER_ARGS" ] || PEER_ARGS="--pass both"
    [ $QUICK = 1 ] || PEER_ARGS="$PEER_ARGS --reps 10 --warmup 2"
    PYTHONUNBUFFERED=1 limited "$secs" python3 bench/peers/peers.py $PEER_ARGS --time-limit $((secs > 40 ? secs - 25 : 10)) \
        --json "$OUTDIR/peers.json" > "$OUTDIR/peers.log" 2>&1
    rc=$?
    [ $rc = 0 ] && say "  ok ($(grep -c '"impl"' "$OUTDIR/peers.json" 2>/dev/null || echo 0) results)" \
        || { say "  FAILED: exit $rc (see peers.log)"; FAILED=1; }
    grep -E '^(backend|skipped)' "$OUTDIR/peers.log" | sort | uniq -c | sed 's/^/  /' | tee -a "$SUMMARY"
    python3 bench/peers/merge.py $BENCH_JSONS "$OUTDIR/peers.json" --plot "$OUTDIR/merged.svg" \
        > "$OUTDIR/merged.txt" 2>> "$OUTDIR/peers.log" || say "  merge FAILED (see peers.log)"
else
    say "  skipped: no python3 on this machine"
fi

# ---- summary ---------------------------------------------------------------------------
say ""
say "== tables"
[ -f "$OUTDIR/bench.txt" ] && cat "$OUTDIR/bench.txt" >> "$SUMMARY"
[ -f "$OUTDIR/bench-bwd.txt" ] && { echo; cat "$OUTDIR/bench-bwd.txt"; } >> "$SUMMARY"
[ -f "$OUTDIR/merged.txt" ] && { echo; cat "$OUTDIR/merged.txt"; } >> "$SUMMARY"
say ""
say "gpu-check: $([ $FAILED = 0 ] && echo 'everything passed' || echo 'SOMETHING FAILED') in $(elapsed) s"
if [ -n "$ARCHIVE" ]; then
    tar -C "$(dirname "$OUTDIR")" -czf "$ARCHIVE" "$(basename "$OUTDIR")" && echo "archive: $ARCHIVE"
fi
# The end of the output is what a device call returns: the tables last.
[ -f "$OUTDIR/merged.txt" ] && cat "$OUTDIR/merged.txt" || cat "$OUTDIR/bench.txt" 2>/dev/null
echo "gpu-check: $([ $FAILED = 0 ] && echo 'everything passed' || echo 'SOMETHING FAILED') in $(elapsed) s"
exit $FAILED
