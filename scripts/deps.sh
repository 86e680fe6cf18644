#!/bin/sh
# Installs the Debian packages Tessera needs to build and test, when missing.
# Needs root (apt-get); does nothing when everything is already there.
set -eu
PKGS="make gcc llvm-19-dev llvm-22-dev zlib1g-dev libzstd-dev re2c libcmocka-dev libdlpack-dev pkg-config python3 python3-venv"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "deps: installing$missing" >&2
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

# PyPI: the CUTLASS headers (CuTe) that tests/test_emu_hopper.c compiles its
# GMMA oracle kernels against. Into ~/.cache/tessera/pip, without dependencies;
# without pip or a network the test is a skip that says so.
PIP_DIR="$HOME/.cache/tessera/pip"
if [ ! -f "$PIP_DIR/cutlass_library/source/include/cute/tensor.hpp" ] &&
    command -v python3 >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$PIP_DIR" \
        nvidia-cutlass==4.2.0.0 >&2 || echo "deps: nvidia-cutlass not installed (CuTe tests skip)" >&2
fi

# PyPI: nvdisasm (the CUDA toolkit's disassembler, 6 MB), which the tests and
# `tessera-bench ptxas` use to count SASS instructions (HGMMA, HMMA, LDSM...).
if [ ! -x "$PIP_DIR/nvidia/cu13/bin/nvdisasm" ] && command -v python3 >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$PIP_DIR" \
        nvidia-cuda-nvdisasm==13.5.37 >&2 || echo "deps: nvidia-cuda-nvdisasm not installed (SASS counts skip)" >&2
fi
