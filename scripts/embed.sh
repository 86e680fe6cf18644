#!/bin/sh
# Writes a C file defining `const char NAME[]` with the contents of FILE, so
# that the library carries the file (kernels/attention.tsr) and needs no file
# at run time. Usage: embed.sh FILE NAME > out.c. The output depends only on
# the input (reproducible builds).
set -eu
file=$1
name=$2
printf '/* Generated from %s by scripts/embed.sh; do not edit. */\n' "$file"
printf 'const char %s[] =\n' "$name"
# Escape backslashes, quotes and '?' (no trigraphs), one string per line.
sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/?/\\?/g' -e 's/^/    "/' -e 's/$/\\n"/' "$file"
printf '    "";\n'
