#!/bin/sh
# Runs each test binary given, every one even after a failure (so that one
# failure does not hide the rest of the suite), and exits 1 if any failed.
# Tests find their data relative to the repository root, where make runs.
#
# Each binary's standard output is shown and read: cmocka's per-test lines
# ("[ RUN      ] name", then "[       OK ] name", "[  FAILED  ] name" or
# "[  SKIPPED ] name") are counted, and a line "SKIP: REASON" printed by a
# test (TEST_SKIP in tests/support/testutil.h) gives the reason of its skip
# (outside a cmocka test, as test_python prints it, it is a skip of its own,
# as is a Python unittest line "test (...) ... skipped 'reason'", whose
# "... ok" and "... FAIL" lines count as passed and failed tests);
# a line "KNOWN BUG: ..." (test_diffgen: a compiler bug found and kept as a
# test that must still fail) is listed too. The summary lists every skipped
# test with its reason and every known bug, and its last line is
# "N passed, N failed, N skipped", alone, for CI to read. Each program's
# wall-clock seconds are printed after it ("-- NAME: N s") and the slowest
# are listed in the summary, to keep CI within its time. A binary that fails
# without a cmocka failure line (a crash) counts as one failed test.
#
# TEST_JOBS programs run at once (default: the number of processors); each
# one's output is shown whole when it ends, and the tally is made in the
# order given.
set -u
# One program (the parallel runs below call this script so): its output and
# exit status into DIR/out.N and DIR/rc.N, its seconds into DIR/secs.N, then
# the output shown, one program's at a time.
if [ "${1:-}" = --one ]; then
    dir=$2 n=$3 t=$4
    start=$(date +%s)
    "$t" >"$dir/out.$n" 2>&1
    echo $? >"$dir/rc.$n"
    echo $(($(date +%s) - start)) >"$dir/secs.$n"
    {
        flock 9
        printf '== %s\n' "$t"
        cat "$dir/out.$n"
        printf -- '-- %s: %d s\n' "$t" "$(cat "$dir/secs.$n")"
    } 9>"$dir/lock"
    exit 0
fi
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/skips"
: >"$tmp/known"
: >"$tmp/times"
: >"$tmp/failures"
passed=0 failed=0 skipped=0 programs=0

# Appends "passed failed skipped" for one binary's output to counts, and
# "binary: test: reason" lines to skips.
tally() {
    awk -v bin="$1" -v skips="$tmp/skips" -v known="$tmp/known" '
        /^KNOWN BUG / { printf "  %s: %s\n", bin, substr($0, 11) >> known; next }
        /^\[ RUN      \] / { cur = substr($0, 14); reason = ""; next }
        cur != "" && /^SKIP: / { reason = substr($0, 7); next }
        # a program that is not a cmocka suite (test_python) skipping whole,
        # or one of its Python unittest tests skipping ("name (...) ... skipped 'why'")
        cur == "" && /^SKIP: / { s++; printf "  %s: %s\n", bin, substr($0, 7) >> skips; next }
        cur == "" && / \.\.\. ok$/ { p++; next }
        cur == "" && / \.\.\. (FAIL|ERROR)$/ { f++; next }
        cur == "" && / \.\.\. skipped / {
            s++
            printf "  %s: %s: %s\n", bin, $1, substr($0, index($0, " ... skipped ") + 13) >> skips
            next
        }
        cur != "" && $0 == "[       OK ] " cur { p++; cur = ""; next }
        cur != "" && $0 == "[  FAILED  ] " cur { f++; cur = ""; next }
        cur != "" && $0 == "[  SKIPPED ] " cur {
            s++
            printf "  %s: %s: %s\n", bin, cur, reason == "" ? "(no reason printed)" : reason >> skips
            cur = ""
            next
        }
        END { printf "%d %d %d\n", p, f, s }
    ' "$tmp/out"
}

summary() {
    if [ -s "$tmp/known" ]; then
        printf '== known bugs, kept as tests that must still fail (tests/programs/diffgen/known/):\n'
        cat "$tmp/known"
    fi
    if [ -s "$tmp/skips" ]; then
        printf '== skipped tests and why:\n'
        cat "$tmp/skips"
    fi
    printf '== slowest test programs (wall-clock seconds):\n'
    sort -rn "$tmp/times" | head -8 | sed 's/^/  /'
    if [ -s "$tmp/failures" ]; then
        printf '== failed test programs:\n'
        cat "$tmp/failures"
    fi
    printf '%d test programs run\n' "$programs"
    printf '%d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
}

jobs=${TEST_JOBS:-$(nproc 2>/dev/null || echo 1)}
n=0
for t in "$@"; do
    n=$((n + 1))
    printf '%d %s\n' "$n" "$t"
done | xargs -P "$jobs" -L 1 sh "$0" --one "$tmp"
n=0
for t in "$@"; do
    n=$((n + 1))
    programs=$((programs + 1))
    cp "$tmp/out.$n" "$tmp/out" 2>/dev/null || : >"$tmp/out"
    rc=$(cat "$tmp/rc.$n" 2>/dev/null || echo 127)
    printf '%d %s\n' "$(cat "$tmp/secs.$n" 2>/dev/null || echo 0)" "$t" >>"$tmp/times"
    tally "$t" >"$tmp/counts"
    read -r p f s <"$tmp/counts"
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
    if [ "$rc" -ne 0 ]; then
        [ "$f" -eq 0 ] && failed=$((failed + 1))
        printf 'FAILED: %s (exit status %s)\n' "$t" "$rc" >&2
        printf '  %s (exit status %s)\n' "$t" "$rc" >>"$tmp/failures"
        continue
    fi
    [ "$p" -eq 0 ] && [ "$s" -eq 0 ] && passed=$((passed + 1)) # not a cmocka program
done
summary
[ -s "$tmp/failures" ] && exit 1
exit 0
