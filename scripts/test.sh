#!/bin/sh
# Everything CI checks: installs dependencies, builds, runs every test.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
# The Python package's tests (tests/test_python.c) need NumPy and ml_dtypes
# (bfloat16 arrays), from PyPI, in a virtual environment in build/py; the
# package is installed there with pip as a user would (the tests themselves
# import the working tree's copy).
if ! build/py/bin/python -c 'import numpy, ml_dtypes' 2>/dev/null; then
    python3 -m venv build/py
    build/py/bin/python -m pip install -q numpy ml_dtypes
fi
build/py/bin/pip install -q ./python
JOBS=$(nproc 2>/dev/null || echo 2)
make -j"$JOBS" test
# Code generation must work with LLVM 19 and with LLVM 22, whose NVPTX
# conventions differ (kernel marking, intrinsic names): the suite again.
make -j"$JOBS" LLVM_CONFIG=llvm-config-22 BUILD=build-llvm22 test
