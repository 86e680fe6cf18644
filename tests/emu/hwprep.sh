#!/bin/sh
# Prepares the bundle that records the emulator's GPU cases on a GPU machine
# (see tests/emu/hw/cases.txt): the PTX of every case, compiled here (the GPU
# machine has no LLVM), the recorder's source and a prebuilt binary, and
# hwrun.sh, which runs there.
#
#   sh tests/emu/hwprep.sh [OUT]            bundle in OUT (default build/emu-hw)
#   sh tests/emu/hwprep.sh --dry-run [OUT]  also run the bundle here against an
#                                           emulated driver and compare its
#                                           outputs with test_emu_hw
#
# On the GPU machine: sh OUT/hwrun.sh, then copy OUT/out/. into tests/emu/hw/.
set -eu
cd "$(dirname "$0")/../.."
DRY=0
if [ "${1:-}" = "--dry-run" ]; then
    DRY=1
    shift
fi
OUT=${1:-build/emu-hw}
NVCC=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
LLC19=${LLC:-llc-19}
mkdir -p "$OUT/ptx"
OUT=$(cd "$OUT" && pwd)
for src in conform_arith conform_control conform_tensor; do
    for arch in sm_80 sm_90; do
        "$NVCC" -ptx -arch=$arch -Itests/emu tests/emu/$src.cu -o "$OUT/ptx/$src.$arch.ptx"
    done
done
# Hopper: wgmma layouts and mbarrier phases (sm_90a only)
"$NVCC" -ptx -arch=sm_90a tests/emu/conform_hopper.cu -o "$OUT/ptx/conform_hopper.sm_90a.ptx"
# TMA: out-of-bounds fill, swizzles, clipped stores (tensor maps from the driver)
"$NVCC" -ptx -arch=sm_90a tests/emu/conform_tma.cu -o "$OUT/ptx/conform_tma.sm_90a.ptx"
for src in llvm_mma llvm_misc; do
    "$LLC19" -march=nvptx64 -mcpu=sm_80 -mattr=+ptx80 tests/emu/$src.ll -o "$OUT/ptx/$src.sm_80.ptx"
    if command -v llc-22 >/dev/null 2>&1; then
        llc-22 -march=nvptx64 -mcpu=sm_90a -mattr=+ptx80 tests/emu/$src.ll -o "$OUT/ptx/$src.sm_90a.ptx"
    fi
done
cp tests/emu/hwcase.h tests/emu/hwrecord.c tests/emu/hwrecord.py tests/emu/hwrun.sh \
    tests/emu/hw/cases.txt "$OUT/"
cc -std=c11 -O2 -o "$OUT/hwrecord" tests/emu/hwrecord.c -ldl -lm
echo "hwprep: bundle in $OUT ($(ls "$OUT/ptx" | wc -l) PTX files)"
echo "hwprep: on a GPU machine run: sh hwrun.sh   then copy its out/. into tests/emu/hw/"
if [ $DRY = 1 ]; then
    BUILD=${BUILD:-build}
    # the runtime tests' mock driver (kernels run on the emulator) stands in for libcuda
    make -s BUILD="$BUILD" "$BUILD/libtessera.a" "$BUILD/tests/test_emu_hw" "$BUILD/tests/libcuda_mock.so"
    mkdir -p "$OUT/fake"
    cp "$BUILD/tests/libcuda_mock.so" "$OUT/fake/libcuda.so.1"
    LD_LIBRARY_PATH="$OUT/fake" sh "$OUT/hwrun.sh"
    # the Python recorder must write the same outputs as the C one
    mkdir -p "$OUT/out-py"
    (cd "$OUT" && LD_LIBRARY_PATH=fake python3 hwrecord.py cases.txt ptx out-py)
    for f in "$OUT"/out/*.out; do
        b=$(basename "$f")
        tail -n +2 "$f" > "$OUT/c.tmp"
        tail -n +2 "$OUT/out-py/$b" > "$OUT/py.tmp"
        cmp -s "$OUT/c.tmp" "$OUT/py.tmp" ||
            { echo "hwprep: hwrecord.py and hwrecord.c disagree on $b"; exit 1; }
    done
    rm -f "$OUT/c.tmp" "$OUT/py.tmp"
    echo "hwprep: hwrecord.py writes what hwrecord.c writes"
    EMU_HW_DIR="$OUT/out" "$BUILD/tests/test_emu_hw"
fi
