#!/bin/bash
# DT_NEEDED ld-linux-x86-64.so.2 matches the interpreter by SONAME (ldso-spec.md §1.2
# "Interpreter", §6, §8 case 24). prog is -nostdlib (no libc), so only libA's request brings the
# interpreter into the trace. A decoy L/ld-linux-x86-64.so.2 sits in the search path.
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/L/libA.so"
needs "$OUT/L/libA.so" ld-linux-x86-64.so.2
lib "$OUT/L/ld-linux-x86-64.so.2"
SRC=$CASE/start.c exe "$OUT/bin/prog" -nostdlib
needs "$OUT/bin/prog" libA.so
rpath "$OUT/bin/prog" "$OUT/L"
