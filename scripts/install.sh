#!/bin/sh
# Installs Tessera under PREFIX (make install PREFIX=...): the public header,
# the static and shared libraries (libtessera.so.X.Y.Z, with its SONAME
# libtessera.so.X.Y and libtessera.so as links), the tessera CLI and the
# pkg-config files, so that a C program builds with
#   `pkg-config --cflags --libs tessera`           the shared library,
#   `pkg-config --static --cflags --libs tessera`  the static one, or
#   `pkg-config --cflags --libs tessera-static`    the static one too.
# pkg-config prints a package's Libs before its Libs.private, and -ltessera
# takes libtessera.so whenever it sits beside libtessera.a, so a -ltessera in
# tessera.pc's Libs would win over any archive named after it. Instead
# tessera.pc names the archive (with LLVM, libdl, libm, libpthread) in
# Libs.private and gets -ltessera from the package it requires,
# tessera-shared.pc, whose Libs come after tessera's own: with --static the
# archive comes first and defines every tsr_ symbol, so the -ltessera after
# it, marked --as-needed, satisfies nothing and is dropped; without
# --static only -ltessera is there. All give the directory of
# dlpack/dlpack.h (Debian's libdlpack-dev), which tessera.h includes;
# DLPACK_INCLUDE overrides where it is looked for.
#
#   sh scripts/install.sh PREFIX [BUILD]
#
# BUILD is the build folder (default build). DESTDIR, when set, is prepended
# to every installed path (for packaging) but not to the paths written into
# the .pc files. LLVM_CONFIG names llvm-config (default llvm-config-19): static
# linking needs LLVM's libraries, listed in tessera-static.pc.
set -eu
prefix=${1:?usage: install.sh PREFIX [BUILD]}
build=${2:-build}
destdir=${DESTDIR:-}
llvm_config=${LLVM_CONFIG:-llvm-config-19}
cd "$(dirname "$0")/.."

for f in "$build/libtessera.a" "$build/libtessera.so" "$build/tessera"; do
    [ -f "$f" ] || { echo "install.sh: $f is missing; run make first" >&2; exit 1; }
done
version=$(sed -n 's/^#define TESSERA_VERSION_STRING "\(.*\)"$/\1/p' include/tessera.h)
llvm_libs=$("$llvm_config" --ldflags --libs 2>/dev/null | tr '\n' ' ' || true)
# The folder holding dlpack/dlpack.h, as the C compiler finds it.
dlpack=${DLPACK_INCLUDE:-$(printf '#include <dlpack/dlpack.h>\n' | ${CC:-cc} -E -x c - 2>/dev/null |
    sed -n 's|^# [0-9]* "\(.*\)/dlpack/dlpack\.h".*|\1|p' | head -n 1)}
[ -n "$dlpack" ] && [ -f "$dlpack/dlpack/dlpack.h" ] ||
    { echo "install.sh: dlpack/dlpack.h not found (install libdlpack-dev or set DLPACK_INCLUDE)" >&2; exit 1; }

root="$destdir$prefix"
install -d "$root/include" "$root/lib/pkgconfig" "$root/bin"
install -m 644 include/tessera.h "$root/include/tessera.h"
install -m 644 "$build/libtessera.a" "$root/lib/libtessera.a"
# The real file, its SONAME (major.minor) and the link-time name.
soname=libtessera.so.${version%.*}
install -m 755 "$build/libtessera.so" "$root/lib/libtessera.so.$version"
ln -sf "libtessera.so.$version" "$root/lib/$soname"
ln -sf "$soname" "$root/lib/libtessera.so"
install -m 755 "$build/tessera" "$root/bin/tessera"
# The lines every .pc file starts with.
pc_head() {
    printf 'prefix=%s\nexec_prefix=${prefix}\nlibdir=${exec_prefix}/lib\nincludedir=${prefix}/include\n\n' "$prefix"
    printf 'Name: %s\nDescription: %s\nVersion: %s\n' "$1" "$2" "$version"
}
{
    pc_head tessera "Tessera, a tile-level GPU kernel language: JIT compiler and runtime (cuda, emu, interp)"
    echo "Requires: tessera-shared = $version"
    echo "Cflags: -I\${includedir} -I${dlpack}"
    echo 'Libs:'
    echo "Libs.private: \${libdir}/libtessera.a ${llvm_libs}-ldl -lm -lpthread"
} > "$root/lib/pkgconfig/tessera.pc"
{
    pc_head tessera-shared "Tessera's shared library (through tessera.pc; --as-needed so that --static drops it)"
    echo 'Libs: -L${libdir} -Wl,--push-state,--as-needed -ltessera -Wl,--pop-state'
} > "$root/lib/pkgconfig/tessera-shared.pc"
{
    pc_head tessera-static "Tessera, linked statically (libtessera.a exports only the public API, tsr_*)"
    echo "Cflags: -I\${includedir} -I${dlpack}"
    echo "Libs: \${libdir}/libtessera.a ${llvm_libs}-ldl -lm -lpthread"
} > "$root/lib/pkgconfig/tessera-static.pc"
echo "installed tessera $version in $root"
