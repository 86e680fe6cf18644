#!/bin/sh
# Runs on the GPU machine, in the bundle tests/emu/hwprep.sh made: records
# the outputs of every case on the GPU into out/ (with the PTX and the case
# list, laid out as tests/emu/hw/ is). Rebuilds the recorder when a C
# compiler is there, else uses the one built with the bundle.
set -u
cd "$(dirname "$0")"
BIN=./hwrecord
if command -v cc >/dev/null 2>&1 && cc -std=c11 -O2 -o hwrecord.local hwrecord.c -ldl -lm; then
    BIN=./hwrecord.local
fi
rm -rf out
mkdir -p out/ptx
cp ptx/*.ptx out/ptx/
cp cases.txt out/
"$BIN" cases.txt ptx out
rc=$?
(nvidia-smi -L || true) > out/device.txt 2>&1
echo "hwrun: outputs in $(pwd)/out; copy them into the repository: cp -r out/. tests/emu/hw/"
exit $rc
