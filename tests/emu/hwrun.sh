#!/bin/sh
# Runs on the GPU machine, in the bundle tests/emu/hwprep.sh made: records
# the outputs of every case on the GPU into out/ (with the PTX and the case
# list, laid out as tests/emu/hw/ is). The recorder: hwrecord.c rebuilt here
# when a C compiler is there, else the binary built with the bundle, else
# hwrecord.py (Python's standard library only).
set -u
cd "$(dirname "$0")"
rm -rf out
mkdir -p out/ptx
cp ptx/*.ptx out/ptx/
cp cases.txt out/
if command -v cc >/dev/null 2>&1 && cc -std=c11 -O2 -o hwrecord.local hwrecord.c -ldl -lm; then
    REC=./hwrecord.local
else
    REC=./hwrecord
fi
"$REC" >/dev/null 2>&1
if [ $? -ne 2 ]; then # it did not even start: use Python
    echo "hwrun: $REC does not run here; using hwrecord.py"
    REC="python3 hwrecord.py"
fi
$REC cases.txt ptx out
rc=$?
(nvidia-smi -L || true) > out/device.txt 2>&1
echo "hwrun: outputs in $(pwd)/out; copy them into the repository: cp -r out/. tests/emu/hw/"
exit $rc
