#!/bin/sh
# Packs what bench/gpu-check.sh runs on a GPU machine (`make gpu-carry` calls
# this): the statically linked tessera-bench and tessera-gpu-tests of BUILD
# (build-static), stripped and xz-compressed, cmocka's shared library (the
# only library the tests need beyond the C library), and a MANIFEST with the
# commit, the C library version they need, the sizes and the checksums. Fails when a binary links LLVM (or
# anything but the C library and cmocka) dynamically, or when the carried
# tree would not fit the 64 MiB a GPU machine's call takes.
# Usage: gpu-carry.sh BUILD OUTDIR
set -eu
build=$1
out=$2
cd "$(dirname "$0")/.."
rm -rf "$out"
mkdir -p "$out"
for bin in tessera-bench tessera-gpu-tests; do
    [ -x "$build/$bin" ] || { echo "gpu-carry: $build/$bin is missing (make gpu-carry builds it)" >&2; exit 1; }
    # Only the C library (and cmocka for the tests) may be dynamic.
    bad=$(ldd "$build/$bin" | awk '{print $1}' | grep -v -E '^(linux-vdso|/lib64/ld-linux|libc\.so|libm\.so|libcmocka\.so)' || true)
    if [ -n "$bad" ]; then
        echo "gpu-carry: $build/$bin needs libraries a GPU machine may lack: $bad" >&2
        exit 1
    fi
    if ldd "$build/$bin" | grep -q -i llvm; then
        echo "gpu-carry: $build/$bin links LLVM dynamically" >&2
        exit 1
    fi
    strip -o "$out/$bin" "$build/$bin"
    xz -T0 -6 -f "$out/$bin"
done
cmocka=$(ldd "$build/tessera-gpu-tests" | awk '/libcmocka/ {print $3}')
cp -L "$cmocka" "$out/libcmocka.so.0"
# The newest C library version any carried binary asks for: gpu-check.sh
# compares it with the machine's before it runs anything.
glibc=$(for f in "$build/tessera-bench" "$build/tessera-gpu-tests" "$out/libcmocka.so.0"; do objdump -T "$f"; done |
    grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | head -1)
{
    echo "commit $commit${dirty:+ (with uncommitted changes)}"
    echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -sm), $(cc --version | head -1)"
    echo "llvm $(${LLVM_CONFIG:-llvm-config-19} --version 2>/dev/null || echo '?') (static)"
    echo "glibc ${glibc:-?} or newer (the C library is the one dynamic library)"
    for f in "$out"/*.xz "$out"/libcmocka.so.0; do
        echo "file $(basename "$f") $(wc -c < "$f") $(sha256sum "$f" | cut -c1-16)"
    done
} > "$out/MANIFEST"
carried=$(du -sb "$out" | cut -f1)
tree=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
untracked=$(git ls-files -z --others --exclude-standard | xargs -0 -r du -cb 2>/dev/null | tail -1 | cut -f1)
total=$((carried + tree + ${untracked:-0}))
echo "size carried $carried tree $tree untracked ${untracked:-0} total $total" >> "$out/MANIFEST"
cat "$out/MANIFEST"
limit=$((60 * 1024 * 1024))
if [ "$total" -gt "$limit" ]; then
    echo "gpu-carry: $total bytes would travel; keep it under $limit (the machine takes 64 MiB)" >&2
    exit 1
fi
