#!/bin/sh
# Installs Tessera under PREFIX (make install PREFIX=...): the public header,
# the static and shared libraries (libtessera.so.X.Y.Z, with its SONAME
# libtessera.so.X.Y and libtessera.so as links), the tessera CLI and two
# pkg-config files, so that a C program builds with
#   `pkg-config --cflags --libs tessera`          (the shared library), or
#   `pkg-config --cflags --libs tessera-static`   (the static one; --static
#                                                  or not, the same).
# One .pc file cannot serve both: its Libs always come first, and -ltessera
# takes the shared library whenever it is there, --static or not. So
# tessera.pc is for shared linking (--static adds nothing: libtessera.so
# carries its dependencies), and tessera-static.pc names the archive itself
# with what it needs (LLVM, libdl, libm, libpthread). Both give the
# directory of dlpack/dlpack.h (Debian's libdlpack-dev), which tessera.h
# includes; DLPACK_INCLUDE overrides where it is looked for.
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
cat > "$root/lib/pkgconfig/tessera.pc" <<PC
prefix=$prefix
exec_prefix=\${prefix}
libdir=\${exec_prefix}/lib
includedir=\${prefix}/include

Name: tessera
Description: Tessera, a tile-level GPU kernel language: JIT compiler and runtime (cuda, emu, interp)
Version: $version
Cflags: -I\${includedir} -I${dlpack}
Libs: -L\${libdir} -ltessera
PC
cat > "$root/lib/pkgconfig/tessera-static.pc" <<PC
prefix=$prefix
exec_prefix=\${prefix}
libdir=\${exec_prefix}/lib
includedir=\${prefix}/include

Name: tessera-static
Description: Tessera, linked statically (libtessera.a exports only tsr_* symbols)
Version: $version
Cflags: -I\${includedir} -I${dlpack}
Libs: \${libdir}/libtessera.a ${llvm_libs}-ldl -lm -lpthread
PC
echo "installed tessera $version in $root"
