#!/bin/bash
# A candidate of the other ELF class is skipped (ldso-spec.md §4 row 3, §8 case 25).
# prog RPATH=A:B; A/libx.so is ELFCLASS32 (gcc -m32 -nostdlib, no multilib needed), B/libx.so
# is good; liby.so exists only as a 32-bit file in A.
. "$(dirname "$0")/../common.sh" "$@"
lib32 "$OUT/A/libx.so"
lib "$OUT/B/libx.so"
lib32 "$OUT/A/liby.so"
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libx.so liby.so
rpath "$OUT/bin/prog" "$OUT/A:$OUT/B"
