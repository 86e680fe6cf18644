#!/bin/sh
# Runs each test binary given; stops at the first failure with its name.
# Tests find their data relative to the repository root, where make runs.
set -u
n=0
for t in "$@"; do
    n=$((n + 1))
    printf '== %s\n' "$t"
    if ! "$t"; then
        printf 'FAILED: %s\n' "$t" >&2
        exit 1
    fi
done
printf 'all %d test programs passed\n' "$n"
